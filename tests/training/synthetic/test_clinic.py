from __future__ import annotations

import re
import statistics
from datetime import UTC, date, datetime, timedelta
from functools import cache

import pytest

from training.synthetic.clinic import (
    IDEATION_MIN_TOTAL,
    TRAJECTORIES,
    SyntheticPatient,
    family_bank,
    generate_clinic,
    latent_items,
    symptom_templates,
)
from training.synthetic.phrases import POSITIVE, SYMPTOMS

END = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
WEEKS = 12


@cache
def clinic() -> tuple[SyntheticPatient, ...]:
    return tuple(generate_clinic(n_patients=60, weeks=WEEKS, end=END, seed=7))


def first_day(end: datetime = END, weeks: int = WEEKS) -> date:
    return end.date() - timedelta(days=weeks * 7 - 1)


def user_text(turns: tuple) -> str:
    return " ".join(t.text for t in turns if t.role == "user")


def template_pattern(templates: tuple[str, ...]) -> re.Pattern[str]:
    """A template's literal words with each {slot} standing for a run of words inside one sentence."""
    alternatives = ["[^.!?]+?".join(re.escape(part) for part in re.split(r"\{\w+\}", t)) for t in templates]
    return re.compile("|".join(alternatives), re.IGNORECASE)


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text)


def latent_total_first_and_last_week(patient: SyntheticPatient) -> tuple[float, float]:
    totals = [sum(items) for _, items in patient.latent]
    return statistics.mean(totals[:7]), statistics.mean(totals[-7:])


def test_it_is_deterministic_for_a_seed_and_differs_across_seeds() -> None:
    again = tuple(generate_clinic(n_patients=60, weeks=WEEKS, end=END, seed=7))
    assert again == clinic()
    other = generate_clinic(n_patients=60, weeks=WEEKS, end=END, seed=8)
    assert [p.sessions for p in other] != [p.sessions for p in clinic()]


def test_it_respects_n_patients_and_mixes_every_trajectory_and_team() -> None:
    patients = clinic()
    assert len(patients) == 60
    assert len({p.external_id for p in patients}) == 60
    assert all(re.fullmatch(r"syn-p\d{3}", p.external_id) for p in patients)
    counts = {kind: sum(p.trajectory == kind for p in patients) for kind in TRAJECTORIES}
    assert all(12 <= n <= 18 for n in counts.values()), counts
    assert {p.care_team for p in patients} == {"North team", "South team", "East team"}
    solo = generate_clinic(n_patients=5, weeks=3, end=END, seed=1, care_teams=("Solo",))
    assert {p.care_team for p in solo} == {"Solo"}


def test_it_schedules_two_to_four_sessions_every_week() -> None:
    for patient in clinic():
        start = patient.latent[0][0]  # the late cohort starts halfway
        per_week = [0] * (len(patient.latent) // 7)
        for session in patient.sessions:
            per_week[(session.started_at.date() - start).days // 7] += 1
        assert all(2 <= n <= 4 for n in per_week), (patient.external_id, per_week)
        ids = [s.external_id for s in patient.sessions]
        assert len(set(ids)) == len(ids) and all(i.startswith(patient.external_id + "-s") for i in ids)


def test_it_alternates_turns_from_the_user_with_ordered_aware_times_inside_the_range() -> None:
    earliest = datetime.combine(first_day(), datetime.min.time(), tzinfo=UTC)
    for patient in clinic():
        previous_start = earliest
        for session in patient.sessions:
            assert session.started_at.utcoffset() == timedelta(0)
            assert previous_start <= session.started_at
            previous_start = session.started_at
            assert 4 <= len(session.turns) <= 12
            assert [t.role for t in session.turns] == ["user", "assistant"] * (len(session.turns) // 2) + [
                "user"
            ] * (len(session.turns) % 2)
            times = [t.sent_at for t in session.turns]
            assert all(t is not None and t.tzinfo is not None for t in times)
            assert times[0] is not None and times[0] >= session.started_at
            assert all(a <= b for a, b in zip(times, times[1:], strict=False))  # type: ignore[operator]
            assert times[-1] is not None and times[-1] <= END
            assert all(t.text.strip() for t in session.turns)


def test_it_keeps_everything_before_an_end_at_midnight() -> None:
    end = datetime(2026, 1, 1, tzinfo=UTC)
    patients = generate_clinic(n_patients=8, weeks=3, end=end, seed=101)
    for patient in patients:
        assert patient.sessions and all(t.sent_at <= end for s in patient.sessions for t in s.turns)  # type: ignore[operator]
        assert all(a.completed_at <= end for a in patient.assessments)
        assert len(latent_items(patient, end)) == 9
        assert patient.latent[-1][0] == end.date() and len(patient.latent) == 21


def test_it_refuses_a_naive_end() -> None:
    with pytest.raises(ValueError):
        generate_clinic(n_patients=2, weeks=3, end=datetime(2026, 1, 1))


def test_it_gives_about_the_requested_share_questionnaires_every_two_to_four_weeks() -> None:
    patients = clinic()
    with_q = [p for p in patients if p.assessments]
    assert 0.3 <= len(with_q) / len(patients) <= 0.5
    for patient in with_q:
        assert (2 if patient.family == "held-out" else 3) <= len(patient.assessments) <= 5
        days = [a.completed_at.date() for a in patient.assessments]
        assert days[0] >= patient.latent[0][0] + timedelta(days=7)
        assert all(14 <= (b - a).days <= 28 for a, b in zip(days, days[1:], strict=False))
        for assessment in patient.assessments:
            assert len(assessment.items) == 9
            assert all(isinstance(v, int) and 0 <= v <= 3 for v in assessment.items)
            assert assessment.completed_at.utcoffset() == timedelta(0) and assessment.completed_at <= END
            latent = latent_items(patient, assessment.completed_at)
            assert sum(abs(a - b) for a, b in zip(assessment.items, latent, strict=True)) <= 5
            same_day = [s for s in patient.sessions if s.started_at.date() == assessment.completed_at.date()]
            assert all(s.turns[-1].sent_at < assessment.completed_at for s in same_day)  # type: ignore[operator]
    half = generate_clinic(n_patients=20, weeks=WEEKS, end=END, seed=3, questionnaire_share=0.5)
    assert sum(bool(p.assessments) for p in half) == 10


def test_it_makes_improving_patients_fall_and_worsening_patients_rise() -> None:
    for patient in clinic():
        first, last = latent_total_first_and_last_week(patient)
        if patient.trajectory == "improving":
            assert first - last >= 4 and first >= 10, (patient.external_id, first, last)
        elif patient.trajectory == "worsening":
            assert last - first >= 4 and last >= 10, (patient.external_id, first, last)
        elif patient.trajectory == "relapsing":
            totals = [sum(items) for _, items in patient.latent]
            trough = min(statistics.mean(totals[k : k + 7]) for k in range(0, len(totals) - 6, 7))
            assert last - trough >= 3 and first - trough >= 4, (patient.external_id, first, trough, last)


def test_it_keeps_latent_items_in_range_with_differing_item_profiles() -> None:
    leading = set()
    for patient in clinic():
        late = patient.family == "held-out"
        assert len(patient.latent) == (WEEKS * 7 - WEEKS // 2 * 7 if late else WEEKS * 7)
        assert patient.latent[0][0] == first_day() + timedelta(days=WEEKS // 2 * 7 if late else 0)
        assert patient.latent[-1][0] == END.date()
        assert all(len(items) == 9 and all(0 <= v <= 3 for v in items) for _, items in patient.latent)
        means = [statistics.mean(items[k] for _, items in patient.latent) for k in range(8)]
        leading.add(max(range(8), key=means.__getitem__))
    assert len(leading) >= 4


def test_it_raises_item_nine_only_in_a_minority_and_only_when_severe() -> None:
    patients = clinic()
    for patient in patients:
        for _, items in patient.latent:
            if items[8] > 0:
                assert sum(items) >= IDEATION_MIN_TOTAL and sum(items[:8]) >= IDEATION_MIN_TOTAL
    with_ideation = sum(any(items[8] for _, items in p.latent) for p in patients)
    assert 1 <= with_ideation < len(patients) / 2


def test_it_has_enough_varied_phrasings_for_every_item_and_intensity() -> None:
    for item in range(1, 10):
        for intensity in (1, 2, 3):
            templates = symptom_templates(item, intensity)
            assert len(set(templates)) >= 5, (item, intensity)
        if item < 9:
            assert len(symptom_templates(item, 0)) >= 5
    assert symptom_templates(9, 0) == ()


def test_it_writes_short_sessions_without_contact_details() -> None:
    words = []
    for patient in clinic():
        for session in patient.sessions:
            words.append(sum(len(t.text.split()) for t in session.turns))
            for turn in session.turns:
                assert not re.search(r"@|https?:|www\.|\.com\b|\d{5,}|\{|\}", turn.text), turn.text
                assert 1 <= len(re.findall(r"[.!?](?:\s|$)", turn.text)) <= (3 if turn.role == "user" else 2)
    assert 80 <= statistics.median(words) <= 250
    assert max(words) <= 300


def test_it_mentions_sleep_problems_when_latent_sleep_is_high() -> None:
    severe_sleep = template_pattern(symptom_templates(3, 2) + symptom_templates(3, 3))
    mentioned: list[int] = []
    not_mentioned: list[int] = []
    for patient in clinic():
        for session in patient.sessions:
            score = latent_items(patient, session.started_at)[2]
            said = any(severe_sleep.fullmatch(x) for x in sentences(user_text(session.turns)))
            (mentioned if said else not_mentioned).append(score)
    assert len(mentioned) >= 50
    assert statistics.mean(mentioned) >= 2.0 > statistics.mean(not_mentioned) + 0.5


def test_it_says_more_symptom_sentences_when_the_latent_total_is_higher() -> None:
    every = tuple(t for item in range(1, 10) for k in (1, 2, 3) for t in symptom_templates(item, k))
    pattern = template_pattern(every)
    totals: list[float] = []
    counts: list[float] = []
    for patient in clinic():
        for session in patient.sessions:
            totals.append(float(sum(latent_items(patient, session.started_at))))
            said = sentences(user_text(session.turns))
            counts.append(float(sum(bool(pattern.fullmatch(x)) for x in said)))
    assert statistics.correlation(totals, counts) > 0.3
    assert 0.05 < counts.count(0.0) / len(counts) < 0.5  # some sessions carry nothing clinical at all
    assert max(counts) <= 4


def test_the_assistant_says_the_same_things_whatever_the_patient_said() -> None:
    from training.synthetic.phrases import CLOSINGS, NEUTRAL_REPLIES

    replies = {
        turn.text
        for patient in clinic()
        for session in patient.sessions
        for turn in session.turns
        if turn.role == "assistant"
    }
    assert replies and replies <= set(NEUTRAL_REPLIES) | set(CLOSINGS)  # no reply tied to an item


def test_the_patients_who_enrol_last_speak_a_paraphrase_family_nobody_else_uses() -> None:
    patients = clinic()
    late = [p for p in patients if p.family == "held-out"]
    with_q = [p for p in patients if p.assessments]
    assert len(late) == round(0.2 * len(with_q)) and all(p.assessments for p in late)
    # they enrol after everyone else's first questionnaire: the time-ordered split tests exactly them
    first_main = max(p.assessments[0].completed_at for p in with_q if p.family == "main")
    assert all(p.assessments[0].completed_at > first_main for p in late)
    banks = [b for item in SYMPTOMS.values() for d in item.values() for b in d.values()]
    banks += list(POSITIVE.values())
    held_out = {t for b in banks for t in family_bank(b, "held-out")}
    main = {t for b in banks for t in family_bank(b, "main")}
    assert held_out.isdisjoint(main)
    main_lines = " ".join(t.text for p in patients if p.family == "main" for s in p.sessions for t in s.turns)
    late_lines = " ".join(t.text for p in late for s in p.sessions for t in s.turns)
    assert template_pattern(tuple(held_out)).search(late_lines)
    assert not template_pattern(tuple(held_out - main)).search(main_lines)


def test_the_template_lookup_reads_the_generators_sentences_back() -> None:
    from scoring.types import Conversation, Turn, Window
    from training.synthetic.lookup import template_lookup_items

    sleep = family_bank(SYMPTOMS[3]["less"][3], "held-out")[0]
    text = sleep.replace("{time}", "3am").replace("{hours}", "four hours")
    turns = (Turn("user", "Hi. " + text[0].upper() + text[1:]), Turn("assistant", "Thanks for telling me."))
    items = template_lookup_items(Window("w", (Conversation("c", turns),)))
    assert items[2] == 3.0 and sum(items) == 3.0
    assistant_only = Window("a", (Conversation("c", (Turn("assistant", text),)),))
    assert sum(template_lookup_items(assistant_only)) == 0.0
