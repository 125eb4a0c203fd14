"""Scoring sessions: build each session's 14-day window, run the active model, store Predictions;
keep each patient's TrajectorySummary current; record clinicians' feedback on a score."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone

from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.modelops.models import ModelVersion
from monitor_site.modelops.selectors import ensemble_for, model_version_active, pseudo_label_tokens_today
from monitor_site.modelops.services import LLM_SCORING_SOURCE, llm_rater, llm_rater_paused, llm_scoring_in_use
from monitor_site.patients.models import ConversationSession
from monitor_site.patients.selectors import windows_for
from monitor_site.predictions.models import Prediction, PredictionFeedback, TrajectorySummary
from monitor_site.predictions.signals import predictions_stored
from scoring.ensemble import WindowScore
from scoring.phq9 import ITEM_SELF_HARM
from scoring.types import Window
from training.labelling.claude import LabelRequest

log = logging.getLogger(__name__)
EVIDENCE_PER_ITEM = 3


def _evidence(score: WindowScore) -> list[list[dict]]:
    """Per item, the chunks with the largest attention weight: session id, turn indices, weight."""
    per_item = []
    for item in range(len(score.items)):
        ranked = sorted(score.evidence, key=lambda e: e.weights[item], reverse=True)[:EVIDENCE_PER_ITEM]
        per_item.append(
            [
                {"session": e.conversation_id, "turns": list(e.turn_indices), "weight": e.weights[item]}
                for e in ranked
                if e.weights[item] > 0  # an LLM rating's turns that did not inform this item
            ]
        )
    return per_item


def _prediction(
    session: ConversationSession,
    window: Window,
    score: WindowScore,
    model_version: ModelVersion,
    **extra: Any,
) -> Prediction:
    """The row of one scored window (a trained model's, or with `extra` method and validated_here, an
    LLM rating's)."""
    return Prediction(
        patient_id=session.patient_id,
        session_id=session.pk,
        model_version=model_version,
        window_start=_dated(window.start, window),
        window_end=_dated(window.end, window),
        total=score.total,
        items=list(score.items),
        interval_low=score.interval[0],
        interval_high=score.interval[1],
        band=score.band,
        n_sessions=len(window.conversations),
        n_user_turns=window.n_user_turns,
        n_tokens=score.n_tokens,
        n_turns_left_out=score.n_turns_left_out,
        evidence=_evidence(score),
        **extra,
    )


def predictions_score_sessions(*, session_ids: list[int], model_version: ModelVersion | None = None) -> int:
    """Score these sessions with `model_version` (default: the active one). Returns rows created.

    Idempotent: sessions this version already scored are skipped, and the unique constraint on
    (session, model version) makes a concurrent replay a no-op rather than a duplicate.
    """
    model_version = model_version or model_version_active()
    if model_version is None:
        log.warning(
            "no active model: %d session(s) kept unscored; they are scored when a model is promoted "
            "(manage.py train_model --promote) or by manage.py score_pending",
            len(session_ids),
        )
        return 0
    sessions = list(
        ConversationSession.objects.filter(pk__in=session_ids)
        .exclude(predictions__model_version=model_version)
        .only("pk", "patient_id", "ended_at")
        .order_by("patient_id", "ended_at")
    )
    if not sessions:
        return 0
    windows = windows_for([(s.patient_id, s.ended_at, str(s.pk)) for s in sessions])
    ensemble = ensemble_for(model_version)
    scores = ensemble.predict(windows, batch_tokens=settings.SCORING_BATCH_TOKENS)
    rows = [
        _prediction(s, w, score, model_version) for s, w, score in zip(sessions, windows, scores, strict=True)
    ]
    created = Prediction.objects.bulk_create(rows, ignore_conflicts=True)
    log.info("scored %d session(s) with model %s", len(created), model_version.version)
    patient_ids = sorted({s.patient_id for s in sessions})
    trajectory_summaries_refresh(patient_ids=patient_ids)
    predictions_stored.send(sender=Prediction, patient_ids=patient_ids)
    return len(rows)


# model version id -> the highest session id this process has claimed for it (see below)
_claimed_up_to: dict[int, int] = {}


def predictions_score_session_and_next(*, session_id: int, limit: int | None = None) -> int:
    """Score this session and, in the same batch, the unscored sessions ingested after it (up to
    `limit`, default SCORING_BATCH_WINDOWS). Returns rows created. What the per-session task runs.

    One batch per task instead of one window: a backlog drains at the model's batched speed. The
    batch's sessions are claimed with FOR NO KEY UPDATE SKIP LOCKED until the predictions are
    committed, so workers never score the same session twice at once; a worker killed mid-batch
    releases its claim (its connection dies, the transaction rolls back) and the redelivered task
    takes the batch again. Claiming forwards keeps the query on the primary key.

    When an earlier batch already took this task's session, the claim starts after the last session
    this process claimed rather than at the task's own: scanning forwards from every leftover task
    over the rows already scored would cost quadratic time in the backlog, and stopping at once
    would leave those tasks idle (a backlog drained ~20% slower). A session the skip misses (one
    another worker held, or one committed late with a lower id) is scored by its own task or by the
    sweeper, score_pending.
    """
    model_version = model_version_active()
    if model_version is None:
        return predictions_score_sessions(session_ids=[session_id])  # logs what to do
    start = session_id
    if Prediction.objects.filter(session_id=session_id, model_version=model_version).exists():
        start = max(session_id, _claimed_up_to.get(model_version.pk, 0) + 1)
    scored = Prediction.objects.filter(session=OuterRef("pk"), model_version=model_version)
    with transaction.atomic():
        claimed = list(
            ConversationSession.objects.filter(pk__gte=start)
            .filter(~Exists(scored))
            .order_by("pk")
            .select_for_update(skip_locked=True, no_key=True)
            .values_list("pk", flat=True)[: limit or settings.SCORING_BATCH_WINDOWS]
        )
        if not claimed:
            return 0
        done = predictions_score_sessions(session_ids=claimed, model_version=model_version)
    _claimed_up_to[model_version.pk] = max(claimed[-1], _claimed_up_to.get(model_version.pk, 0))
    return done


def sessions_pending(*, model_version: ModelVersion) -> list[int]:
    """Sessions this version has not scored: every session never scored at all, and the recent ones
    (SCORING_RESCORE_DAYS) that an older version scored. Older history keeps its older version's
    scores; nothing is silently rewritten."""
    by_version = Prediction.objects.filter(session=OuterRef("pk"), model_version=model_version)
    by_any = Prediction.objects.filter(session=OuterRef("pk"))
    recent = timezone.now() - timedelta(days=settings.SCORING_RESCORE_DAYS)
    return list(
        ConversationSession.objects.filter(~Exists(by_version))
        .filter(Q(ended_at__gte=recent) | ~Exists(by_any))
        .order_by("ended_at")
        .values_list("pk", flat=True)
    )


def _dated(moment: datetime | None, window: Window) -> datetime:
    """A bound of a window built by windows_for, which always dates both."""
    if moment is None:
        raise ValueError(f"window {window.id} has no start or end")
    return moment


def predictions_score_pending(
    *, batch_size: int | None = None, on_batch: Callable[[int, int], None] | None = None
) -> int:
    """Score every session the active model has not scored yet, in batches. Returns sessions scored."""
    model_version = model_version_active()
    if model_version is None:
        log.warning(
            "no active model: nothing scored; train and promote one (manage.py train_model --promote)"
        )
        return 0
    pending = sessions_pending(model_version=model_version)
    size = batch_size or settings.SCORING_BATCH_WINDOWS
    done = 0
    for start in range(0, len(pending), size):
        done += predictions_score_sessions(
            session_ids=pending[start : start + size], model_version=model_version
        )
        if on_batch:
            on_batch(min(start + size, len(pending)), len(pending))
    return done


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
        model_version_active() is None
        and _llm_scorable(ConversationSession.objects.filter(pk=session_id)).exists()
    )


def predictions_rate_sessions(*, session_ids: list[int]) -> int:
    """Rate these sessions with the LLM rater where cold-start scoring applies to them. Returns rows
    created. Idempotent like predictions_score_sessions (one prediction per session and rater version);
    a window that could not be rated (budget reached, failed call, too little to go on) stays unscored
    and rate_pending tries again (a label already bought is never paid for twice)."""
    if model_version_active() is not None:
        return 0  # a trained model scores everything now
    candidates = _llm_scorable(ConversationSession.objects.filter(pk__in=session_ids))
    if not candidates.exists():
        return 0
    spent = pseudo_label_tokens_today(source=LLM_SCORING_SOURCE)
    rater = llm_rater(source=LLM_SCORING_SOURCE, token_budget=settings.LLM_SCORING_DAILY_TOKEN_BUDGET - spent)
    if rater is None:
        log.warning(
            "cold-start LLM scoring is on for a care team, but ANTHROPIC_API_KEY is not set: nothing rated"
        )
        return 0
    row, llm = rater
    paused = llm_rater_paused(row)
    if paused:
        log.warning("LLM rater %s: %s", row.version, paused)
        return 0
    sessions = list(
        candidates.exclude(predictions__model_version=row)
        .select_related("patient")
        .only("pk", "patient_id", "ended_at", "patient__external_id")
        .order_by("patient_id", "ended_at")
    )
    if not sessions:
        return 0
    windows = windows_for([(s.patient_id, s.ended_at, str(s.pk)) for s in sessions])
    ratings = llm.rate(
        [LabelRequest(w, True, (s.patient.external_id,)) for s, w in zip(sessions, windows, strict=True)]
    )
    rows = [
        _prediction(s, w, r.score, row, method=Prediction.Method.LLM, validated_here=r.validated)
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
        return 0
    Prediction.objects.bulk_create(rows, ignore_conflicts=True)
    log.info(
        "rated %d session(s) with the LLM rater %s (%d tokens bought)",
        len(rows),
        row.version,
        llm.report.input_tokens + llm.report.output_tokens,
    )
    patient_ids = sorted({p.patient_id for p in rows})
    trajectory_summaries_refresh(patient_ids=patient_ids)
    predictions_stored.send(sender=Prediction, patient_ids=patient_ids)
    return len(rows)


def predictions_rate_pending(*, batch_size: int | None = None) -> int:
    """Rate every session of the last LLM_SCORING_HISTORY_DAYS that cold-start scoring applies to and the
    current rater has not rated. Returns rows created (0 while a trained model is active)."""
    if model_version_active() is not None or not llm_scoring_in_use():
        return 0
    since = timezone.now() - timedelta(days=settings.LLM_SCORING_HISTORY_DAYS)
    pending = list(
        _llm_scorable(ConversationSession.objects.filter(ended_at__gte=since))
        .filter(~Exists(Prediction.objects.filter(session=OuterRef("pk"), method=Prediction.Method.LLM)))
        .order_by("ended_at")
        .values_list("pk", flat=True)
    )
    size = batch_size or settings.SCORING_BATCH_WINDOWS
    return sum(
        predictions_rate_sessions(session_ids=pending[start : start + size])
        for start in range(0, len(pending), size)
    )


def prediction_feedback_record(
    *, prediction: Prediction, clinician: User, verdict: str, comment: str = ""
) -> PredictionFeedback:
    """A clinician's agree/disagree on a prediction (one per clinician, the latest wins), audited.
    The next training run reads it (modelops.services)."""
    if verdict not in PredictionFeedback.Verdict.values:
        raise ValueError(f"verdict: must be one of {', '.join(PredictionFeedback.Verdict.values)}")
    feedback, _ = PredictionFeedback.objects.update_or_create(
        prediction=prediction,
        clinician=clinician,
        defaults={"verdict": verdict, "comment": comment.strip()[:500]},
    )
    audit_record(
        actor=clinician,
        action=AuditEvent.Action.PREDICTION_FEEDBACK,
        obj=prediction,
        patient_id=prediction.patient_id,
        detail={"verdict": verdict},
    )
    return feedback


# Keeps each patient's TrajectorySummary current (the triage list reads only that table).
#
# Baseline: the mean model-inferred total over the first 14 days of monitoring (one noisy window is a
# poor baseline). Trend: weekly means over the last 4 weeks before the latest prediction.

BASELINE_DAYS = 14
TREND_WEEKS = 4


def _totals_between(patient_id: int, start: datetime, end: datetime) -> list[float]:
    rows = Prediction.objects.filter(patient_id=patient_id, window_end__gte=start, window_end__lte=end)
    return list(rows.values_list("total", flat=True))


def trajectory_summaries_refresh(*, patient_ids: Iterable[int]) -> int:
    """Recompute the summaries of these patients from their predictions. Returns summaries written."""
    ids = sorted(set(patient_ids))
    if not ids:
        return 0
    firsts = dict(
        Prediction.objects.filter(patient_id__in=ids)
        .values("patient_id")
        .annotate(first=Min("window_end"))
        .values_list("patient_id", "first")
    )
    fixed = dict(
        TrajectorySummary.objects.filter(pk__in=ids, baseline_from__isnull=False).values_list(
            "patient_id", "baseline_from"
        )
    )
    written = 0
    for patient_id in ids:
        if firsts.get(patient_id) is None:
            TrajectorySummary.objects.filter(pk=patient_id).delete()
            continue
        # The baseline period, once set, stays: a session back-dated within the allowed limit
        # (SESSION_BACKDATE_LIMIT_DAYS) shows on the chart but does not move the baseline.
        first = fixed.get(patient_id, firsts[patient_id])
        latest = (
            Prediction.objects.filter(patient_id=patient_id)
            .order_by("-window_end", "-model_version__created_at", "-pk")
            .first()
        )
        assert latest is not None
        baseline_rows = _totals_between(patient_id, first, first + timedelta(days=BASELINE_DAYS))
        if not baseline_rows:  # the fixed period's predictions are gone (erased): start afresh
            first = firsts[patient_id]
            baseline_rows = _totals_between(patient_id, first, first + timedelta(days=BASELINE_DAYS))
        since = latest.window_end - timedelta(weeks=TREND_WEEKS)
        recent = list(
            Prediction.objects.filter(patient_id=patient_id, window_end__gt=since)
            .order_by("window_end")
            .values_list("window_end", "total")
        )
        weeks: dict[int, list[float]] = defaultdict(list)
        for at, total in recent:
            weeks[min((at - since) // timedelta(weeks=1), TREND_WEEKS - 1)].append(total)
        trend = [round(sum(v) / len(v), 2) for _, v in sorted(weeks.items())]
        baseline = sum(baseline_rows) / len(baseline_rows)
        TrajectorySummary.objects.update_or_create(
            patient_id=patient_id,
            defaults={
                "latest_prediction": latest,
                "latest_total": latest.total,
                "latest_band": latest.band,
                "latest_self_harm": float(latest.items[ITEM_SELF_HARM]),
                "latest_at": latest.window_end,
                "baseline_total": round(baseline, 2),
                "baseline_from": first,
                "change_since_baseline": round(latest.total - baseline, 2),
                "trend": trend,
                # The change the sparkline draws: last weekly mean minus the first (None under two weeks).
                "change_4_weeks": round(trend[-1] - trend[0], 2) if len(trend) > 1 else None,
            },
        )
        written += 1
    return written
