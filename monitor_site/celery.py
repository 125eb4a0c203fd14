"""The Celery app. Queues: "gpu" (scoring, training; one task at a time per GPU) and "default"."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor_site.settings")

app = Celery("monitor_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
log = logging.getLogger(__name__)


def enqueue_on_commit(task: Any, *args: Any, fallback: str) -> None:
    """Queue `task` once the current transaction commits. If the broker is down the error is logged,
    not raised: the data is already committed and `fallback` (a periodic sweeper) catches up, so an
    API request or a scoring run never fails because Redis restarts."""
    from django.db import transaction
    from kombu.exceptions import OperationalError

    def send() -> None:
        try:
            task.delay(*args)
        except (OperationalError, OSError) as exc:
            log.warning(
                "could not enqueue %s%r (%s); %s will catch up", task.name, args, type(exc).__name__, fallback
            )

    transaction.on_commit(send)
