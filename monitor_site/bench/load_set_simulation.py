"""Simulation of the load set's synthetic patients: a year of daily sessions, messages, predictions and
questionnaires per patient, as row tuples ready for load_set to write.

Pure numpy and Python, no database access: load_set runs it in a worker thread while it writes the
previous batch. Row tuples follow the field orders in load_set (SESSION_FIELDS, MESSAGE_FIELDS, ...).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from monitor_site.patients.selectors import WINDOW
from monitor_site.patients.services.ingest import content_hash
from monitor_site.predictions.services.rows import EVIDENCE_PER_ITEM
from scoring.phq9 import ITEM_MAX, ITEM_SELF_HARM, N_ITEMS, TOTAL_MAX, band_for

ASSESSMENT_SHARE, ASSESSMENT_DAYS = 0.4, 28  # patients who fill in questionnaires, and how often
SELF_HARM_SHARE = 0.03  # patients whose model-inferred item 9 runs high (urgent alerts)
MAX_MESSAGES = 4

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


@dataclass
class SimulatedRows:
    """One batch of patients: row tuples per table, and per patient the last two (total, item 9)."""

    sessions: list[tuple] = field(default_factory=list)
    messages: list[tuple] = field(default_factory=list)
    predictions: list[tuple] = field(default_factory=list)
    assessments: list[tuple] = field(default_factory=list)
    recent: dict[int, list[tuple[float, float]]] = field(default_factory=dict)


def simulate_batch(
    batch: list[int], start: int, session_ids: list[int], seed: int, width: int, common: dict[str, Any]
) -> SimulatedRows:
    out = SimulatedRows()
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
    value = float(np.clip(mean + rng.normal(0, 2), 0, TOTAL_MAX))
    for d, goal in enumerate(target.tolist()):
        value = min(max(value + 0.12 * (goal - value) + steps[d], 0.0), TOTAL_MAX)
        latent[d] = value
    totals = np.clip(latent + rng.normal(0, 1.2, days), 0, TOTAL_MAX)
    if rng.random() < SELF_HARM_SHARE:
        item9 = np.clip(rng.normal(0.3 + 1.5 * totals / TOTAL_MAX, 0.35), 0, ITEM_MAX)
    else:
        item9 = rng.uniform(0, 0.35, days) * totals / TOTAL_MAX
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
                for i in range(N_ITEMS)
            )
            + "]"
        )
    return out


def _simulate_patient(
    out: SimulatedRows,
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
                round(min(TOTAL_MAX, total + half_width[d]), 4),
                band_for(total).key,
                int(day[d] - first[d] + 1),
                int(n_user[d]),
                int(n_tokens[d]),
                0,  # n_turns_left_out: a day's session is far under the window's text budget
                evidence[d],
                ended_at + timedelta(minutes=1),
            )
        )
        last = [*last[-1:], (total, items_d[ITEM_SELF_HARM])]

    if rng.random() < ASSESSMENT_SHARE:
        at_risk = float(items[:, ITEM_SELF_HARM].mean()) >= 0.3
        for d in range(int(rng.integers(0, ASSESSMENT_DAYS)), days, ASSESSMENT_DAYS):
            total = int(np.clip(round(latent[d] + rng.normal(0, 2)), 0, TOTAL_MAX))
            # Self-report: `total` units spread over ITEM_MAX units per item (item 9 only for those at risk).
            units = TOTAL_MAX if at_risk or total > TOTAL_MAX - ITEM_MAX else TOTAL_MAX - ITEM_MAX
            answers = np.bincount(rng.permutation(units)[:total] // ITEM_MAX, minlength=N_ITEMS).tolist()
            at = _dt(int(started[d]) - 3600)
            digest = content_hash({"patient": external_id, "completed_at": at.isoformat(), "items": answers})
            out.assessments.append((source_id, patient_id, at, json.dumps(answers), total, digest, at))
    return last
