"""A synthetic load set: thousands of patients with a year of daily sessions, to time the clinician pages.

Everything hangs off its own IngestSource ("load-set"), care team, clinician and ModelVersion
("load-set", a candidate never promoted) and every patient is marked synthetic, so a reset removes
exactly what was made. Rows are simulated with numpy one patient at a time (load_set_simulation) and
written with PostgreSQL
COPY, one transaction per batch of patients, the next batch being simulated while the current one is
written (bulk_create on other databases). 100 patients x 365 days on 2 shared cores: bulk_create 35 s,
COPY 9 s; the full 5,000 x 365 set is minutes instead of half an hour.

Summaries come from trajectory_summaries_refresh itself, in chunks, so they are exactly what scoring
would write (a few queries per patient: 35 s for 5,000 patients, not worth a second, bulk code path);
alerts are opened only where a rule's own condition holds at the latest predictions.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.bench.load_set_simulation import SimulatedRows, simulate_batch
from monitor_site.modelops.models import ModelVersion
from monitor_site.patients.models import (
    Assessment,
    CareTeam,
    ConversationSession,
    IngestSource,
    Message,
    Patient,
)
from monitor_site.predictions.models import Prediction, PredictionFeedback, TrajectorySummary
from monitor_site.predictions.services.summaries import trajectory_summaries_refresh
from scoring.cli_args import arg

SOURCE = VERSION = "load-set"
PATIENTS_PER_BATCH = 100  # one transaction and one COPY per table: ~37k sessions at 365 days
SUMMARIES_PER_CALL = 250

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Row tuples, as load_set_simulation makes them, follow these field orders (attnames).
SESSION_FIELDS = (
    "id source_id patient_id external_id started_at ended_at message_count content_hash created_at"
)
MESSAGE_FIELDS = "session_id position role text sent_at"
PREDICTION_FIELDS = (
    "patient_id session_id model_version_id window_start window_end total items interval_low "
    "interval_high band n_sessions n_user_turns n_tokens n_turns_left_out evidence created_at"
)
ASSESSMENT_FIELDS = "source_id patient_id completed_at items total content_hash created_at"


@dataclass
class LoadSetArgs:
    patients: int = arg(5000, "synthetic patients")
    days: int = arg(365, "days of history per patient, one session a day")
    team: str = arg("Load team", "care team created for the load set")
    clinician: str = arg("load-clinician", "user created for the load set")
    seed: int = arg(7, "seed of the simulation")


class LoadSetError(ValueError):
    """An expected problem; the message says what to do."""


@dataclass
class LoadSetResult:
    patients: int = 0
    sessions: int = 0
    messages: int = 0
    predictions: int = 0
    assessments: int = 0
    summaries: int = 0
    alerts: int = 0
    clinician: str = ""
    password: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    database_bytes: int | None = None


def load_set_patient_count() -> int | None:
    """Patients of the load set, or None when there is no load set (not even a half-built one)."""
    source = IngestSource.objects.filter(name=SOURCE).first()
    if source is None:
        return 0 if ModelVersion.objects.filter(version=VERSION).exists() else None
    return Patient.objects.filter(source=source).count()


def load_set_delete() -> int:
    """Delete the load set's rows (patients and all they own, its source, team, clinician and model
    version) and nothing else. Returns the patients deleted."""
    source = IngestSource.objects.filter(name=SOURCE).first()
    version = ModelVersion.objects.filter(version=VERSION).first()
    clinician = (version.manifest.get("load_set") or {}).get("clinician") if version else None
    n = 0
    with transaction.atomic():
        if source is not None:
            patients = Patient.objects.filter(source=source)
            n = patients.count()
            # The ORM's cascade would load millions of rows into memory: the big tables go first as
            # plain DELETEs (children before parents), then the ORM removes the small rest.
            PredictionFeedback.objects.filter(prediction__patient__in=patients).delete()
            Alert.objects.filter(patient__in=patients).delete()
            TrajectorySummary.objects.filter(patient__in=patients).delete()
            Prediction.objects.filter(patient__in=patients)._raw_delete(connection.alias)
            Message.objects.filter(session__source=source)._raw_delete(connection.alias)
            ConversationSession.objects.filter(source=source)._raw_delete(connection.alias)
            patients.delete()
            team = source.default_care_team
            source.delete()
            if team is not None:
                team.delete()
        if clinician:
            get_user_model().objects.filter(username=clinician).delete()
        if version is not None:
            version.delete()
    return n


def load_set_create(
    *,
    patients: int,
    days: int,
    team: str = "Load team",
    clinician: str = "load-clinician",
    seed: int = 7,
    end: datetime | None = None,
    use_copy: bool | None = None,
    progress: Progress | None = None,
) -> LoadSetResult:
    """Build the load set. Refuses (LoadSetError) if one exists or the team or clinician name is taken.
    use_copy: None picks COPY on PostgreSQL and bulk_create elsewhere."""
    if patients < 1 or days < 1:
        raise LoadSetError("--patients and --days must be at least 1")
    existing = load_set_patient_count()
    if existing is not None:
        raise LoadSetError(
            f"a load set already exists ({existing} patients, source {SOURCE!r}); "
            "rerun with --reset to delete it and build a new one"
        )
    if CareTeam.objects.filter(name=team).exists():
        raise LoadSetError(
            f"care team {team!r} exists already and is not the load set's; pick another --team"
        )
    if get_user_model().objects.filter(username=clinician).exists():
        raise LoadSetError(f"user {clinician!r} exists already; pick another --clinician")
    use_copy = connection.vendor == "postgresql" if use_copy is None else use_copy
    end = (end or timezone.now()).astimezone(UTC)
    report = progress or (lambda stage, done, total: None)
    result = LoadSetResult(patients=patients, clinician=clinician, password=secrets.token_urlsafe(12))
    started = stage_start = time.monotonic()

    with transaction.atomic():
        care_team = CareTeam.objects.create(name=team)
        care_team.members.add(
            get_user_model().objects.create_user(username=clinician, password=result.password)
        )
        source = IngestSource.objects.create(name=SOURCE, default_care_team=care_team)
        # What load_set_delete removes besides the source's rows is recorded here.
        record = {"care_team": team, "clinician": clinician, "patients": patients, "days": days, "seed": seed}
        manifest = {"version": VERSION, "backbone": {"id": "synthetic"}, "members": [], "load_set": record}
        version = ModelVersion.objects.create(
            version=VERSION, backbone="synthetic", members=0, manifest=manifest
        )
        width = max(5, len(str(patients)))
        Patient.objects.bulk_create(
            Patient(
                source=source,
                external_id=f"load-{i + 1:0{width}d}",
                care_team=care_team,
                is_synthetic=True,
                created_at=end - timedelta(days=days),
            )
            for i in range(patients)
        )
        patient_ids = list(
            Patient.objects.filter(source=source).order_by("external_id").values_list("pk", flat=True)
        )
    result.seconds["setup"] = time.monotonic() - stage_start

    def simulate(start: int) -> Future[SimulatedRows]:
        batch = patient_ids[start : start + PATIENTS_PER_BATCH]
        session_ids = _reserve_ids(
            ConversationSession, len(batch) * days
        )  # the DB is used by this thread only
        common = {"source_id": source.pk, "version_id": version.pk, "days": days, "end": end}
        return pool.submit(simulate_batch, batch, start, session_ids, seed, width, common)

    # The worker simulates batch n + 1 (numpy and Python) while this thread COPYs batch n into the DB.
    stage_start, recent = time.monotonic(), {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = simulate(0)
        for start in range(0, patients, PATIENTS_PER_BATCH):
            out = pending.result()
            if start + PATIENTS_PER_BATCH < patients:
                pending = simulate(start + PATIENTS_PER_BATCH)
            with transaction.atomic():
                _write(ConversationSession, SESSION_FIELDS, out.sessions, use_copy=use_copy)
                _write(Message, MESSAGE_FIELDS, out.messages, use_copy=use_copy)
                _write(Prediction, PREDICTION_FIELDS, out.predictions, use_copy=use_copy)
                _write(Assessment, ASSESSMENT_FIELDS, out.assessments, use_copy=use_copy)
            result.sessions += len(out.sessions)
            result.messages += len(out.messages)
            result.predictions += len(out.predictions)
            result.assessments += len(out.assessments)
            recent.update(out.recent)
            report("patients", min(start + PATIENTS_PER_BATCH, patients), patients)
    result.seconds["rows"] = time.monotonic() - stage_start

    stage_start = time.monotonic()
    for start in range(0, patients, SUMMARIES_PER_CALL):
        with transaction.atomic():
            result.summaries += trajectory_summaries_refresh(
                patient_ids=patient_ids[start : start + SUMMARIES_PER_CALL]
            )
        report("summaries", min(start + SUMMARIES_PER_CALL, patients), patients)
    result.seconds["summaries"] = time.monotonic() - stage_start

    stage_start = time.monotonic()
    with transaction.atomic():
        result.alerts = _open_alerts(source=source, recent=recent)
    if connection.vendor == "postgresql":
        # Fresh statistics, so the planner sees a year of history and not empty tables; and, as autovacuum
        # would have done on a live database, the visibility map set, so the pages' index-only scans
        # (a patient's last session, sessions in the last week) do not read every row's heap page.
        # VACUUM cannot run inside a transaction (a test's): then ANALYZE alone.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in (ConversationSession, Message, Prediction, Assessment, TrajectorySummary, Patient):
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
            cursor.execute("SELECT pg_database_size(current_database())")
            result.database_bytes = int(cursor.fetchone()[0])
    result.seconds["alerts_and_analyze"] = time.monotonic() - stage_start
    result.seconds["total"] = time.monotonic() - started
    return result


def _open_alerts(*, source: IngestSource, recent: dict[int, list[tuple[float, float]]]) -> int:
    """Open alerts where a rule's own condition holds on the latest predictions: item 9 (urgent) and
    the highest total threshold, so a few percent of the list have alerts and some are urgent."""
    rules = [
        AlertRule.objects.filter(is_active=True, kind=AlertRule.Kind.SELF_HARM).order_by("-urgent").first(),
        AlertRule.objects.filter(is_active=True, kind=AlertRule.Kind.THRESHOLD)
        .order_by("-threshold")
        .first(),
    ]
    summaries = TrajectorySummary.objects.filter(patient__source=source).select_related("latest_prediction")
    alerts = []
    for summary in summaries.iterator(chunk_size=2000):
        latest = summary.latest_prediction
        for rule in rules:
            if rule is None or latest is None:
                continue
            window = recent.get(summary.patient_id, [])[-max(rule.consecutive, 1) :]
            value = 1 if rule.kind == AlertRule.Kind.SELF_HARM else 0
            if len(window) >= rule.consecutive and all(p[value] >= rule.threshold for p in window):
                alerts.append(
                    Alert(
                        rule=rule,
                        episode_key=rule.episode_key,
                        patient_id=summary.patient_id,
                        prediction=latest,
                        urgent=rule.urgent,
                        total=latest.total,
                        band=latest.band,
                        self_harm_item=latest.self_harm_item,
                        baseline=summary.baseline_total,
                        opened_at=latest.window_end,
                    )
                )
    Alert.objects.bulk_create(alerts, batch_size=1000)
    return len(alerts)


# ---- writing --------------------------------------------------------------------------------------
def _reserve_ids(model: type[models.Model], n: int) -> list[int]:
    """n primary keys nobody else will get (the sequence hands them out; elsewhere: after the max)."""
    if n == 0:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [model._meta.db_table, model._meta.pk.column, n],
            )
            return [row[0] for row in cursor.fetchall()]
    first = (model._default_manager.aggregate(top=Max("pk"))["top"] or 0) + 1
    return list(range(first, first + n))


def _write(model: type[models.Model], field_names: str, rows: list[tuple], *, use_copy: bool) -> None:
    """Insert rows (tuples in `field_names` order, JSON fields as JSON text). Fields left out get their
    Python default, as bulk_create would give them, so a new column with a default needs no change."""
    if not rows:
        return
    meta, fields = model._meta, field_names.split()
    if not use_copy:
        json_fields = {n for n in fields if isinstance(meta.get_field(n), models.JSONField)}
        model._default_manager.bulk_create(
            (
                model(
                    **{n: json.loads(v) if n in json_fields else v for n, v in zip(fields, row, strict=True)}
                )
                for row in rows
            ),
            batch_size=5000,
        )
        return
    extra = [f for f in meta.concrete_fields if f.attname not in fields and not f.primary_key]
    constants = tuple(_copy_value(f, f.get_default()) for f in extra)
    by_name = {name: f for f in meta.concrete_fields for name in (f.name, f.attname)}
    columns = [str(by_name[n].column) for n in fields] + [str(f.column) for f in extra]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        if constants:
            for row in rows:
                copy.write_row(row + constants)
        else:
            for row in rows:
                copy.write_row(row)


def _copy_value(model_field: Any, value: Any) -> Any:
    if isinstance(model_field, models.JSONField) and value is not None:
        return json.dumps(value)
    return value
