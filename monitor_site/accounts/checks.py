"""Deploy checks (`manage.py check --deploy`) for what the throttles and rate limits rely on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

IN_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@checks.register(checks.Tags.security, deploy=True)
def shared_cache_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Log-in throttles and ingestion rate limits count in the cache: kept in each web process, every
    process counts alone (N gunicorn workers allow N times the limit, and a restart forgets)."""
    if settings.CACHES["default"]["BACKEND"] in IN_PROCESS_CACHES:
        return [
            checks.Warning(
                "The cache is kept inside each web process: log-in throttles and ingestion rate limits "
                "are counted per process.",
                hint="Set CACHE_URL to a shared cache, e.g. redis://redis.internal:6379/2.",
                id="accounts.W001",
            )
        ]
    return []
