"""Episodes: one open alert per patient and rule (or ladder of lines), steps, ends, quiet closes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.alerts.services import (
    alert_acknowledge,
    alerts_close_quiet,
    alerts_evaluate,
    alerts_evaluate_self_report,
)
from monitor_site.audit.models import AuditEvent
from monitor_site.patients.services.ingest import assessment_ingest
from tests.factories import CareTeamFactory, ModelVersionFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient() -> object:
    team = CareTeamFactory()
    team.members.add(UserFactory(email="dr.a@example.org"))
    return PatientFactory(care_team=team)


@pytest.fixture
def version() -> object:
    return ModelVersionFactory()


def _scores(patient: object, version: object, totals: list[float], *, item9: float = 0.0) -> list[object]:
    from tests.alerts.test_services import _scores as scores

    return scores(patient, version, totals, item9=item9)


def _model_lines_only() -> None:
    AlertRule.objects.exclude(kind="threshold", source="model").update(is_active=False)


def _open(patient: object) -> list[Alert]:
    return list(Alert.objects.filter(patient=patient).exclude(status="resolved").select_related("rule"))


def _history(alert: Alert) -> str:
    alert.refresh_from_db()
    return " | ".join(text for _, text in alert.history_lines)


def test_a_score_over_several_lines_opens_one_alert_at_the_highest(patient: object, version: object) -> None:
    _model_lines_only()
    _scores(patient, version, [21, 22])
    opened = alerts_evaluate(patient_ids=[patient.pk])
    assert [a.rule.threshold for a in opened] == [20]
    assert len(_open(patient)) == 1
    assert "also crossed >= 10 (10–14), >= 15 (15–19): folded into this alert" in _history(opened[0])


def test_a_step_down_keeps_the_episode_open_at_the_lower_line_and_says_so(
    patient: object, version: object
) -> None:
    _model_lines_only()
    _scores(patient, version, [21, 22])
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    rows = _scores(patient, version, [17, 16])
    assert alerts_evaluate(patient_ids=[patient.pk]) == []  # a step down is not news: no e-mail
    alert.refresh_from_db()
    assert alert.rule.threshold == 15 and alert.episode_ended_at is None and alert.status == "open"
    assert alert.total == 16 and alert.band == "moderately_severe"
    assert "stepped down from >= 20 (20–27) to >= 15 (15–19)" in _history(alert)
    assert alert.history_lines[-1][0] == rows[0].window_end  # the first window under 20
    assert len(_open(patient)) == 1


def test_a_step_up_reopens_the_alert_at_the_higher_line(
    patient: object, version: object, user: object
) -> None:
    _model_lines_only()
    _scores(patient, version, [11, 12])
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    alert_acknowledge(alert=alert, user=user)
    _scores(patient, version, [20, 21])
    assert [a.pk for a in alerts_evaluate(patient_ids=[patient.pk])] == [alert.pk]  # e-mailed again
    alert.refresh_from_db()
    assert alert.rule.threshold == 20 and alert.status == "open"
    assert "stepped up from >= 10 (10–14) to >= 20 (20–27)" in _history(alert)
    assert f"had been acknowledged by {user.username}" in _history(alert)


def test_a_second_crossing_of_the_same_rule_updates_its_episode(patient: object, version: object) -> None:
    _model_lines_only()
    _scores(patient, version, [12, 12])
    first = alerts_evaluate(patient_ids=[patient.pk])[0]
    _scores(patient, version, [5, 5])
    alerts_evaluate(patient_ids=[patient.pk])
    first.refresh_from_db()
    assert first.episode_ended_at is not None and first.status == "open"
    rows = _scores(patient, version, [14, 14])
    assert [a.pk for a in alerts_evaluate(patient_ids=[patient.pk])] == [first.pk]
    first.refresh_from_db()
    assert first.episode_ended_at is None and first.crossed_at == rows[-1].window_end
    assert "crossed again" in _history(first)
    assert Alert.objects.filter(patient=patient).count() == 1


def test_condition_ended_is_the_time_of_the_first_window_back_under_the_line(
    patient: object, version: object
) -> None:
    _model_lines_only()
    _scores(patient, version, [12, 12])
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    rows = _scores(patient, version, [5, 4, 3])  # evaluated late: three windows under the line
    alerts_evaluate(patient_ids=[patient.pk])
    alert.refresh_from_db()
    assert alert.episode_ended_at == rows[0].window_end


def test_no_patient_can_have_two_open_alerts_for_one_rule_or_one_ladder(patient: object) -> None:
    """The database refuses them, whatever writes them (two workers racing, a bulk writer)."""
    ten, fifteen = (AlertRule.objects.get(source="model", kind="threshold", threshold=t) for t in (10, 15))
    Alert.objects.create(rule=ten, patient=patient, episode_ended_at=timezone.now())  # ended, still open
    for rule in (ten, fifteen):
        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(rule=rule, patient=patient)
    item9 = AlertRule.objects.get(source="model", kind="self_harm")
    Alert.objects.create(rule=item9, patient=patient)  # its own key: item 9 never folds
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(rule=item9, patient=patient, episode_ended_at=timezone.now())


def test_a_questionnaire_over_several_lines_opens_one_alert_and_item9_apart(patient: object) -> None:
    AlertRule.objects.filter(source="model").update(is_active=False)
    result = assessment_ingest(
        source=patient.source,  # type: ignore[attr-defined]
        patient_external_id=patient.external_id,  # type: ignore[attr-defined]
        care_team=patient.care_team,  # type: ignore[attr-defined]
        completed_at=timezone.now() - timedelta(days=3),
        items=[3, 3, 3, 2, 2, 3, 2, 2, 1],  # 21, item 9 answered
    )
    alerts_evaluate_self_report(patient_ids=[result.obj.patient_id])
    alerts = sorted(_open(patient), key=lambda a: a.urgent)
    assert [(a.rule.kind, a.rule.threshold, a.urgent) for a in alerts] == [
        ("threshold", 20, False),
        ("self_harm", 1, True),
    ]


@pytest.fixture
def user() -> object:
    return UserFactory()


def test_an_ended_alert_nobody_took_up_closes_after_the_quiet_period_and_says_so(
    patient: object, version: object, settings: object, user: object
) -> None:
    settings.ALERT_CLOSE_AFTER_QUIET_DAYS = 14  # type: ignore[attr-defined]
    _model_lines_only()
    _scores(patient, version, [12, 12])
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    rows = _scores(patient, version, [5, 5])
    settings.ALERT_CLOSE_AFTER_QUIET_DAYS = 0  # type: ignore[attr-defined]
    alerts_evaluate(patient_ids=[patient.pk])
    settings.ALERT_CLOSE_AFTER_QUIET_DAYS = 14  # type: ignore[attr-defined]
    ended = rows[0].window_end
    assert alerts_close_quiet(now=ended + timedelta(days=13)) == 0
    assert alerts_close_quiet(now=ended + timedelta(days=14, minutes=1)) == 1
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by is None
    assert "closed automatically" in alert.resolve_note and "closed automatically" in _history(alert)
    assert AuditEvent.objects.filter(action="alert.resolve", object_id=str(alert.pk), actor=None).exists()


def test_an_acknowledged_or_urgent_alert_never_closes_by_itself(
    patient: object, version: object, settings: object, user: object
) -> None:
    AlertRule.objects.exclude(source="model", kind__in=["threshold", "self_harm"]).update(is_active=False)
    _scores(patient, version, [21, 21], item9=2.0)
    alerts = alerts_evaluate(patient_ids=[patient.pk])
    assert sorted(a.urgent for a in alerts) == [False, True]
    alert_acknowledge(alert=next(a for a in alerts if not a.urgent), user=user)
    _scores(patient, version, [2, 2], item9=0.0)
    alerts_evaluate(patient_ids=[patient.pk])
    assert Alert.objects.filter(patient=patient, episode_ended_at__isnull=False).count() == 2
    settings.ALERT_CLOSE_AFTER_QUIET_DAYS = 14  # type: ignore[attr-defined]
    assert alerts_close_quiet(now=timezone.now() + timedelta(days=365)) == 0
    assert len(_open(patient)) == 2


def test_a_score_back_over_the_line_within_the_quiet_period_keeps_the_alert(
    patient: object, version: object, settings: object
) -> None:
    """Hovering between the hysteresis bounds (one window over, one under) is not quiet."""
    _model_lines_only()
    _scores(patient, version, [12, 12])
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    rows = _scores(patient, version, [5, 5])
    alerts_evaluate(patient_ids=[patient.pk])
    _scores(patient, version, [11])  # one window back over: not a crossing yet, not quiet either
    alerts_evaluate(patient_ids=[patient.pk])
    alert.refresh_from_db()
    assert alert.episode_ended_at == rows[0].window_end
    settings.ALERT_CLOSE_AFTER_QUIET_DAYS = 14  # type: ignore[attr-defined]
    assert alerts_close_quiet(now=rows[0].window_end + timedelta(days=30)) == 0


def test_the_quiet_period_default_is_documented_and_not_zero() -> None:
    from pathlib import Path

    from monitor_site import settings as site_settings

    assert site_settings.ALERT_CLOSE_AFTER_QUIET_DAYS == 14
    docs = (Path(site_settings.BASE_DIR) / "docs" / "deploying.md").read_text()
    assert "| `ALERT_CLOSE_AFTER_QUIET_DAYS` | `14` |" in docs


def test_bulk_writers_fill_in_the_episode_key(patient: object) -> None:
    rule = AlertRule.objects.get(source="self_report", kind="threshold", threshold=15)
    alert = Alert.objects.create(rule=rule, patient=patient)
    assert alert.episode_key == "lines:self_report"


def _questionnaire(patient: object, items: list[int], *, days_ago: int) -> list[Alert]:
    result = assessment_ingest(
        source=patient.source,  # type: ignore[attr-defined]
        patient_external_id=patient.external_id,  # type: ignore[attr-defined]
        care_team=patient.care_team,  # type: ignore[attr-defined]
        completed_at=timezone.now() - timedelta(days=days_ago),
        items=items,
    )
    return alerts_evaluate_self_report(patient_ids=[result.obj.patient_id])


def test_a_patient_above_a_line_has_one_open_alert_whatever_the_sources_say(
    patient: object, version: object
) -> None:
    """The model at >= 15 and the patient's own questionnaire at >= 15: one alert, the patient's own;
    the model's is folded into it, and re-opens when the questionnaire's condition ends first."""
    AlertRule.objects.exclude(kind="threshold").update(is_active=False)
    _scores(patient, version, [16, 17])
    model = alerts_evaluate(patient_ids=[patient.pk])[0]
    _questionnaire(patient, [2, 2, 2, 2, 2, 2, 2, 1, 0], days_ago=5)  # 15
    assert [a.rule.source for a in _open(patient)] == ["self_report"]
    model.refresh_from_db()
    assert model.status == "resolved" and model.folded_into is not None
    assert "folded into this alert" in _history(model.folded_into)
    assert alerts_evaluate(patient_ids=[patient.pk]) == []  # folded stays folded: no e-mail again
    reopened = _questionnaire(patient, [1, 1, 0, 0, 0, 0, 0, 0, 0], days_ago=1)  # under every line
    assert [a.pk for a in reopened] == [model.pk]  # the model still says >= 15: someone should look
    assert "re-opened" in _history(model)


def test_the_lower_line_folds_into_the_higher_whichever_source(patient: object, version: object) -> None:
    AlertRule.objects.exclude(kind__in=["threshold", "deterioration"]).update(is_active=False)
    _questionnaire(patient, [2, 2, 1, 1, 1, 1, 1, 1, 0], days_ago=40)  # 10
    _scores(patient, version, [21, 22])
    alerts_evaluate(patient_ids=[patient.pk])
    [alert] = _open(patient)
    assert alert.rule.source == "model" and alert.rule.threshold == 20
    assert "Self-report: PHQ-9 at or above 10" in _history(alert)


def test_item9_never_folds(patient: object, version: object) -> None:
    AlertRule.objects.exclude(source="model", kind__in=["threshold", "self_harm"]).update(is_active=False)
    _scores(patient, version, [21, 22], item9=2.0)
    alerts_evaluate(patient_ids=[patient.pk])
    assert sorted(a.urgent for a in _open(patient)) == [False, True]
