from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "monitor_site.predictions"
    verbose_name = "Model-inferred scores"
    label = "predictions"

    def ready(self) -> None:
        from monitor_site.predictions import receivers  # noqa: F401  (connects the signal receivers)
