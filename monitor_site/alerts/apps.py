from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "monitor_site.alerts"
    verbose_name = "Alerts"
    label = "alerts"
