"""Reads for predictions: a patient's trajectory and each patient's latest score."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from monitor_site.patients.models import Assessment, ConversationSession, Patient
from monitor_site.predictions.models import Prediction


def prediction_list_for_patient(*, patient: Patient) -> QuerySet[Prediction]:
    """Every prediction of every model version, oldest first (history is never rewritten)."""
    return (
        Prediction.objects.filter(patient=patient)
        .select_related("model_version")
        .order_by("window_end", "model_version__created_at")
    )


def assessment_list_for_patient(*, patient: Patient) -> QuerySet[Assessment]:
    return Assessment.objects.filter(patient=patient).order_by("completed_at")


def patients_with_latest_prediction(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Annotates latest_total / latest_band / latest_items / latest_at / last_session_at in one query."""
    latest = Prediction.objects.filter(patient=OuterRef("pk")).order_by("-window_end", "-created_at")
    last_session = ConversationSession.objects.filter(patient=OuterRef("pk")).order_by("-ended_at")
    return patients.annotate(
        latest_total=Subquery(latest.values("total")[:1]),
        latest_band=Subquery(latest.values("band")[:1]),
        latest_items=Subquery(latest.values("items")[:1]),
        latest_at=Subquery(latest.values("window_end")[:1]),
        last_session_at=Subquery(last_session.values("ended_at")[:1]),
    )
