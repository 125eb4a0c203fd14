from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "monitor_site.dashboards"
    label = "dashboards"
