"""Thin Celery tasks for training, on the "gpu" queue."""

from __future__ import annotations

import logging

from celery import shared_task

from monitor_site.modelops.services import (
    TrainingAlreadyRunning,
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
