"""A synthetic demo clinic: patients, chat sessions and in-app PHQ-9 questionnaires.

All of it is synthetic and written by this project: every phrase, template and slot value below was
written for this module and nothing is copied from any dataset, website or real conversation. There
are no real names, e-mail addresses, phone numbers or URLs in the text.

Each patient has a latent PHQ-9 trajectory (improving, worsening, flat or relapsing): a daily total
severity curve, split into nine daily item scores (0..3) by a per-patient item profile. Item 9
(thoughts of being better off dead or of self-harm) is above 0 only for a minority of patients and
only on days whose items 1-8 already add up to at least 15. Two to four chat sessions a week are
generated; in each the user mentions 0-4 symptoms (higher-scored items more often) in words whose
intensity follows that day's item score, mixed with small talk; the assistant replies briefly with
the same item-neutral lines whatever the patient said (so its text carries no label).
About `questionnaire_share` of the patients also fill in a questionnaire every 2-4 weeks from week 2.

Entry point: `generate_clinic(end=...)`; `latent_items(patient, at)` gives the latent items of a day.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from scoring.cli_args import arg
from scoring.phq9 import N_ITEMS
from scoring.types import Turn
from training.synthetic.phrases import (
    CLOSINGS,
    ELABORATIONS,
    FIELDS,
    NEUTRAL_REPLIES,
    OPENERS,
    POSITIVE,
    PROFILES,
    SLOTS,
    SMALL_TALK,
    SYMPTOMS,
    USER_ANSWERS,
    USER_CLOSINGS,
    USER_REPLIES,
    VARIANT_WORDS,
    VARIANTS,
    WEEKDAYS,
)

TRAJECTORIES = ("improving", "worsening", "flat", "relapsing")
DEFAULT_CARE_TEAMS = ("North team", "South team", "East team")
IDEATION_MIN_TOTAL = 15  # item 9 can be above 0 only when items 1-8 add up to at least this
IDEATION_PRONE_SHARE = 0.3  # share of patients whose item 9 can rise at all
ITEM_NAMES = (
    "anhedonia",
    "depressed mood",
    "sleep",
    "tiredness",
    "appetite",
    "self-worth",
    "concentration",
    "psychomotor",
    "self-harm thoughts",
)

Latent = tuple[tuple[date, tuple[int, ...]], ...]


@dataclass(frozen=True)
class SyntheticSession:
    external_id: str  # e.g. "syn-p007-s012"
    started_at: datetime  # timezone-aware UTC
    turns: tuple[Turn, ...]  # alternating user/assistant from the user; sent_at non-decreasing, >= started_at


@dataclass(frozen=True)
class SyntheticAssessment:
    completed_at: datetime  # timezone-aware UTC
    items: tuple[int, ...]  # 9 ints 0..3: the latent items of that day with occasional +-1 noise


@dataclass(frozen=True)
class SyntheticPatient:
    external_id: str  # e.g. "syn-p007"
    care_team: str
    trajectory: str  # "improving" | "worsening" | "flat" | "relapsing"
    sessions: tuple[SyntheticSession, ...]
    assessments: tuple[SyntheticAssessment, ...]  # empty for about 1 - questionnaire_share of patients
    latent: Latent  # one (day, 9 item scores) per day, oldest first, from the first day to end's day
    profile: str = ""  # e.g. "sleep-dominant; insomnia, poor appetite, slowed" (for reading only)
    # "main", or "held-out": a patient who enrolled halfway through the history and words their
    # symptoms with the other half of every symptom bank (see family_bank)
    family: str = "main"


FAMILIES = ("main", "held-out")
HELD_OUT_SHARE = 0.2  # of the patients with questionnaires: enrolled late, held-out paraphrases


def family_bank(bank: tuple[str, ...], family: str) -> tuple[str, ...]:
    """The templates of `bank` one family uses: even positions for "main", odd for "held-out".

    A model trained on the main family's patients and tested on the held-out family's (the patients who
    enrolled last, i.e. the time-ordered split's test patients) meets sentences it never saw. The
    slots, topics and frequency words are still shared, so this narrows the circularity, never ends it."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    return bank[0::2] if family == "main" else bank[1::2] or bank


# --------------------------------------------------------------------------------------------------
# Phrase bank. Slots in braces are filled from SLOTS (or from the session's date and time).
# Intensity 1 = "several days", 2 = "more than half the days", 3 = "nearly every day".
# --------------------------------------------------------------------------------------------------


def symptom_templates(item: int, intensity: int) -> tuple[str, ...]:
    """Every template the user may say for `item` (1..9) at `intensity` (0..3), all directions together."""
    if not 1 <= item <= N_ITEMS or not 0 <= intensity <= 3:
        raise ValueError("item must lie in 1..9 and intensity in 0..3")
    if intensity == 0:
        return POSITIVE.get(item, ())
    return tuple(t for bank in SYMPTOMS[item].values() for t in bank[intensity])


def latent_items(patient: SyntheticPatient, at: datetime) -> tuple[int, ...]:
    """The patient's latent item scores on the (UTC) day of `at`, clamped to the generated days."""
    if not patient.latent:
        raise ValueError("patient has no latent schedule")
    day = _utc(at).date()
    index = min(max((day - patient.latent[0][0]).days, 0), len(patient.latent) - 1)
    return patient.latent[index][1]


def latent_total(patient: SyntheticPatient, at: datetime) -> int:
    return sum(latent_items(patient, at))


@dataclass
class DemoClinicArgs:
    """The size of the demo clinic (`manage.py seed_demo`)."""

    patients: int = arg(60, "synthetic patients, spread over three care teams")
    weeks: int = arg(12, "weeks of history, 2-4 sessions a week")
    seed: int = arg(7, "seed of the generator: the same seed gives the same clinic")

    def __post_init__(self) -> None:
        if self.patients < 4 or self.weeks < 3:
            raise ValueError("use at least 4 patients and 3 weeks")


def generate_clinic(
    *,
    n_patients: int = 60,
    weeks: int = 12,
    end: datetime,
    seed: int = 7,
    questionnaire_share: float = 0.4,
    care_teams: tuple[str, ...] = DEFAULT_CARE_TEAMS,
    sessions: bool = True,
) -> list[SyntheticPatient]:
    """`n_patients` synthetic patients over the `weeks` weeks (7 days each) ending on `end`'s day.
    `sessions=False`: trajectories and questionnaires only, no conversations (much faster; the loop
    benchmark, training/bench/loop.py, needs only the questionnaires)."""
    if n_patients < 0 or weeks < 1:
        raise ValueError("n_patients >= 0 and weeks >= 1")
    if not 0.0 <= questionnaire_share <= 1.0:
        raise ValueError("questionnaire_share must lie in 0..1")
    if not care_teams:
        raise ValueError("care_teams must name at least one team")
    end = _utc(end)
    first_day = end.date() - timedelta(days=weeks * 7 - 1)
    days = [first_day + timedelta(days=k) for k in range(weeks * 7)]
    master = random.Random(_sub_seed(seed, "clinic"))
    trajectories = [TRAJECTORIES[i % len(TRAJECTORIES)] for i in range(n_patients)]
    master.shuffle(trajectories)
    teams = [care_teams[i % len(care_teams)] for i in range(n_patients)]
    master.shuffle(teams)
    with_questionnaires = master.sample(range(n_patients), round(questionnaire_share * n_patients))
    n_late = round(HELD_OUT_SHARE * len(with_questionnaires)) if len(with_questionnaires) >= 5 else 0
    late = set(with_questionnaires[:n_late])
    half = len(days) // 2 // 7 * 7  # the late cohort's history starts on a week boundary halfway
    return [
        _patient(
            i,
            seed,
            trajectories[i],
            teams[i],
            days[half:] if i in late else days,
            end,
            i in set(with_questionnaires),
            family="held-out" if i in late else "main",
            with_sessions=sessions,
        )
        for i in range(n_patients)
    ]


# --------------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return value.astimezone(UTC)


def _sub_seed(seed: int, key: object) -> int:
    return int.from_bytes(hashlib.sha256(f"synthetic-clinic/{seed}/{key}".encode()).digest()[:8], "big")


def _patient(
    index: int,
    seed: int,
    trajectory: str,
    team: str,
    days: list[date],
    end: datetime,
    questionnaires: bool,
    *,
    family: str = "main",
    with_sessions: bool = True,
) -> SyntheticPatient:
    rng = random.Random(_sub_seed(seed, index))
    pid = f"syn-p{index + 1:03d}"
    profile = rng.choice(tuple(PROFILES))
    weights = [rng.uniform(0.6, 1.2) for _ in range(N_ITEMS - 1)]
    for item in PROFILES[profile]:
        weights[item - 1] += rng.uniform(1.2, 2.0)
    variants = {item: rng.choice(pair) for item, pair in VARIANTS.items()}
    ideation_prone = rng.random() < IDEATION_PRONE_SHARE
    latent = _latent(rng, _severity_curve(rng, trajectory, len(days)), weights, ideation_prone, days)
    sessions = _sessions(rng, pid, latent, variants, end, family) if with_sessions else ()
    assessments = _assessments(rng, latent, sessions) if questionnaires else ()
    words = ", ".join(VARIANT_WORDS[(item, v)] for item, v in variants.items())
    return SyntheticPatient(
        external_id=pid,
        care_team=team,
        trajectory=trajectory,
        sessions=sessions,
        assessments=assessments,
        latent=latent,
        profile=f"{profile}; {words}"
        + ("; ideation-prone" if ideation_prone else "")
        + ("; enrolled late, held-out paraphrases" if family == "held-out" else ""),
        family=family,
    )


def _severity_curve(rng: random.Random, trajectory: str, n_days: int) -> list[float]:
    """Daily latent total severity (0..27, before splitting into items) for one trajectory type."""
    shape = rng.uniform(0.6, 1.6)
    noise_sd = 0.7
    if trajectory == "improving":
        a, b = rng.uniform(15, 22), rng.uniform(3, 7)
    elif trajectory == "worsening":
        a, b = rng.uniform(2, 7), rng.uniform(15, 22)
    elif trajectory == "flat":
        a = b = rng.uniform(2, 22)
        noise_sd = 1.0
    elif trajectory == "relapsing":
        a, b = rng.uniform(15, 22), rng.uniform(13, 20)
        trough, turn = rng.uniform(3, 7), rng.uniform(0.6, 0.7)
    else:
        raise ValueError(f"unknown trajectory {trajectory!r}")
    curve, noise = [], 0.0
    for k in range(n_days):
        t = k / max(n_days - 1, 1)
        if trajectory == "relapsing":
            if t < turn:
                base = a + (trough - a) * (t / turn) ** shape
            else:
                base = trough + (b - trough) * ((t - turn) / (1 - turn))
        else:
            base = a + (b - a) * t**shape
        noise = 0.8 * noise + rng.gauss(0.0, noise_sd)
        curve.append(min(max(base + noise, 0.0), 27.0))
    return curve


def _spread(total: float, weights: list[float]) -> list[float]:
    """Split `total` over items in proportion to `weights`, capping each at 3 (water-filling)."""
    out = [0.0] * len(weights)
    free = list(range(len(weights)))
    left = min(total, 3.0 * len(weights))
    while free and left > 1e-9:
        mass = sum(weights[i] for i in free)
        capped = [i for i in free if left * weights[i] / mass >= 3.0]
        if not capped:
            for i in free:
                out[i] = left * weights[i] / mass
            break
        for i in capped:
            out[i] = 3.0
            left -= 3.0
        free = [i for i in free if i not in capped]
    return out


def _latent(
    rng: random.Random, curve: list[float], weights: list[float], ideation_prone: bool, days: list[date]
) -> tuple[tuple[date, tuple[int, ...]], ...]:
    out = []
    ideation_on = False
    for day, total in zip(days, curve, strict=True):
        items = [min(3, max(0, round(x + rng.uniform(-0.5, 0.5)))) for x in _spread(total, weights)]
        core = sum(items)
        item9 = 0
        if ideation_prone and core >= IDEATION_MIN_TOTAL:
            ideation_on = rng.random() < (0.75 if ideation_on else 0.3)
            if ideation_on:
                item9 = 1
                if core >= 20 and rng.random() < 0.3:
                    item9 = 3 if core >= 23 and rng.random() < 0.25 else 2
        else:
            ideation_on = False
        out.append((day, (*items, item9)))
    return tuple(out)


def _sessions(
    rng: random.Random,
    pid: str,
    latent: tuple[tuple[date, tuple[int, ...]], ...],
    variants: dict[int, str],
    end: datetime,
    family: str = "main",
) -> tuple[SyntheticSession, ...]:
    planned: list[tuple[datetime, tuple[Turn, ...]]] = []
    for week in range(len(latent) // 7):
        week_days = latent[week * 7 : week * 7 + 7]
        wanted = rng.randint(2, 4)
        taken = 0
        for day, items in rng.sample(week_days, len(week_days)):
            if taken == wanted:
                break
            n_turns = round(rng.triangular(4, 12, 9))
            gaps = [rng.randint(15, 75) if k % 2 == 0 else rng.randint(60, 300) for k in range(n_turns - 1)]
            duration = timedelta(seconds=sum(gaps))
            midnight = datetime.combine(day, time(0, 0), tzinfo=UTC)
            lo = midnight + timedelta(hours=7, minutes=30)
            hi = min(midnight + timedelta(hours=22, minutes=30), end) - duration
            if hi < lo:
                lo = midnight
            if hi < lo:
                continue
            start = lo + timedelta(minutes=rng.randint(0, int((hi - lo).total_seconds() // 60)))
            planned.append((start, _conversation(rng, start, items, variants, gaps, family)))
            taken += 1
    planned.sort(key=lambda s: s[0])
    return tuple(
        SyntheticSession(external_id=f"{pid}-s{k + 1:03d}", started_at=start, turns=turns)
        for k, (start, turns) in enumerate(planned)
    )


def _fill(rng: random.Random, template: str, context: dict[str, str]) -> str:
    names = FIELDS.get(template)
    if names is None:
        names = tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)
        FIELDS[template] = names
    if not names:
        return template
    values = {name: context[name] if name in context else rng.choice(SLOTS[name]) for name in names}
    text = template.format(**values)
    return text[0].upper() + text[1:]


def _pick(rng: random.Random, pool: tuple[str, ...], used: set[str]) -> str:
    fresh = [p for p in pool if p not in used]
    choice = rng.choice(fresh or list(pool))
    used.add(choice)
    return choice


def _mentions(rng: random.Random, items: tuple[int, ...]) -> list[tuple[int, int]]:
    """(item, intensity) pairs the user brings up in one session: 0-4 symptoms, maybe a positive remark."""
    total = sum(items)
    scored = [(i + 1, v) for i, v in enumerate(items) if v > 0]
    mentions: list[tuple[int, int]] = []
    if scored and rng.random() > 0.15:  # some sessions carry nothing clinical at all
        k = min(len(scored), 4, max(0, round(rng.gauss(0.3 + total / 8, 0.8))))
        # weighted sampling without replacement (keys u^(1/w)): higher-scored items come up more often;
        # item 9 gets extra weight so that it surfaces now and then when it is above 0
        keyed = sorted(scored, key=lambda iv: rng.random() ** (1.0 / _mention_weight(*iv)), reverse=True)
        mentions = keyed[:k]
    zeros = [i + 1 for i, v in enumerate(items[: N_ITEMS - 1]) if v == 0]
    if zeros and rng.random() < 0.5 - total / 30:
        mentions.append((rng.choice(zeros), 0))
    rng.shuffle(mentions)
    mentions.sort(key=lambda iv: iv[0] != N_ITEMS)  # item 9 early in the session
    return mentions


def _mention_weight(item: int, level: int) -> float:
    return level**2 * (4.0 if item == N_ITEMS else 1.0)


def _conversation(
    rng: random.Random,
    start: datetime,
    items: tuple[int, ...],
    variants: dict[int, str],
    gaps: list[int],
    family: str = "main",
) -> tuple[Turn, ...]:
    n_turns = len(gaps) + 1
    n_user = (n_turns + 1) // 2
    hour = start.hour
    day = start.date()
    context = {
        "part": "morning" if hour < 12 else "afternoon" if hour < 17 else "evening",
        "day": WEEKDAYS[(day - timedelta(days=rng.randint(1, 4))).weekday()],
    }
    units = _mentions(rng, items)
    used: set[str] = set()
    texts: list[str] = []
    symptom_before = False  # whether the patient's last turn named a symptom
    for j in range(n_user):
        sentences: list[str] = []
        said: list[tuple[int, int]] = []
        take = min(2, math.ceil(len(units) / (n_user - j))) if units else 0
        target = max(rng.choice((1, 2, 2, 3, 3)), 2 if n_turns <= 6 else 1)
        closing = take == 0 and j == n_user - 1 and j > 0 and rng.random() < 0.6
        if closing:
            target -= 1  # the closing line comes last
        elif j == 0 and rng.random() < 0.75:
            sentences.append(_fill(rng, _pick(rng, OPENERS, used), context))
        elif j > 0 and (take == 0 or rng.random() < 0.3):
            answers = USER_REPLIES if symptom_before or rng.random() < 0.3 else USER_ANSWERS
            sentences.append(_fill(rng, _pick(rng, answers, used), context))
        chatted = take and len(sentences) + take < target and rng.random() < 0.5
        if chatted:
            sentences.append(_fill(rng, _pick(rng, SMALL_TALK, used), context))
        for _ in range(take):
            item, level = units.pop(0)
            bank = family_bank(
                POSITIVE[item] if level == 0 else SYMPTOMS[item][variants.get(item, "")][level], family
            )
            sentences.append(_fill(rng, _pick(rng, bank, used), context))
            said.append((item, level))
        while len(sentences) < target:
            pool = ELABORATIONS if said and said[-1][1] > 0 and rng.random() < 0.6 else SMALL_TALK
            chatted = chatted or pool is SMALL_TALK
            sentences.append(_fill(rng, _pick(rng, pool, used), context))
        if closing:
            sentences.append(_pick(rng, USER_CLOSINGS, used))
        texts.append(" ".join(sentences[-3:] if closing else sentences[:3]))
        symptom_before = any(level > 0 for _, level in said)
        if 2 * j + 1 < n_turns:
            texts.append(_reply(rng, used, last=2 * j + 2 == n_turns))
    turns = []
    at = start
    for k, text in enumerate(texts):
        if k:
            at += timedelta(seconds=gaps[k - 1])
        turns.append(Turn(role="user" if k % 2 == 0 else "assistant", text=text, sent_at=at))
    return tuple(turns)


def _reply(rng: random.Random, used: set[str], *, last: bool) -> str:
    """The assistant's turn: item-neutral (see phrases.NEUTRAL_REPLIES), a closing line at the end."""
    return _pick(rng, CLOSINGS if last else NEUTRAL_REPLIES, used)


def _assessments(
    rng: random.Random,
    latent: tuple[tuple[date, tuple[int, ...]], ...],
    sessions: tuple[SyntheticSession, ...],
) -> tuple[SyntheticAssessment, ...]:
    """A questionnaire every 14-28 days from week 2 (3-5 over 12 weeks), never on the last day."""
    last_turn: dict[date, datetime] = {}
    for session in sessions:
        sent = session.turns[-1].sent_at or session.started_at
        day = session.started_at.date()
        last_turn[day] = max(sent, last_turn.get(day, sent))
    out: list[SyntheticAssessment] = []
    index = rng.randint(7, 13)
    while index <= len(latent) - 2 and len(out) < 5:
        day, items = latent[index]
        midnight = datetime.combine(day, time(0, 0), tzinfo=UTC)
        at = midnight + timedelta(hours=8, minutes=rng.randint(0, 13 * 60))
        if day in last_turn:
            at = max(at, last_turn[day] + timedelta(minutes=rng.randint(5, 60)))
        at = min(at, midnight + timedelta(hours=23, minutes=59))
        answers = []
        for k, value in enumerate(items):
            if rng.random() < 0.12 and (k < N_ITEMS - 1 or value > 0):
                value = min(3, max(0, value + rng.choice((-1, 1))))
            answers.append(value)
        out.append(SyntheticAssessment(completed_at=at, items=tuple(answers)))
        index += rng.randint(14, 28)
    return tuple(out)
