from django.apps import AppConfig


class ModelopsConfig(AppConfig):
    name = "monitor_site.modelops"
    verbose_name = "Models and training"
    label = "modelops"
