"""Clinicians' agree/disagree on a prediction."""

from __future__ import annotations

from django.contrib.auth.models import User

from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.predictions.models import Prediction, PredictionFeedback


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
