from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The synthetic demo clinic (`make demo`): writes it with the product's own services; no models."""

    name = "monitor_site.demo"
    verbose_name = "Demo clinic"
    label = "demo"
