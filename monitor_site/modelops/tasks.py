"""Thin Celery tasks for training, on the "gpu" queue."""

from __future__ import annotations

import logging

from celery import shared_task

from monitor_site.modelops.services import (
    TrainingAlreadyRunning,
    label_batches_poll,
    llm_rater_validate,
    training_run_execute,
    training_run_request,
)

log = logging.getLogger(__name__)


@shared_task(acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def run_training(run_id: int) -> str:
    return training_run_execute(run_id=run_id).status


@shared_task(acks_late=True)
def scheduled_training() -> int | None:
    try:
        return training_run_request(trigger="schedule").pk
    except TrainingAlreadyRunning as exc:
        log.info("scheduled training skipped: %s", exc)
        return None


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def poll_label_batches() -> int:
    """Routed to the default queue (settings.CELERY_TASK_ROUTES): polling never holds the gpu worker."""
    return label_batches_poll()


@shared_task(acks_late=True, soft_time_limit=3300, time_limit=3600)
def validate_llm_rater() -> str | None:
    """Routed to the default queue: the cold-start rater against the questionnaires (network calls)."""
    row = llm_rater_validate()
    return row.version if row else None
