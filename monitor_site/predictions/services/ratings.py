"""Cold start, the scoring side: sessions rated by the LLM rater while no trained model is active.
The rater itself (its registry row, validation, pause, first-model gate) is
monitor_site/modelops/services/cold_start.py."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from monitor_site.modelops.selectors import (
    model_version_active,
    model_version_any_active,
    pseudo_label_tokens_today,
)
from monitor_site.modelops.services.cold_start import (
    LLM_SCORING_SOURCE,
    llm_rater,
    llm_rater_paused,
    llm_scoring_in_use,
)
from monitor_site.patients.models import ConversationSession
from monitor_site.patients.selectors import windows_for
from monitor_site.predictions.models import Prediction
from monitor_site.predictions.services.rows import Scored, prediction_row
from monitor_site.predictions.services.summaries import trajectory_summaries_refresh
from training.labelling.prompt import LabelRequest

log = logging.getLogger(__name__)


# Cold start (CareTeam.llm_scoring, off by default): while no trained model is active, the sessions of
# consented patients in teams that chose it are rated by the Claude labeller
# (training/labelling/rater.py). The ratings are Predictions like any other (method "llm", the rater's
# registry row as their model version), so the chart, the list and the same alert rules (item 9
# included) use them; every page labels them.
# Network calls: these run on the default queue, never on the gpu worker.


def _llm_scorable(sessions: Any) -> Any:
    """Sessions of consented patients in care teams that chose cold-start LLM scoring."""
    return sessions.filter(patient__consent_external_processing=True, patient__care_team__llm_scoring=True)


def llm_scoring_applies(*, session_id: int) -> bool:
    """Whether this session would be LLM-rated now: no trained model active, and its patient consented
    in a team that chose cold-start LLM scoring."""
    return (
        not model_version_any_active()  # asked for every session ingested: the cheap query first
        and _llm_scorable(ConversationSession.objects.filter(pk=session_id)).exists()
    )


def predictions_rate_sessions(*, session_ids: list[int]) -> Scored:
    """Rate these sessions with the LLM rater where cold-start scoring applies to them: rows created,
    patients. Idempotent like predictions_score_sessions (one prediction per session and rater version);
    a window that could not be rated (budget reached, failed call, too little to go on) stays unscored
    and rate_pending tries again (a label already bought is never paid for twice)."""
    if model_version_active() is not None:
        return Scored()  # a trained model scores everything now
    candidates = _llm_scorable(ConversationSession.objects.filter(pk__in=session_ids))
    if not candidates.exists():
        return Scored()
    spent = pseudo_label_tokens_today(source=LLM_SCORING_SOURCE)
    rater = llm_rater(source=LLM_SCORING_SOURCE, token_budget=settings.LLM_SCORING_DAILY_TOKEN_BUDGET - spent)
    if rater is None:
        log.warning(
            "cold-start LLM scoring is on for a care team, but ANTHROPIC_API_KEY is not set: nothing rated"
        )
        return Scored()
    row, llm = rater
    paused = llm_rater_paused(row)
    if paused:
        log.warning("LLM rater %s: %s", row.version, paused)
        return Scored()
    sessions = list(
        candidates.exclude(predictions__model_version=row)
        .select_related("patient")
        .only("pk", "patient_id", "ended_at", "patient__external_id")
        .order_by("patient_id", "ended_at")
    )
    if not sessions:
        return Scored()
    windows = windows_for([(s.patient_id, s.ended_at, str(s.pk)) for s in sessions])
    ratings = llm.rate(
        [LabelRequest(w, True, (s.patient.external_id,)) for s, w in zip(sessions, windows, strict=True)]
    )
    rows = [
        prediction_row(s, w, r.score, row, method=Prediction.Method.LLM, validated_here=r.validated)
        for s, w, r in zip(sessions, windows, ratings, strict=True)
        if r.score is not None
    ]
    not_rated = Counter(r.why_not for r in ratings if r.score is None)
    if not_rated:
        log.warning(
            "LLM rater %s left %d session(s) unscored: %s",
            row.version,
            sum(not_rated.values()),
            dict(not_rated),
        )
    if not rows:
        return Scored()
    Prediction.objects.bulk_create(rows, ignore_conflicts=True)
    log.info(
        "rated %d session(s) with the LLM rater %s (%d tokens bought)",
        len(rows),
        row.version,
        llm.report.input_tokens + llm.report.output_tokens,
    )
    patient_ids = sorted({p.patient_id for p in rows})
    trajectory_summaries_refresh(patient_ids=patient_ids)
    return Scored(len(rows), tuple(patient_ids))


def predictions_rate_pending(*, batch_size: int | None = None) -> Scored:
    """Rate every session of the last LLM_SCORING_HISTORY_DAYS that cold-start scoring applies to and the
    current rater has not rated (nothing while a trained model is active)."""
    if model_version_active() is not None or not llm_scoring_in_use():
        return Scored()
    since = timezone.now() - timedelta(days=settings.LLM_SCORING_HISTORY_DAYS)
    pending = list(
        _llm_scorable(ConversationSession.objects.filter(ended_at__gte=since))
        .filter(~Exists(Prediction.objects.filter(session=OuterRef("pk"), method=Prediction.Method.LLM)))
        .order_by("ended_at")
        .values_list("pk", flat=True)
    )
    size = batch_size or settings.SCORING_BATCH_WINDOWS
    return sum(
        (
            predictions_rate_sessions(session_ids=pending[start : start + size])
            for start in range(0, len(pending), size)
        ),
        Scored(),
    )
