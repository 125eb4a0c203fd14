from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Measuring tools (load test, load set, page benchmarks) and their commands; no models."""

    name = "monitor_site.bench"
    verbose_name = "Benchmarks"
    label = "bench"

    def ready(self) -> None:
        from monitor_site.bench import checks  # noqa: F401  (registers the deploy check)
