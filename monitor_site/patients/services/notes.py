"""Clinicians' notes on a patient."""

from __future__ import annotations

from django.contrib.auth.models import User

from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.patients.models import ClinicianNote, Patient
from monitor_site.patients.text import clinician_text

NOTE_MAX_CHARS = 4000


def clinician_note_create(*, patient: Patient, author: User, text: str) -> ClinicianNote:
    """A note on the patient, audited (the audit event records that a note was written, not its text)."""
    text = clinician_text(text, max_chars=NOTE_MAX_CHARS, name="text")
    if not text:
        raise ValueError("text: the note is empty")
    note = ClinicianNote.objects.create(patient=patient, author=author, text=text)
    audit_record(actor=author, action=AuditEvent.Action.PATIENT_NOTE, obj=note, patient_id=patient.pk)
    return note
