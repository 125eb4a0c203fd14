"""The edges that enqueue scoring: a new session is scored (or, in a cold start, rated by the LLM rater),
and a promoted model scores what it has not scored yet."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from monitor_site.celery import enqueue_on_commit
from monitor_site.modelops.signals import model_version_promoted
from monitor_site.patients.signals import session_ingested
from monitor_site.predictions.services import llm_scoring_applies
from monitor_site.predictions.tasks import rate_pending, rate_session, score_pending, score_session


@receiver(session_ingested, dispatch_uid="predictions_score_ingested_session")
def enqueue_session_scoring(sender: Any, *, session_id: int, **kwargs: Any) -> None:
    if llm_scoring_applies(session_id=session_id):  # cold start: the LLM rater, on the default queue
        enqueue_on_commit(
            rate_session, session_id, fallback="rate_pending (every 15 minutes)", catch_up=rate_pending
        )
        return
    enqueue_on_commit(
        score_session, session_id, fallback="score_pending (every 10 minutes)", catch_up=score_pending
    )


@receiver(model_version_promoted, dispatch_uid="predictions_score_after_promotion")
def enqueue_pending_scoring(sender: Any, **kwargs: Any) -> None:
    score_pending.delay_on_commit()
