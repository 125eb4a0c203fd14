"""Writes for patients: ingestion of sessions and questionnaires (idempotent), ingest tokens, notes."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, models, transaction

from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.patients.models import (
    Assessment,
    CareTeam,
    ClinicianNote,
    ConversationSession,
    IngestSource,
    IngestToken,
    Message,
    Patient,
)

log = logging.getLogger(__name__)
M = TypeVar("M", bound=models.Model)
NOTE_MAX_CHARS = 4000


class IngestConflict(Exception):
    """The same external id was sent before with other content (HTTP 409)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class IngestResult:
    obj: Any
    created: bool


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def content_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def patient_get_or_create(*, source: IngestSource, external_id: str, is_synthetic: bool = False) -> Patient:
    patient, created = Patient.objects.get_or_create(
        source=source,
        external_id=external_id,
        defaults={"care_team": source.default_care_team, "is_synthetic": is_synthetic},
    )
    if created:
        log.info("new patient %s from source %s", patient.pk, source.name)
    return patient


def _idempotent_create(
    model: type[M], *, lookup: dict, digest: str, conflict_field: str, create: Any
) -> IngestResult:
    """Create once; a replay of the same content returns the stored row, other content is a conflict.

    Two clients racing with the same id both reach the INSERT; the unique constraint lets exactly one
    win and the loser re-reads the winner's row, so there is never a second row.
    """
    for _attempt in range(2):
        existing = model.objects.filter(**lookup).first()
        if existing is not None:
            if existing.content_hash != digest:
                raise IngestConflict(
                    conflict_field, f"{conflict_field} was already received with other content"
                )
            return IngestResult(existing, created=False)
        try:
            with transaction.atomic():
                return IngestResult(create(), created=True)
        except IntegrityError:
            continue  # lost a race; the winner's row is there now
    raise IngestConflict(conflict_field, f"{conflict_field} could not be stored; retry")


def session_ingest(
    *,
    source: IngestSource,
    patient_external_id: str,
    session_external_id: str,
    started_at: datetime,
    messages: list[dict],
    notify: bool = True,
    is_synthetic: bool = False,
) -> IngestResult:
    """Store a session and its messages in one transaction; enqueue scoring after commit.

    messages: dicts with role, text, sent_at (aware datetimes), in conversation order.
    """
    if not messages:
        raise ValueError("a session needs at least one message")
    digest = content_hash(
        {
            "patient": patient_external_id,
            "started_at": _utc(started_at),
            "messages": [[m["role"], m["text"], _utc(m["sent_at"])] for m in messages],
        }
    )

    def create() -> ConversationSession:
        patient = patient_get_or_create(
            source=source, external_id=patient_external_id, is_synthetic=is_synthetic
        )
        session = ConversationSession.objects.create(
            source=source,
            patient=patient,
            external_id=session_external_id,
            started_at=started_at,
            ended_at=max(m["sent_at"] for m in messages),
            message_count=len(messages),
            content_hash=digest,
        )
        Message.objects.bulk_create(
            Message(session=session, position=i, role=m["role"], text=m["text"], sent_at=m["sent_at"])
            for i, m in enumerate(messages)
        )
        if notify:
            from monitor_site.celery import enqueue_on_commit
            from monitor_site.predictions.tasks import score_session

            enqueue_on_commit(score_session, session.pk, fallback="score_pending (every 10 minutes)")
        return session

    return _idempotent_create(
        ConversationSession,
        lookup={"source": source, "external_id": session_external_id},
        digest=digest,
        conflict_field="session_id",
        create=create,
    )


def assessment_ingest(
    *,
    source: IngestSource,
    patient_external_id: str,
    completed_at: datetime,
    items: list[int],
    is_synthetic: bool = False,
) -> IngestResult:
    if len(items) != 9 or any(not 0 <= int(v) <= 3 for v in items):
        raise ValueError("items must be 9 integers 0..3")
    digest = content_hash(
        {"patient": patient_external_id, "completed_at": _utc(completed_at), "items": items}
    )
    patient = patient_get_or_create(source=source, external_id=patient_external_id, is_synthetic=is_synthetic)

    def create() -> Assessment:
        return Assessment.objects.create(
            source=source,
            patient=patient,
            completed_at=completed_at,
            items=[int(v) for v in items],
            total=sum(int(v) for v in items),
            content_hash=digest,
        )

    return _idempotent_create(
        Assessment,
        lookup={"patient": patient, "completed_at": completed_at},
        digest=digest,
        conflict_field="completed_at",
        create=create,
    )


def ingest_token_create(*, source_name: str, care_team_name: str | None = None) -> tuple[IngestToken, str]:
    """A new token for a source (created if new); returns the row and the raw token, shown once."""
    with transaction.atomic():
        source, _ = IngestSource.objects.get_or_create(name=source_name)
        if care_team_name:
            team, _ = CareTeam.objects.get_or_create(name=care_team_name)
            if source.default_care_team_id != team.pk:
                source.default_care_team = team
                source.save(update_fields=["default_care_team"])
        raw = IngestToken.generate()
        token = IngestToken.objects.create(source=source, prefix=raw[:12], token_hash=IngestToken.hash(raw))
    return token, raw


def ingest_token_authenticate(*, raw: str) -> IngestToken | None:
    return (
        IngestToken.objects.select_related("source", "source__default_care_team")
        .filter(token_hash=IngestToken.hash(raw), revoked_at__isnull=True)
        .first()
    )


def clinician_note_create(*, patient: Patient, author: AbstractBaseUser, text: str) -> ClinicianNote:
    """A note on the patient, audited (the audit event records that a note was written, not its text)."""
    text = text.strip()
    if not text:
        raise ValueError("text: the note is empty")
    if len(text) > NOTE_MAX_CHARS:
        raise ValueError(f"text: at most {NOTE_MAX_CHARS} characters")
    note = ClinicianNote.objects.create(patient=patient, author=author, text=text)
    audit_record(actor=author, action=AuditEvent.Action.PATIENT_NOTE, obj=note, patient_id=patient.pk)
    return note
