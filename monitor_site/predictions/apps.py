from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "monitor_site.predictions"
    verbose_name = "Model-inferred scores"
    label = "predictions"
