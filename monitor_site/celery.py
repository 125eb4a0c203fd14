"""The Celery app. Queues: "gpu" (scoring, training; one task at a time per GPU) and "default".

Follow-up work is enqueued explicitly where the writing happens, once its transaction commits
(`enqueue_on_commit`). A task of an app above the caller in the layer order (docs/architecture.md)
is named by its dotted path instead of imported, so the call site still says what runs next."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor_site.settings")

app = Celery("monitor_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
log = logging.getLogger(__name__)


def task_named(name: str) -> Any:
    """The registered task of this dotted name (every app's tasks module is imported on first use)."""
    if name not in app.tasks:
        app.loader.import_default_modules()  # runs autodiscover_tasks: every installed app's tasks.py
    return app.tasks[name]


def enqueue_on_commit(task: Any, *args: Any, fallback: str, catch_up: Any | None = None) -> None:
    """Queue `task` (a task, or its dotted name) once the current transaction commits; right away when
    no transaction is open. If the broker is down the error is logged,
    not raised: the data is already committed and `fallback` (a periodic sweeper) catches up, so an
    API request or a scoring run never fails because Redis restarts.

    In eager mode (the demo: tasks run inside the request, no worker, no beat) the task itself runs
    here; if it fails (SQLite busy under concurrent requests) the request must still answer for what
    it stored, so the error is logged and `catch_up` (a task, e.g. score_pending) runs a few seconds
    later in a background thread, standing in for the sweeper the demo does not have."""
    from django.db import transaction
    from kombu.exceptions import OperationalError

    if isinstance(task, str):
        task = task_named(task)
    if isinstance(catch_up, str):
        catch_up = task_named(catch_up)

    def send() -> None:
        try:
            task.delay(*args)
        except (OperationalError, OSError) as exc:
            log.warning(
                "could not enqueue %s%r (%s); %s will catch up", task.name, args, type(exc).__name__, fallback
            )
        except Exception as exc:
            if not app.conf.task_always_eager:
                raise
            log.warning(
                "eager %s%r failed (%s); catching up in the background", task.name, args, type(exc).__name__
            )
            if catch_up is not None:
                eager_catch_up_later(catch_up)

    transaction.on_commit(send)


_catch_up_pending = threading.Lock()


def eager_catch_up_later(task: Any) -> None:
    """Run `task` once, EAGER_CATCH_UP_SECONDS from now, in a daemon thread (one pending at a time)."""
    from django.conf import settings

    if not _catch_up_pending.acquire(blocking=False):
        return  # one is already pending: it will take this one's sessions too

    def run() -> None:
        from django.db import connection

        try:
            task.apply()  # eagerly, in this thread
        except Exception as exc:
            log.warning("eager catch-up %s failed (%s)", task.name, type(exc).__name__)
        finally:
            connection.close()
            _catch_up_pending.release()

    timer = threading.Timer(settings.EAGER_CATCH_UP_SECONDS, run)
    timer.daemon = True
    timer.start()
