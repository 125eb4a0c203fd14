from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "monitor_site.dashboards"
    verbose_name = "Clinician pages"
    label = "dashboards"
