from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "monitor_site.api"
    verbose_name = "API"
    label = "api"
