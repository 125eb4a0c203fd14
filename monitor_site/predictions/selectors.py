"""Reads for predictions: a patient's trajectory (every model version's points, oldest first)."""

from __future__ import annotations

from django.db.models import QuerySet

from monitor_site.patients.models import Assessment, Patient
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
