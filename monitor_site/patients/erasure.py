"""Erasure of one patient (the right to be forgotten): every conversation, message, questionnaire,
prediction, pseudo-label, alert (with its e-mail records), note and feedback of the patient goes, in
one transaction. What stays is an AuditEvent that says who erased which patient id and how many rows
went, with no content and not the pseudonymous external id."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from monitor_site.alerts.models import Alert
from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.modelops.models import PseudoLabel
from monitor_site.patients.models import Assessment, ClinicianNote, ConversationSession, Message, Patient
from monitor_site.predictions.models import Prediction, PredictionFeedback


def patient_erase(*, patient: Patient, actor: Any) -> dict[str, int]:
    """Delete the patient and everything derived from them; returns the counts removed."""
    with transaction.atomic():
        counts = {
            "sessions": ConversationSession.objects.filter(patient=patient).count(),
            "messages": Message.objects.filter(session__patient=patient).count(),
            "questionnaires": Assessment.objects.filter(patient=patient).count(),
            "predictions": Prediction.objects.filter(patient=patient).count(),
            "feedback": PredictionFeedback.objects.filter(prediction__patient=patient).count(),
            "pseudo_labels": PseudoLabel.objects.filter(patient=patient).count(),
            "alerts": Alert.objects.filter(patient=patient).count(),
            "notes": ClinicianNote.objects.filter(patient=patient).count(),
        }
        patient_id = patient.pk
        patient.delete()  # cascades (on_delete=CASCADE); messages go by one fast DELETE per batch of sessions
        audit_record(
            actor=actor,
            action=AuditEvent.Action.PATIENT_ERASE,
            patient_id=patient_id,
            detail={"removed": counts},
        )
    return counts
