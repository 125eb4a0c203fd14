"""Clinicians' agree/disagree on a prediction."""

from __future__ import annotations

from django.contrib.auth.models import User

from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.patients.text import clinician_text
from monitor_site.predictions.models import Prediction, PredictionFeedback

COMMENT_MAX_CHARS = 500  # PredictionFeedback.comment


def prediction_feedback_record(
    *, prediction: Prediction, clinician: User, verdict: str, comment: str = ""
) -> PredictionFeedback:
    """A clinician's agree/disagree on a prediction (one per clinician, the latest wins), audited.
    The next training run reads it (modelops.services)."""
    if verdict not in PredictionFeedback.Verdict.values:
        raise ValueError(f"verdict: must be one of {', '.join(PredictionFeedback.Verdict.values)}")
    # A NUL cannot be stored (PostgreSQL) and a comment longer than the column is refused, never cut.
    comment = clinician_text(comment, max_chars=COMMENT_MAX_CHARS, name="comment")
    feedback, _ = PredictionFeedback.objects.update_or_create(
        prediction=prediction,
        clinician=clinician,
        defaults={"verdict": verdict, "comment": comment},
    )
    audit_record(
        actor=clinician,
        action=AuditEvent.Action.PREDICTION_FEEDBACK,
        obj=prediction,
        patient_id=prediction.patient_id,
        detail={"verdict": verdict},
    )
    return feedback
