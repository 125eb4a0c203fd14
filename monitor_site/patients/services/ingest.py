"""Ingestion of conversation sessions and questionnaires: idempotent, one transaction each, nothing
half-written. The edge that calls these enqueues what follows (scoring, self-report alerts)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from monitor_site.patients.models import (
    Assessment,
    CareTeam,
    ConversationSession,
    IngestSource,
    Message,
    Patient,
)
from monitor_site.patients.timestamps import timestamp_problem
from scoring.phq9 import ITEM_MAX, N_ITEMS

log = logging.getLogger(__name__)
M = TypeVar("M", bound=models.Model)


class IngestConflict(Exception):
    """The same external id was sent before with other content (HTTP 409)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class IngestForbidden(Exception):
    """The writer may not write to this patient (HTTP 403 naming the field); nothing is stored."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class IngestRefused(Exception):
    """Well-formed input the product refuses (HTTP 400 naming the field); nothing is stored."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _refuse_backdated(*, patient_pk: int, session_pk: int, started_at: datetime) -> None:
    """A session more than SESSION_BACKDATE_LIMIT_DAYS before the patient's first stored session (the
    one received first, whenever it started) is refused: it would move the baseline and stretch the
    chart. The anchor never moves, so the limit cannot be walked back a step at a time; a new patient's
    history is accepted when sent oldest first."""
    limit = timedelta(days=settings.SESSION_BACKDATE_LIMIT_DAYS)
    if started_at >= timezone.now() - limit:
        return  # cannot be that far before a first session, which is never in the future
    first = (
        ConversationSession.objects.filter(patient_id=patient_pk)
        .exclude(pk=session_pk)
        .order_by("pk")
        .values_list("started_at", flat=True)
        .first()
    )
    if first is not None and started_at + limit < first:  # no overflow, whatever is stored
        raise IngestRefused(
            "started_at",
            f"{started_at:%Y-%m-%d} is more than {limit.days} days before this patient's first stored "
            f"session ({first:%Y-%m-%d}); a back-dated session would move their baseline. Send a "
            "patient's history oldest first, or check the clock of the sending system.",
        )


def _refuse_out_of_range(times: dict[str, datetime]) -> None:
    """Every time in INGEST_EARLIEST_DATE .. now (+ skew): what the API's serializers check, for every
    other writer too."""
    for field, value in times.items():
        problem = timestamp_problem(value)
        if problem:
            raise IngestRefused(field, problem)


@dataclass(frozen=True)
class IngestResult:
    obj: Any
    created: bool


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def content_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def patient_get_or_create(
    *, source: IngestSource, external_id: str, care_team: CareTeam, is_synthetic: bool = False
) -> Patient:
    """The patient of this source and id, created in `care_team` when new. A writer holds one care
    team (an ingest token: its source's) and writes only to that team's patients: a patient of
    another team is IngestForbidden, so a token cannot open alerts and e-mails in a team it does not
    serve. Nobody is created without a team (they would be in no clinician's list)."""
    patient, created = Patient.objects.get_or_create(
        source=source,
        external_id=external_id,
        defaults={"care_team": care_team, "is_synthetic": is_synthetic},
    )
    if created:
        log.info("new patient %s from source %s", patient.pk, source.name)
    elif patient.care_team_id != care_team.pk:
        raise IngestForbidden("patient", OTHER_TEAM)
    return patient


OTHER_TEAM = (
    "This patient belongs to another care team than this token's: a token writes only to its own "
    "care team's patients. Nothing was stored."
)


def _writer_team(source: IngestSource, care_team: CareTeam | None) -> CareTeam:
    if care_team is None:
        raise IngestForbidden(
            "patient",
            f"Source {source.name} has no care team, so its tokens may not write: an admin assigns one "
            "(manage.py move_ingest_source). Nothing was stored.",
        )
    return care_team


def _idempotent_create(
    model: type[M], *, lookup: dict, digest: str, conflict_field: str, create: Any
) -> IngestResult:
    """Create once; a replay of the same content returns the stored row, other content is a conflict.

    Two clients racing with the same id both reach the INSERT; the unique constraint lets exactly one
    win and the loser re-reads the winner's row, so there is never a second row.
    """
    for _attempt in range(2):
        existing: Any = model._default_manager.filter(**lookup).first()  # a row with a content_hash
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


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column, f"{name} is not a concrete field"
    return field.column


def _session_insert_sql() -> str:
    session, patient = ConversationSession._meta, Patient._meta
    columns = ", ".join(
        _column(ConversationSession, name)
        for name in (
            "source",
            "patient",
            "external_id",
            "started_at",
            "ended_at",
            "message_count",
            "content_hash",
            "created_at",
        )
    )
    return (
        f"INSERT INTO {session.db_table} ({columns}) "
        "SELECT %s, patient.id, %s, %s, %s, %s, %s, %s "
        f"FROM {patient.db_table} AS patient WHERE patient.source_id = %s AND patient.external_id = %s "
        "AND patient.care_team_id = %s "
        "ON CONFLICT (source_id, external_id) DO NOTHING "
        "RETURNING id, patient_id"
    )


SESSION_INSERT = _session_insert_sql()
MESSAGE_COLUMNS = ", ".join(
    _column(Message, name) for name in ("session", "position", "role", "text", "sent_at")
)
MESSAGE_INSERT = f"INSERT INTO {Message._meta.db_table} ({MESSAGE_COLUMNS}) VALUES (%s, %s, %s, %s, %s)"
# PostgreSQL: the session row and its messages in one statement (one round trip, the messages' columns
# sent as four arrays): psycopg's executemany adapted and sent each message row apart, 0.6-1 ms of CPU a
# session under `manage.py loadtest`. Inserts nothing (returns no row) when the session insert does not.
SESSION_WITH_MESSAGES_INSERT = (
    f"WITH s AS ({SESSION_INSERT}) "
    f"INSERT INTO {Message._meta.db_table} ({MESSAGE_COLUMNS}) "
    "SELECT s.id, m.position, m.role, m.text, m.sent_at FROM s, "
    "unnest(%s::integer[], %s::text[], %s::text[], %s::timestamptz[]) AS m(position, role, text, sent_at) "
    "RETURNING (SELECT id FROM s), (SELECT patient_id FROM s)"
)


def _session_insert(
    *,
    source: IngestSource,
    care_team: CareTeam,
    patient_external_id: str,
    row: dict,
    messages: list[dict] | None = None,
) -> tuple[int, int] | None:
    """Insert the session row of a patient we already know, of the writer's care team, in one
    statement; returns (id, patient id).

    None when nothing was inserted: the patient is new or of another team, or this session id is
    stored already (then the
    statement waited for a concurrent writer of the same id to finish). The ORM would take three
    statements (look the session up, look the patient up, insert), each costing more Python than the
    round trip itself: a third of the request's CPU under load (`manage.py loadtest`).
    `messages` (PostgreSQL only): inserted by the same statement.
    """
    adapt = connection.ops.adapt_datetimefield_value  # what the ORM does (naive UTC text on SQLite)
    params = [
        source.pk,
        row["external_id"],
        adapt(row["started_at"]),
        adapt(row["ended_at"]),
        row["message_count"],
        row["content_hash"],
        adapt(row["created_at"]),
        source.pk,
        patient_external_id,
        care_team.pk,
    ]
    sql = SESSION_INSERT
    if messages is not None:
        sql = SESSION_WITH_MESSAGES_INSERT
        params += [
            list(range(len(messages))),
            [m["role"] for m in messages],
            [m["text"] for m in messages],
            [adapt(m["sent_at"]) for m in messages],
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchone()
    return (inserted[0], inserted[1]) if inserted else None


def _messages_insert(*, session_pk: int, messages: list[dict]) -> None:
    """The session's messages in one executemany (psycopg sends them in one pipeline): bulk_create
    compiles an INSERT of every field for every row, a millisecond of CPU per 10-message session."""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            MESSAGE_INSERT,
            [(session_pk, i, m["role"], m["text"], adapt(m["sent_at"])) for i, m in enumerate(messages)],
        )


def session_ingest(
    *,
    source: IngestSource,
    patient_external_id: str,
    session_external_id: str,
    started_at: datetime,
    messages: list[dict],
    care_team: CareTeam | None,
    is_synthetic: bool = False,
) -> IngestResult:
    """Store a session and its messages in one transaction, for a writer of `care_team` (an ingest
    token: its source's team): a new patient joins it; another team's patient is IngestForbidden.
    The caller enqueues its scoring when it is new (`result.created`:
    predictions.tasks.session_scoring_enqueue); a bulk writer scores once at the end.

    messages: dicts with role, text, sent_at (aware datetimes), in conversation order.
    The same session id again: the stored session if the content is the same (created=False),
    otherwise IngestConflict. Clients racing with one id leave exactly one row: the unique constraint
    makes the later INSERTs wait for the first and then insert nothing, and they re-read its row.
    """
    if not messages:
        raise ValueError("a session needs at least one message")
    team = _writer_team(source, care_team)
    _refuse_out_of_range(
        {"started_at": started_at} | {f"messages[{i}].sent_at": m["sent_at"] for i, m in enumerate(messages)}
    )
    digest = content_hash(
        {
            "patient": patient_external_id,
            "started_at": _utc(started_at),
            "messages": [[m["role"], m["text"], _utc(m["sent_at"])] for m in messages],
        }
    )
    row = {
        "external_id": session_external_id,
        "started_at": started_at,
        "ended_at": max(m["sent_at"] for m in messages),
        "message_count": len(messages),
        "content_hash": digest,
        "created_at": timezone.now(),
    }

    together = connection.vendor == "postgresql"  # elsewhere (the demo's SQLite) messages follow apart

    def insert() -> tuple[int, int] | None:
        return _session_insert(
            source=source,
            care_team=team,
            patient_external_id=patient_external_id,
            row=row,
            messages=messages if together else None,
        )

    def stored() -> ConversationSession | None:
        return ConversationSession.objects.filter(source=source, external_id=session_external_id).first()

    with transaction.atomic():
        inserted = insert()
        if inserted is None:
            existing = stored()
            if existing is None:  # the patient's first session, or a patient of another team
                patient_get_or_create(
                    source=source, external_id=patient_external_id, care_team=team, is_synthetic=is_synthetic
                )
                inserted = insert()
                if inserted is None:  # another client stored this id in the meantime
                    existing = stored()
            if inserted is None:
                # Raising inside the transaction also drops a patient created above for this request.
                if existing is None:
                    raise IngestConflict("session_id", "session_id could not be stored; retry")
                if not Patient.objects.filter(pk=existing.patient_id, care_team=team).exists():
                    raise IngestForbidden("patient", OTHER_TEAM)
                if existing.content_hash != digest:
                    raise IngestConflict("session_id", "session_id was already received with other content")
                return IngestResult(existing, created=False)
        session_pk, patient_pk = inserted
        _refuse_backdated(patient_pk=patient_pk, session_pk=session_pk, started_at=started_at)
        if not together:
            _messages_insert(session_pk=session_pk, messages=messages)
    session = ConversationSession(pk=session_pk, source=source, patient_id=patient_pk, **row)
    session._state.adding = False  # a stored row, as if read back: save() updates, never inserts twice
    session._state.db = connection.alias
    return IngestResult(session, created=True)


def assessment_ingest(
    *,
    source: IngestSource,
    patient_external_id: str,
    completed_at: datetime,
    items: list[int],
    care_team: CareTeam | None,
    is_synthetic: bool = False,
) -> IngestResult:
    """Store a questionnaire once. When it is new (`result.created`) the caller evaluates the self-report
    alert rules (alerts_evaluate_self_report); a bulk writer evaluates once at the end."""
    if len(items) != N_ITEMS or any(not 0 <= int(v) <= ITEM_MAX for v in items):
        raise ValueError(f"items must be {N_ITEMS} integers 0..{ITEM_MAX}")
    _refuse_out_of_range({"completed_at": completed_at})
    digest = content_hash(
        {"patient": patient_external_id, "completed_at": _utc(completed_at), "items": items}
    )
    patient = patient_get_or_create(
        source=source,
        external_id=patient_external_id,
        care_team=_writer_team(source, care_team),
        is_synthetic=is_synthetic,
    )

    def create() -> Assessment:
        return Assessment.objects.create(
            source=source,
            patient=patient,
            completed_at=completed_at,
            items=[int(v) for v in items],
            total=sum(int(v) for v in items),
            content_hash=digest,
        )

    result = _idempotent_create(
        Assessment,
        lookup={"patient": patient, "completed_at": completed_at},
        digest=digest,
        conflict_field="completed_at",
        create=create,
    )
    return result
