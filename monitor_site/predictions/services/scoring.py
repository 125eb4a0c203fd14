"""Scoring sessions with the active model: build each session's 14-day window, run the model, store
Predictions, keep the patients' TrajectorySummary current. The tasks that call these evaluate the alert
rules next (predictions.tasks)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from monitor_site.modelops.models import ModelVersion
from monitor_site.modelops.selectors import ensemble_for, model_version_active
from monitor_site.patients.models import ConversationSession
from monitor_site.patients.selectors import windows_for
from monitor_site.predictions.models import Prediction, ScoringFailure
from monitor_site.predictions.services.rows import Scored, detect_self_harm, prediction_row, risk_fields
from monitor_site.predictions.services.summaries import BASELINE_DAYS, trajectory_summaries_refresh
from scoring.self_harm import DETECTOR_VERSION

log = logging.getLogger(__name__)


def predictions_score_sessions(
    *, session_ids: list[int], model_version: ModelVersion | None = None
) -> Scored:
    """Score these sessions with `model_version` (default: the active one): rows created, patients.

    Idempotent: sessions this version already scored are skipped, and the unique constraint on
    (session, model version) makes a concurrent replay a no-op rather than a duplicate.

    One bad session never stops the others: when the batch fails, each session is scored alone, and
    one that fails alone is marked (ScoringFailure, with the reason) and skipped by this version
    from then on. A database that is down is not a session's fault: that error goes up unmarked.
    """
    try:
        with transaction.atomic():  # a savepoint: a failed batch leaves the caller's transaction usable
            return _score_batch(session_ids=session_ids, model_version=model_version)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        if len(session_ids) > 1:
            log.warning(
                "a batch of %d session(s) failed (%s): scoring them one by one",
                len(session_ids),
                type(exc).__name__,
            )
            done = Scored()
            for session_id in session_ids:
                done += predictions_score_sessions(session_ids=[session_id], model_version=model_version)
            return done
        version = model_version or model_version_active()
        if version is None:
            raise
        reason = f"{type(exc).__name__}: {exc}"[:500]
        ScoringFailure.objects.get_or_create(
            session_id=session_ids[0], model_version=version, defaults={"reason": reason}
        )
        log.error(
            "session %s not scored by model %s: %s", session_ids[0], version.version, type(exc).__name__
        )
        return Scored()


def _score_batch(*, session_ids: list[int], model_version: ModelVersion | None) -> Scored:
    model_version = model_version or model_version_active()
    if model_version is None:
        log.warning(
            "no active model: %d session(s) kept unscored; they are scored when a model is promoted "
            "(manage.py train_model --promote) or by manage.py score_pending",
            len(session_ids),
        )
        return Scored()
    sessions = list(
        ConversationSession.objects.filter(pk__in=session_ids)
        .exclude(predictions__model_version=model_version)
        .filter(~Exists(_failed(model_version)))
        .only("pk", "patient_id", "ended_at")
        .order_by("patient_id", "ended_at")
    )
    if not sessions:
        return Scored()
    windows = windows_for([(s.patient_id, s.ended_at, str(s.pk)) for s in sessions])
    ensemble = ensemble_for(model_version)
    scores = ensemble.predict(windows, batch_tokens=settings.SCORING_BATCH_TOKENS)
    rows = [
        prediction_row(s, w, score, model_version)
        for s, w, score in zip(sessions, windows, scores, strict=True)
    ]
    created = Prediction.objects.bulk_create(rows, ignore_conflicts=True)
    log.info("scored %d session(s) with model %s", len(created), model_version.version)
    patient_ids = sorted({s.patient_id for s in sessions})
    trajectory_summaries_refresh(patient_ids=patient_ids)
    return Scored(len(rows), tuple(patient_ids))


def _failed(model_version: ModelVersion) -> Any:
    """The ScoringFailure of an outer session row for this version (an Exists() subquery)."""
    return ScoringFailure.objects.filter(session=OuterRef("pk"), model_version=model_version)


# model version id -> the highest session id this process has claimed for it (see below)
_claimed_up_to: dict[int, int] = {}


def predictions_score_session_and_next(*, session_id: int, limit: int | None = None) -> Scored:
    """Score this session and, in the same batch, the unscored sessions ingested after it (up to
    `limit`, default SCORING_BATCH_WINDOWS). What the per-session task runs; the claim is committed
    when this returns, so the task's alert evaluation never holds it.

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
    claimed_at = time.perf_counter()
    with transaction.atomic():
        claimed = list(
            ConversationSession.objects.filter(pk__gte=start)
            .filter(~Exists(scored), ~Exists(_failed(model_version)))
            .order_by("pk")
            .select_for_update(skip_locked=True, no_key=True)
            .values_list("pk", flat=True)[: limit or settings.SCORING_BATCH_WINDOWS]
        )
        if not claimed:
            return Scored()
        done = predictions_score_sessions(session_ids=claimed, model_version=model_version)
    # How long the claim held its row locks (manage.py loadtest reports these): the model and the rows'
    # INSERT only; alert evaluation follows in its own task.
    log.info("claim of %d session(s) held %.1f ms", len(claimed), (time.perf_counter() - claimed_at) * 1000)
    _claimed_up_to[model_version.pk] = max(claimed[-1], _claimed_up_to.get(model_version.pk, 0))
    return done


def sessions_pending(*, model_version: ModelVersion) -> list[int]:
    """Sessions this version has not scored: every session never scored at all, the recent ones
    (SCORING_RESCORE_DAYS) and those of each patient's baseline period (its first 14 days, so a change
    since baseline compares one version's scores) that an older version scored. Older history keeps its
    older version's scores; nothing is silently rewritten."""
    by_version = Prediction.objects.filter(session=OuterRef("pk"), model_version=model_version)
    by_any = Prediction.objects.filter(session=OuterRef("pk"))
    recent = timezone.now() - timedelta(days=settings.SCORING_RESCORE_DAYS)
    baseline_from = F("patient__summary__baseline_from")
    in_baseline = Q(ended_at__gte=baseline_from, ended_at__lte=baseline_from + timedelta(days=BASELINE_DAYS))
    return list(
        ConversationSession.objects.filter(~Exists(by_version), ~Exists(_failed(model_version)))
        .filter(Q(ended_at__gte=recent) | in_baseline | ~Exists(by_any))
        .order_by("ended_at")
        .values_list("pk", flat=True)
    )


def predictions_score_pending(
    *, batch_size: int | None = None, on_batch: Callable[[int, int], None] | None = None
) -> Scored:
    """Score every session the active model has not scored yet, in batches."""
    model_version = model_version_active()
    if model_version is None:
        log.warning(
            "no active model: nothing scored; train and promote one (manage.py train_model --promote)"
        )
        return Scored()
    pending = sessions_pending(model_version=model_version)
    size = batch_size or settings.SCORING_BATCH_WINDOWS
    done = Scored()
    for start in range(0, len(pending), size):
        done += predictions_score_sessions(
            session_ids=pending[start : start + size], model_version=model_version
        )
        if on_batch:
            on_batch(min(start + size, len(pending)), len(pending))
    return done


RISK_FIELDS = ["risk_language", "risk_score", "risk_evidence", "detector_version"]


def predictions_reflag_pending(*, batch_size: int | None = None) -> Scored:
    """Read again with the current self-harm detector the recent windows (SCORING_RESCORE_DAYS) that
    another detector version read, or none: a new detector re-flags recent history the way a promotion
    re-scores it. Only the detector's fields change; the model's scores stay. Returns rows updated."""
    since = timezone.now() - timedelta(days=settings.SCORING_RESCORE_DAYS)
    stale = list(
        Prediction.objects.filter(window_end__gte=since)
        .exclude(detector_version=DETECTOR_VERSION)
        .order_by("pk")
        .only("pk", "patient_id", "window_end")
    )
    size = batch_size or settings.SCORING_BATCH_WINDOWS
    done = Scored()
    for start in range(0, len(stale), size):
        batch = stale[start : start + size]
        windows = windows_for([(p.patient_id, p.window_end, str(p.pk)) for p in batch])
        for prediction, window in zip(batch, windows, strict=True):
            for name, value in risk_fields(detect_self_harm(window)).items():
                setattr(prediction, name, value)
        Prediction.objects.bulk_update(
            batch, ["risk_language", "risk_score", "risk_evidence", "detector_version"]
        )
        patient_ids = sorted({p.patient_id for p in batch})
        trajectory_summaries_refresh(patient_ids=patient_ids)
        done = done + Scored(len(batch), tuple(patient_ids))
    if done.rows:
        log.info("re-read %d recent window(s) with self-harm detector %s", done.rows, DETECTOR_VERSION)
    return done
