"""Deploy check (`manage.py check --deploy`): the load test's bare POST is never mounted in production."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def bare_post_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """LOADTEST_BARE_POST mounts an endpoint that answers any valid ingest token and does nothing: a
    measuring floor for `manage.py loadtest`'s own gunicorn, not something a deployment should expose."""
    if settings.LOADTEST_BARE_POST:
        return [
            checks.Warning(
                "LOADTEST_BARE_POST is on: POST /api/v1/loadtest/bare-post is mounted (the load test's "
                "floor, which validates and stores nothing).",
                hint="Unset LOADTEST_BARE_POST (or set it to 0); only manage.py loadtest turns it on, "
                "for the gunicorn it starts.",
                id="bench.W001",
            )
        ]
    return []
