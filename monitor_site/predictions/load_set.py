"""A synthetic load set: thousands of patients with a year of daily sessions, to time the clinician pages.

Everything hangs off its own IngestSource ("load-set"), care team, clinician and ModelVersion
("load-set", a candidate never promoted) and every patient is marked synthetic, so a reset removes
exactly what was made. Rows are simulated with numpy one patient at a time and written with PostgreSQL
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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.modelops.models import ModelVersion
from monitor_site.patients.models import (
    Assessment,
    CareTeam,
    ConversationSession,
    IngestSource,
    Message,
    Patient,
)
from monitor_site.patients.selectors import WINDOW
from monitor_site.patients.services import content_hash
from monitor_site.predictions.models import Prediction, PredictionFeedback, TrajectorySummary
from monitor_site.predictions.services import EVIDENCE_PER_ITEM
from monitor_site.predictions.summaries import trajectory_summaries_refresh
from scoring.bands import ITEM_SELF_HARM, band_for

SOURCE = VERSION = "load-set"
PATIENTS_PER_BATCH = 100  # one transaction and one COPY per table: ~37k sessions at 365 days
SUMMARIES_PER_CALL = 250
ASSESSMENT_SHARE, ASSESSMENT_DAYS = 0.4, 28  # patients who fill in questionnaires, and how often
SELF_HARM_SHARE = 0.03  # patients whose model-inferred item 9 runs high (urgent alerts)
MAX_MESSAGES = 4

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Generic lines written for this file, by severity (no person's words; no tabs, newlines, backslashes).
USER_LINES = (
    (
        "Pretty good day overall, work went fine.",
        "I went for a walk after lunch and it helped.",
        "Slept well last night for a change.",
        "Had dinner with a friend, it was nice.",
        "Feeling fairly steady this week.",
        "Managed to finish the things on my list today.",
    ),
    (
        "A bit tired today, not sure why.",
        "Some days are fine and some are hard to get through.",
        "I keep putting things off and then feel bad about it.",
        "My sleep has been patchy this week.",
        "I did not feel like seeing anyone today.",
        "It was an okay day but I felt flat most of it.",
    ),
    (
        "Everything feels heavy and I can't get going.",
        "I barely slept again and I'm exhausted.",
        "Nothing I used to enjoy feels worth doing.",
        "I keep thinking I'm letting everyone down.",
        "I can't concentrate on anything for long.",
        "I stayed in bed most of the day.",
    ),
)
ASSISTANT_LINES = (
    "Thanks for telling me. What has helped a little today?",
    "That sounds tiring. How have you been sleeping?",
    "It's good you noticed that. Would a short walk be possible tomorrow?",
    "I hear you. Is there someone you could talk to this week?",
    "Let's take it one step at a time. What is one small thing you could do next?",
)
TOKENS_USER = [[len(t.split()) + 6 for t in tier] for tier in USER_LINES]  # rough, for n_tokens
ASSISTANT = (ASSISTANT_LINES, [len(t.split()) + 6 for t in ASSISTANT_LINES])
WEIGHT_TEXT = [repr(i / 10000) for i in range(10001)]  # JSON of round(w, 4), as the ensemble stores it

# Row tuples follow these field orders (attnames).
SESSION_FIELDS = (
    "id source_id patient_id external_id started_at ended_at message_count content_hash created_at"
)
MESSAGE_FIELDS = "session_id position role text sent_at"
PREDICTION_FIELDS = (
    "patient_id session_id model_version_id window_start window_end total items interval_low "
    "interval_high band n_sessions n_user_turns n_tokens evidence created_at"
)
ASSESSMENT_FIELDS = "source_id patient_id completed_at items total content_hash created_at"


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


@dataclass
class _Rows:
    """One batch of patients: row tuples per table, and per patient the last two (total, item 9)."""

    sessions: list[tuple] = field(default_factory=list)
    messages: list[tuple] = field(default_factory=list)
    predictions: list[tuple] = field(default_factory=list)
    assessments: list[tuple] = field(default_factory=list)
    recent: dict[int, list[tuple[float, float]]] = field(default_factory=dict)


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

    def simulate(start: int) -> Future[_Rows]:
        batch = patient_ids[start : start + PATIENTS_PER_BATCH]
        session_ids = _reserve_ids(
            ConversationSession, len(batch) * days
        )  # the DB is used by this thread only
        common = {"source_id": source.pk, "version_id": version.pk, "days": days, "end": end}
        return pool.submit(_simulate_batch, batch, start, session_ids, seed, width, common)

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
        # Fresh statistics, so the planner sees a year of history and not empty tables.
        with connection.cursor() as cursor:
            for model in (ConversationSession, Message, Prediction, Assessment, TrajectorySummary, Patient):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
            cursor.execute("SELECT pg_database_size(current_database())")
            result.database_bytes = int(cursor.fetchone()[0])
    result.seconds["alerts_and_analyze"] = time.monotonic() - stage_start
    result.seconds["total"] = time.monotonic() - started
    return result


# ---- simulation (no database access: it runs in a worker thread) ---------------------------------
def _simulate_batch(
    batch: list[int], start: int, session_ids: list[int], seed: int, width: int, common: dict[str, Any]
) -> _Rows:
    out = _Rows()
    days = common["days"]
    for k, patient_id in enumerate(batch):
        out.recent[patient_id] = _simulate_patient(
            out,
            rng=np.random.default_rng([seed, start + k]),
            patient_id=patient_id,
            external_id=f"load-{start + k + 1:0{width}d}",
            session_ids=session_ids[k * days : (k + 1) * days],
            **common,
        )
    return out


def _dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _severity(rng: np.random.Generator, days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(latent severity (D,), model-inferred items (D, 9), interval half-widths (D,)).

    The latent value does a mean-reverting random walk around a drifting target; each session's
    model-inferred total is that plus noise. Item 9 stays under the review flag except for a few
    patients; the rest of the total is spread over items 1-8 (at most 3 each: overflow goes where
    there is room, so the items always sum to the total)."""
    day = np.arange(days)
    mean, drift = min(rng.gamma(2.0, 4.0), 22.0), rng.normal(0, 4)  # most mild to moderate
    target = np.clip(mean + drift * day / max(days - 1, 1), 0, 24)
    latent, steps = np.empty(days), rng.normal(0, 1.1, days).tolist()
    value = float(np.clip(mean + rng.normal(0, 2), 0, 27))
    for d, goal in enumerate(target.tolist()):
        value = min(max(value + 0.12 * (goal - value) + steps[d], 0.0), 27.0)
        latent[d] = value
    totals = np.clip(latent + rng.normal(0, 1.2, days), 0, 27)
    if rng.random() < SELF_HARM_SHARE:
        item9 = np.clip(rng.normal(0.3 + 1.5 * totals / 27, 0.35), 0, 3)
    else:
        item9 = rng.uniform(0, 0.35, days) * totals / 27
    item9 = np.maximum(item9, totals - 24)
    share = rng.gamma(2.0, 1.0, (days, 8))
    items8 = share / share.sum(axis=1, keepdims=True) * (totals - item9)[:, None]
    excess = np.clip(items8 - 3, 0, None).sum(axis=1)
    items8 = np.minimum(items8, 3)
    room = 3 - items8
    items8 += room * (excess / np.maximum(room.sum(axis=1), 1e-9))[:, None]
    items = np.clip(np.round(np.column_stack([items8, item9]), 4), 0, 3)
    return latent, items, 2.0 + 0.12 * totals + np.abs(rng.normal(0, 0.4, days))


def _evidence(
    rng: np.random.Generator, *, ext: list[str], n_turns: list[int], first: list[int], cut: list[int]
) -> list[str]:
    """Per session, the JSON of its prediction's evidence, shaped as predictions.services._evidence
    writes it: per item the top chunks {session, turns, weight}. Each session of the 14-day window is
    one chunk; `first[d]` is the window's oldest session, of which only turns from `cut[d]` are in."""
    days, slots = len(ext), 16  # a 14-day window holds at most 16 daily sessions
    n_chunks = np.arange(days) - np.array(first) + 1
    assert int(n_chunks.max()) <= slots, "sessions are at least 22.5 hours apart"
    weights = rng.gamma(1.0, 1.0, (days, slots, 9))
    weights[np.arange(slots)[None, :] >= n_chunks[:, None]] = 0
    shares = np.round(weights / weights.sum(axis=1, keepdims=True) * 10000).astype(int)
    top = np.argsort(-shares, axis=1, kind="stable")[:, :EVIDENCE_PER_ITEM, :].tolist()  # (D, 3, 9)
    shares_l = shares.tolist()
    whole = [
        f'{{"session": "{e}", "turns": {list(range(n))}, "weight": '
        for e, n in zip(ext, n_turns, strict=True)
    ]
    out = []
    for d in range(days):
        heads = [whole[first[d] + slot] for slot in range(min(slots, int(n_chunks[d])))]
        if cut[d]:
            kept = list(range(n_turns[first[d]] - cut[d]))
            heads[0] = f'{{"session": "{ext[first[d]]}", "turns": {kept}, "weight": '
        ranks = top[d][: len(heads)]
        out.append(
            "["
            + ", ".join(
                "[" + ", ".join(heads[r[i]] + WEIGHT_TEXT[shares_l[d][r[i]][i]] + "}" for r in ranks) + "]"
                for i in range(9)
            )
            + "]"
        )
    return out


def _simulate_patient(
    out: _Rows,
    *,
    rng: np.random.Generator,
    patient_id: int,
    external_id: str,
    session_ids: Sequence[int],
    source_id: int,
    version_id: int,
    days: int,
    end: datetime,
) -> list[tuple[float, float]]:
    """Append one patient's sessions, messages, predictions and questionnaires to `out`. Returns the
    last two predictions' (total, item 9)."""
    day = np.arange(days)
    # One session a day at the patient's habitual hour (jittered), all before `end`, 2-4 turns.
    habit = int(end.timestamp()) - 3600 - int(rng.uniform(0, 12 * 3600))
    started = habit - (days - 1 - day) * 86400 - rng.integers(0, 5400, days)
    n_turns = rng.integers(2, MAX_MESSAGES + 1, days)
    sent = started[:, None] + np.cumsum(rng.integers(30, 240, (days, MAX_MESSAGES)), axis=1)
    ended = sent[day, n_turns - 1]
    latent, items, half_width = _severity(rng, days)
    tier = np.minimum(items.sum(axis=1) // 9, 2).astype(int).tolist()
    picks = rng.integers(0, 1 << 30, (days, MAX_MESSAGES)).tolist()
    texts = []  # per session: (role, text, tokens) per turn, the patient's lines matching their severity
    for d in range(days):
        turns = []
        for k in range(int(n_turns[d])):
            lines, tokens = (USER_LINES[tier[d]], TOKENS_USER[tier[d]]) if k % 2 == 0 else ASSISTANT
            j = picks[d][k] % len(lines)
            turns.append(("user" if k % 2 == 0 else "assistant", lines[j], tokens[j]))
        texts.append(turns)

    # Window counts as windows_for sees them: messages in [end - 14 days, end] (sessions never overlap).
    used = np.arange(MAX_MESSAGES)[None, :] < n_turns[:, None]
    times, roles = sent[used], [role for turns in texts for role, _, _ in turns]
    user_times = times[np.array(roles) == "user"]
    token_sum = np.concatenate([[0], np.cumsum([n for turns in texts for _, _, n in turns])])
    start = ended - int(WINDOW.total_seconds())
    first = np.searchsorted(ended, start, side="left")
    n_user = np.searchsorted(user_times, ended, "right") - np.searchsorted(user_times, start)
    n_tokens = token_sum[np.searchsorted(times, ended, "right")] - token_sum[np.searchsorted(times, start)]
    cut = (sent[first] < start[:, None]).sum(axis=1)  # turns of the oldest session before the window

    ext = [f"{external_id}-d{d:04d}" for d in range(days)]
    evidence = _evidence(rng, ext=ext, n_turns=n_turns.tolist(), first=first.tolist(), cut=cut.tolist())
    last: list[tuple[float, float]] = []
    for d, (sid, items_d) in enumerate(zip(session_ids, items.tolist(), strict=True)):
        started_at, ended_at = _dt(int(started[d])), _dt(int(ended[d]))
        turns = [(role, text, _dt(int(sent[d, k]))) for k, (role, text, _) in enumerate(texts[d])]
        body = [[role, text, at.isoformat()] for role, text, at in turns]
        digest = content_hash(
            {"patient": external_id, "started_at": started_at.isoformat(), "messages": body}
        )
        out.sessions.append(
            (sid, source_id, patient_id, ext[d], started_at, ended_at, len(turns), digest, ended_at)
        )
        out.messages.extend((sid, k, role, text, at) for k, (role, text, at) in enumerate(turns))
        total = round(sum(items_d), 4)
        out.predictions.append(
            (
                patient_id,
                sid,
                version_id,
                _dt(int(start[d])),
                ended_at,
                total,
                json.dumps(items_d),
                round(max(0.0, total - half_width[d]), 4),
                round(min(27.0, total + half_width[d]), 4),
                band_for(total).key,
                int(day[d] - first[d] + 1),
                int(n_user[d]),
                int(n_tokens[d]),
                evidence[d],
                ended_at + timedelta(minutes=1),
            )
        )
        last = [*last[-1:], (total, items_d[ITEM_SELF_HARM])]

    if rng.random() < ASSESSMENT_SHARE:
        at_risk = float(items[:, ITEM_SELF_HARM].mean()) >= 0.3
        for d in range(int(rng.integers(0, ASSESSMENT_DAYS)), days, ASSESSMENT_DAYS):
            total = int(np.clip(round(latent[d] + rng.normal(0, 2)), 0, 27))
            # Self-report: `total` units spread over 3 units per item (item 9 only for those at risk).
            units = 27 if at_risk or total > 24 else 24
            answers = np.bincount(rng.permutation(units)[:total] // 3, minlength=9).tolist()
            at = _dt(int(started[d]) - 3600)
            digest = content_hash({"patient": external_id, "completed_at": at.isoformat(), "items": answers})
            out.assessments.append((source_id, patient_id, at, json.dumps(answers), total, digest, at))
    return last


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
    first = (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
    return list(range(first, first + n))


def _write(model: type[models.Model], field_names: str, rows: list[tuple], *, use_copy: bool) -> None:
    """Insert rows (tuples in `field_names` order, JSON fields as JSON text). Fields left out get their
    Python default, as bulk_create would give them, so a new column with a default needs no change."""
    if not rows:
        return
    meta, fields = model._meta, field_names.split()
    if not use_copy:
        json_fields = {n for n in fields if isinstance(meta.get_field(n), models.JSONField)}
        model.objects.bulk_create(
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
    columns = [meta.get_field(n).column for n in fields] + [f.column for f in extra]
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
