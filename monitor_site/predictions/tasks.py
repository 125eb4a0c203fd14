"""Thin Celery tasks: ids in, a service call, nothing else. Scoring runs on the "gpu" queue; cold-start
LLM ratings (network calls) on the default queue (settings.CELERY_TASK_ROUTES)."""

from __future__ import annotations

from celery import shared_task

from monitor_site.predictions.services import (
    predictions_rate_pending,
    predictions_rate_sessions,
    predictions_score_pending,
    predictions_score_session_and_next,
)


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360, max_retries=3, default_retry_delay=30)
def score_session(session_id: int) -> int:
    return predictions_score_session_and_next(session_id=session_id)


@shared_task(acks_late=True, soft_time_limit=3300, time_limit=3600)
def score_pending() -> int:
    return predictions_score_pending()


@shared_task(acks_late=True, soft_time_limit=900, time_limit=960, max_retries=3, default_retry_delay=60)
def rate_session(session_id: int) -> int:
    return predictions_rate_sessions(session_ids=[session_id])


@shared_task(acks_late=True, soft_time_limit=3300, time_limit=3600)
def rate_pending() -> int:
    return predictions_rate_pending()
