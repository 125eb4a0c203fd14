from django.apps import AppConfig


class ModelopsConfig(AppConfig):
    name = "monitor_site.modelops"
    verbose_name = "Models and training"
    label = "modelops"

    def ready(self) -> None:
        from monitor_site.modelops import receivers  # noqa: F401  (connects the signal receivers)
