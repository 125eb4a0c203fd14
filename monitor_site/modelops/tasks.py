"""Thin Celery tasks for training, on the "gpu" queue (polling and the rater's validation on the
default queue: settings.CELERY_TASK_ROUTES); and training_run_enqueue, which every edge that requests a
run calls (the admin's "Retrain now", the schedule, a labelling batch that has ended)."""

from __future__ import annotations

import logging
import threading
from fnmatch import fnmatchcase

from celery import shared_task
from django.conf import settings
from django.db import connections, transaction

from monitor_site.modelops.models import TrainingRun
from monitor_site.modelops.services.cold_start import llm_rater_validate
from monitor_site.modelops.services.training_runs import (
    TrainingAlreadyRunning,
    label_batches_poll,
    training_run_execute,
    training_run_request,
)

log = logging.getLogger(__name__)


@shared_task(acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def run_training(run_id: int) -> str:
    """Train; a promotion at the end enqueues re-scoring (model_version_promote)."""
    return training_run_execute(run_id=run_id).status


@shared_task(acks_late=True)
def scheduled_training() -> int | None:
    try:
        run = training_run_request(trigger="schedule")
    except TrainingAlreadyRunning as exc:
        log.info("scheduled training skipped: %s", exc)
        return None
    training_run_enqueue(run)
    return run.pk


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def poll_label_batches() -> int:
    """Routed to the default queue (settings.CELERY_TASK_ROUTES): polling never holds the gpu worker."""
    runs = label_batches_poll()
    for run in runs:
        training_run_enqueue(run)
    return len(runs)


@shared_task(acks_late=True, soft_time_limit=3300, time_limit=3600)
def validate_llm_rater() -> str | None:
    """Routed to the default queue: the cold-start rater against the questionnaires (network calls)."""
    row = llm_rater_validate()
    return row.version if row else None


def training_run_enqueue(run: TrainingRun) -> str:
    """Start a queued run once it is committed: on the gpu queue, or in the demo (no worker) in a
    background thread of the web process, so the request that asked for it answers at once. Returns
    where it runs, in words (the admin says so)."""
    if settings.TRAINING_IN_BACKGROUND_THREAD:
        run_id = run.pk
        transaction.on_commit(lambda: training_thread_start(run_id))
        return "started in a background thread of this web server (the demo has no worker)"
    if settings.CELERY_TASK_ALWAYS_EAGER:
        run_training.delay_on_commit(run.pk)
        return "run in this request (tasks run eagerly here)"
    run_training.delay_on_commit(run.pk)
    queue = queue_of(run_training.name)
    return f'queued for a worker of the "{queue}" queue (a worker started with -Q {queue} runs it)'


def queue_of(task_name: str) -> str:
    """The queue settings.CELERY_TASK_ROUTES sends `task_name` to (first matching pattern, as Celery)."""
    for pattern, route in settings.CELERY_TASK_ROUTES.items():
        if fnmatchcase(task_name, pattern):
            return str(route["queue"])
    return str(getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery"))


def training_thread_start(run_id: int) -> threading.Thread:
    def work() -> None:
        try:
            run_training.apply(args=[run_id])  # the task records failure on the run itself
        except Exception:  # noqa: BLE001 - a thread must not die silently
            log.exception("training run %s failed in its background thread", run_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name=f"training-run-{run_id}", daemon=True)
    thread.start()
    return thread
