from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor_site.bench.alert_rules import Point, missed_crossings, replay_episodes

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _points(pairs: list[tuple[float, float]]) -> list[Point]:
    return [Point(T0 + timedelta(days=3 * i), total, low) for i, (total, low) in enumerate(pairs)]


def test_a_confident_rule_waits_for_the_lower_bound() -> None:
    points = _points([(11, 7), (12, 8), (13, 10), (14, 10.5), (8, 4), (7, 3)])
    assert replay_episodes(points, 10, confident=False) == [(points[1].at, points[5].at)]
    assert replay_episodes(points, 10, confident=True) == [(points[3].at, points[5].at)]
    assert replay_episodes(points[:4], 15, confident=False) == []


def test_a_questionnaire_crossing_is_caught_by_an_open_or_soon_opened_episode() -> None:
    episodes = [(T0 + timedelta(days=10), T0 + timedelta(days=30))]
    questionnaires = [
        (T0 + timedelta(days=20), 12),  # inside the episode
        (T0, 14),  # the episode opened 10 days later: caught
        (T0 + timedelta(days=40), 11),  # after it ended: missed
        (T0 + timedelta(days=41), 6),  # below the line: no crossing
    ]
    assert missed_crossings(episodes, questionnaires, 10) == (3, 1)


@pytest.mark.django_db
def test_the_command_counts_both_ways_and_labels_synthetic_data() -> None:
    from io import StringIO

    from django.core.management import call_command

    from tests.factories import AssessmentFactory, ModelVersionFactory, PatientFactory, PredictionFactory

    patient, version = PatientFactory(is_synthetic=True), ModelVersionFactory()
    for total in (12.0, 13.0):
        PredictionFactory(
            session__patient=patient, model_version=version, total=total, interval_low=total - 5
        )
    AssessmentFactory(patient=patient, total=12, items=[1] * 8 + [4 - 4])
    out = StringIO()
    call_command("bench_alert_rules", stdout=out)
    text = out.getvalue()
    assert "synthetic demo clinic: not evidence" in text
    assert "   10  point             1        1" in text and "   10  confident         0        0" in text
