from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "monitor_site.predictions"
    label = "predictions"
