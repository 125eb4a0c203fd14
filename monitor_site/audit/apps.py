from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "monitor_site.audit"
    verbose_name = "Audit trail"
    label = "audit"
