"""Reads for predictions: a patient's trajectory (every model version's points, oldest first)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet

from monitor_site.patients.models import Assessment, Patient
from monitor_site.predictions.models import Prediction, PredictionFeedback


def prediction_list_for_patient(*, patient: Patient) -> QuerySet[Prediction]:
    """Every prediction of every model version, oldest first (history is never rewritten)."""
    return (
        Prediction.objects.filter(patient=patient)
        .select_related("model_version")
        # Not the manifest/metrics: select_related would decode them once per prediction (365 x 5 KB).
        .defer("model_version__manifest", "model_version__metrics")
        .order_by("window_end", "model_version__created_at")
    )


def prediction_current_list_for_patient(
    *, patient: Patient, active_version_id: int | None
) -> QuerySet[Prediction]:
    """One prediction per window (session), oldest first: the active version's, else the newest
    version's that scored it (a window older than the re-scoring horizon). The table of scores."""
    rows = prediction_list_for_patient(patient=patient)
    newer = Prediction.objects.filter(
        session=OuterRef("session"), model_version__created_at__gt=OuterRef("model_version__created_at")
    )
    if active_version_id is None:
        return rows.filter(~Exists(newer))
    by_active = Prediction.objects.filter(session=OuterRef("session"), model_version_id=active_version_id)
    return rows.filter(Q(model_version_id=active_version_id) | (~Exists(by_active) & ~Exists(newer)))


def prediction_intervals(*, prediction_ids: list[int]) -> dict[int, tuple[tuple[float, float] | None, bool]]:
    """prediction id -> (interval (None for an LLM rating not yet validated here), whether it is an LLM
    rating), in one query (the triage list's page of latest scores)."""
    rows = Prediction.objects.filter(pk__in=prediction_ids).values_list(
        "pk", "interval_low", "interval_high", "method", "validated_here"
    )
    return {
        pk: ((low, high) if validated else None, method == Prediction.Method.LLM)
        for pk, low, high, method, validated in rows
    }


def assessment_list_for_patient(*, patient: Patient) -> QuerySet[Assessment]:
    return Assessment.objects.filter(patient=patient).order_by("completed_at")


def reviewed_window_requests(*, since: datetime) -> list[tuple[int, datetime, bool, str]]:
    """(patient id, window end, consent, verdict) of predictions clinicians reviewed since `since`;
    one row per prediction, "disagree" if any reviewer disagreed. Windows that a questionnaire
    already labels (within 14 days of one) are left out: self-report wins over a review."""
    verdicts: dict[int, tuple[int, datetime, bool, str]] = {}
    rows = (
        PredictionFeedback.objects.filter(prediction__window_end__gte=since)
        .order_by("prediction_id")
        .values_list(
            "prediction_id",
            "prediction__patient_id",
            "prediction__window_end",
            "prediction__patient__consent_external_processing",
            "verdict",
        )
    )
    for prediction_id, patient_id, end, consent, verdict in rows:
        seen = verdicts.get(prediction_id)
        if seen is None or verdict == PredictionFeedback.Verdict.DISAGREE:
            verdicts[prediction_id] = (patient_id, end, consent, verdict)
    assessments: dict[int, list[datetime]] = {}
    patient_ids = {v[0] for v in verdicts.values()}
    for patient_id, completed_at in Assessment.objects.filter(patient_id__in=patient_ids).values_list(
        "patient_id", "completed_at"
    ):
        assessments.setdefault(patient_id, []).append(completed_at)
    return [
        row
        for row in verdicts.values()
        if not any(abs(row[1] - t) < timedelta(days=14) for t in assessments.get(row[0], ()))
    ]
