"""Erasure of one patient (the right to be forgotten)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.patients.models import Patient

# Erasure of one patient (the right to be forgotten): every conversation, message, questionnaire,
# prediction, pseudo-label, alert (with its e-mail records), note and feedback of the patient goes, in
# one transaction. What stays is an AuditEvent that says who erased which patient id and how many rows
# went, with no content and not the pseudonymous external id.


# What the audit row calls each kind of row that goes (labels as Model._meta.label; no model of an app
# above patients is imported: their rows go by cascade).
ERASED = {
    "patients.ConversationSession": "sessions",
    "patients.Message": "messages",
    "patients.Assessment": "questionnaires",
    "predictions.Prediction": "predictions",
    "predictions.PredictionFeedback": "feedback",
    "modelops.PseudoLabel": "pseudo_labels",
    "alerts.Alert": "alerts",
    "patients.ClinicianNote": "notes",
}


def patient_erase(*, patient: Patient, actor: Any) -> dict[str, int]:
    """Delete the patient and everything derived from them; returns the counts removed (as
    `Model.delete()` counts them: cascades included)."""
    with transaction.atomic():
        patient_id = patient.pk
        _, by_model = patient.delete()  # cascades (on_delete=CASCADE); messages by fast bulk DELETEs
        counts = {name: by_model.get(label, 0) for label, name in ERASED.items()}
        audit_record(
            actor=actor,
            action=AuditEvent.Action.PATIENT_ERASE,
            patient_id=patient_id,
            detail={"removed": counts},
        )
    return counts
