from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "monitor_site.alerts"
    verbose_name = "Alerts"
    label = "alerts"

    def ready(self) -> None:
        from monitor_site.alerts import receivers  # noqa: F401  (connects the signal receiver)
