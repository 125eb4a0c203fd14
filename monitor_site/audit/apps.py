from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "monitor_site.audit"
    label = "audit"
