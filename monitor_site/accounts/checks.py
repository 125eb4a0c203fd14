"""Deploy checks (`manage.py check --deploy`): what the throttles and rate limits rely on, and the
second factor of the people who run the admin."""

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


@checks.register(checks.Tags.security, deploy=True)
def staff_two_factor_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Staff read every team's patients in the admin and superusers promote models: a password alone
    must not be enough for them in production."""
    if not (settings.TWO_FACTOR_REQUIRED or settings.TWO_FACTOR_REQUIRED_FOR_STAFF):
        return [
            checks.Error(
                "Staff and superusers can reach the admin with a password only.",
                hint="Set TWO_FACTOR_REQUIRED_FOR_STAFF=1 (or TWO_FACTOR_REQUIRED=1 for everyone).",
                id="accounts.E001",
            )
        ]
    return []
