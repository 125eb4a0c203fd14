from django.apps import AppConfig


class ModelopsConfig(AppConfig):
    name = "monitor_site.modelops"
    label = "modelops"
