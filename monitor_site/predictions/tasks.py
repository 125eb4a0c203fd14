"""Thin Celery tasks: ids in, a service call, then the follow-up enqueued. Scoring runs on the "gpu"
queue; cold-start LLM ratings (network calls) on the default queue (settings.CELERY_TASK_ROUTES).

The flow of a session, read top to bottom: the ingest edge calls session_scoring_enqueue; score_session
scores it (the claim commits inside the service), then enqueues the alert rules on the patients whose
trajectory changed (alerts sit above predictions in the layer order, so their task is named, not
imported); evaluate_alerts then enqueues an e-mail per alert opened."""

from __future__ import annotations

from celery import shared_task

from monitor_site.celery import enqueue_on_commit
from monitor_site.predictions.services.ratings import (
    llm_scoring_applies,
    predictions_rate_pending,
    predictions_rate_sessions,
)
from monitor_site.predictions.services.rows import Scored
from monitor_site.predictions.services.scoring import (
    predictions_reflag_pending,
    predictions_score_pending,
    predictions_score_session_and_next,
)

EVALUATE_ALERTS = "monitor_site.alerts.tasks.evaluate_alerts"


def alerts_evaluation_enqueue(scored: Scored) -> int:
    """The alert rules on the patients these predictions changed, once they are committed."""
    if scored.patient_ids:
        enqueue_on_commit(
            EVALUATE_ALERTS, list(scored.patient_ids), fallback="alerts_housekeeping (every 5 minutes)"
        )
    return scored.rows


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360, max_retries=3, default_retry_delay=30)
def score_session(session_id: int) -> int:
    return alerts_evaluation_enqueue(predictions_score_session_and_next(session_id=session_id))


@shared_task(acks_late=True, soft_time_limit=3300, time_limit=3600)
def score_pending() -> int:
    """The sweeper (every 10 minutes, and after a promotion): sessions the active model has not scored,
    then recent windows a new self-harm detector version has not read."""
    return alerts_evaluation_enqueue(predictions_score_pending() + predictions_reflag_pending())


@shared_task(acks_late=True, soft_time_limit=900, time_limit=960, max_retries=3, default_retry_delay=60)
def rate_session(session_id: int) -> int:
    return alerts_evaluation_enqueue(predictions_rate_sessions(session_ids=[session_id]))


@shared_task(acks_late=True, soft_time_limit=3300, time_limit=3600)
def rate_pending() -> int:
    return alerts_evaluation_enqueue(predictions_rate_pending())


def session_scoring_enqueue(*, session_id: int) -> None:
    """What the ingest edge calls for a new session: scored once it is committed, or in a cold start
    (no trained model active, a consenting patient of a team that chose it) rated by the LLM rater."""
    if llm_scoring_applies(session_id=session_id):
        enqueue_on_commit(
            rate_session, session_id, fallback="rate_pending (every 15 minutes)", catch_up=rate_pending
        )
    else:
        enqueue_on_commit(
            score_session, session_id, fallback="score_pending (every 10 minutes)", catch_up=score_pending
        )
