"""The triage list's caseload overview, its scopes and filters, and numbers that agree with their charts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from monitor_site.alerts.models import Alert
from monitor_site.dashboards.selectors import engagement_by_week
from monitor_site.dashboards.templatetags.dashboard_tags import sparkline_points
from monitor_site.dashboards.triage import caseload_overview
from monitor_site.patients.models import Patient
from monitor_site.predictions.models import TrajectorySummary
from tests.factories import (
    CareTeamFactory,
    ModelVersionFactory,
    PatientFactory,
    PredictionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _scored(
    team: object, external_id: str, totals: list[float], *, days_ago: int = 1, **extra: object
) -> Patient:
    """A patient with one prediction every 15 days, the last `days_ago` days ago (its last session): the
    baseline (first 14 days of monitoring) is the first total alone."""
    patient = PatientFactory(care_team=team, external_id=external_id, **extra)
    version = ModelVersionFactory()
    end = timezone.now() - timedelta(days=days_ago)
    for i, total in enumerate(totals):
        at = end - timedelta(days=15 * (len(totals) - 1 - i))
        PredictionFactory(
            session__patient=patient,
            session__started_at=at - timedelta(minutes=10),
            session__ended_at=at,
            model_version=version,
            total=total,
            band="severe" if total >= 19.5 else "moderate" if total >= 9.5 else "minimal",
        )
    return patient


@pytest.fixture
def clinic(client: Client) -> dict:
    me, colleague = UserFactory(username="me"), UserFactory(username="colleague")
    team_a, team_b = CareTeamFactory(name="Team A"), CareTeamFactory(name="Team B")
    team_a.members.add(me, colleague)
    team_b.members.add(me)
    patients = {
        # baseline ~3, now 9.5: worse by 6.5 (reliable); mine
        "worse": _scored(team_a, "pt-worse", [3, 9.5], named_clinician=me),
        # baseline 20, now 14.5: 5.5 better, which rounds to 6 (reliable, the one rounding rule)
        "better": _scored(team_a, "pt-better", [20, 14.5]),
        "stable": _scored(team_b, "pt-stable", [10, 12]),
        # last session 20 days ago: overdue
        "overdue": _scored(team_b, "pt-overdue", [4, 4], days_ago=20),
        "unscored": PatientFactory(care_team=team_b, external_id="pt-unscored"),
    }
    client.force_login(me)
    return {"me": me, "colleague": colleague, "team_a": team_a, "team_b": team_b, **patients}


def _ids(response: object) -> list[str]:
    return [p.external_id for p in response.context["page"]]  # type: ignore[attr-defined]


def test_the_overview_counts_bands_change_overdue_and_urgent_for_the_scope(clinic: dict) -> None:
    Alert.objects.create(rule_id=_self_harm_rule_id(), patient=clinic["stable"], urgent=True, total=12.0)
    overview = caseload_overview(Patient.objects.all())
    assert overview["total"] == 5 and overview["unscored"] == 1
    assert dict((k, n) for k, _, n in overview["changes"]) == {"worsening": 1, "improving": 1, "stable": 2}
    # pt-overdue (20 days) and pt-unscored (no session at all)
    assert overview["overdue"] == 2
    assert overview["urgent"] == 1
    bands = {b.key: n for b, n in overview["bands"]}
    assert bands["moderate"] == 3 and bands["minimal"] == 1 and bands["severe"] == 0


def _self_harm_rule_id() -> int:
    from monitor_site.alerts.models import AlertRule

    return AlertRule.objects.create(name="t item 9", kind="self_harm", threshold=0.5).pk


def test_each_overview_count_links_to_the_patients_it_counts(client: Client, clinic: dict) -> None:
    assert _ids(client.get("/?change=worsening")) == ["pt-worse"]
    assert _ids(client.get("/?change=improving")) == ["pt-better"]
    assert sorted(_ids(client.get("/?change=stable"))) == ["pt-overdue", "pt-stable"]
    assert sorted(_ids(client.get("/?overdue=1"))) == ["pt-overdue", "pt-unscored"]
    html = client.get("/").content.decode()
    assert 'href="?change=worsening"' in html and 'href="?overdue=1"' in html


def test_my_patients_are_those_i_am_named_for_and_the_overview_follows(client: Client, clinic: dict) -> None:
    response = client.get("/?scope=mine")
    assert _ids(response) == ["pt-worse"]
    assert response.context["overview"]["total"] == 1
    assert 'href="?change=worsening&amp;scope=mine"' in response.content.decode()


def test_a_member_of_several_teams_filters_by_team(client: Client, clinic: dict) -> None:
    response = client.get(f"/?team={clinic['team_b'].pk}")
    assert sorted(_ids(response)) == ["pt-overdue", "pt-stable", "pt-unscored"]
    assert response.context["overview"]["total"] == 3


def test_a_team_that_is_not_mine_filters_nothing_in(client: Client, clinic: dict) -> None:
    other = CareTeamFactory(name="Team C")
    PatientFactory(care_team=other, external_id="pt-other")
    response = client.get(f"/?team={other.pk}")
    assert "pt-other" not in _ids(response) and len(_ids(response)) == 5


@pytest.mark.parametrize(
    "query", ["change=sideways", "scope=everyone", "band=purple", "overdue=yes", "sort=evil"]
)
def test_unknown_filter_values_are_ignored_not_errors(client: Client, clinic: dict, query: str) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 200 and len(_ids(response)) == 5


def test_the_list_shows_the_latest_interval_and_the_named_clinician(client: Client, clinic: dict) -> None:
    html = client.get("/?q=pt-worse").content.decode()
    assert "(5.5–13.5)" in html  # the factory's interval: total ± 4
    assert "· me" in html


def test_the_4_week_change_is_the_change_the_sparkline_draws(clinic: dict) -> None:
    patient = PatientFactory(care_team=clinic["team_a"])
    version = ModelVersionFactory()
    end = timezone.now()
    # Week 1: 10 and 20 (mean 15); week 4: 12 and then 18 (mean 15). Last minus first total would be +8.
    for days_ago, total in ((27, 10.0), (26, 20.0), (2, 12.0), (1, 18.0)):
        at = end - timedelta(days=days_ago)
        PredictionFactory(
            session__patient=patient, session__ended_at=at, window_end=at, model_version=version, total=total
        )
    summary = TrajectorySummary.objects.get(pk=patient.pk)
    assert summary.trend[0] == summary.trend[-1] == 15.0
    assert summary.change_4_weeks == 0.0


def test_the_sparkline_scales_to_its_own_range() -> None:
    points = [tuple(map(float, p.split(","))) for p in sparkline_points([10.0, 12.0, 14.0]).split()]
    ys = [y for _, y in points]
    assert max(ys) - min(ys) > 15  # a 4-point change fills the 20 px box, not 3 px of a 0..27 scale
    flat = [float(p.split(",")[1]) for p in sparkline_points([10.0, 10.4]).split()]
    assert abs(flat[0] - flat[1]) < 4  # under the minimum span a near-flat series stays near-flat


def test_weeks_without_sessions_count_as_zero_up_to_now(clinic: dict) -> None:
    weeks = engagement_by_week(patient=clinic["overdue"])
    assert weeks[-1].week <= timezone.now() < weeks[-1].week + timedelta(weeks=1)
    assert weeks[-1].sessions == 0 and sum(w.sessions for w in weeks) == 2
    gaps = [b.week - a.week for a, b in zip(weeks, weeks[1:], strict=False)]
    assert all(g == timedelta(weeks=1) for g in gaps)


def test_the_overview_is_kept_a_few_seconds_per_scope_while_the_rows_stay_live(
    client: Client, clinic: dict
) -> None:
    assert client.get("/").context["overview"]["total"] == 5
    PatientFactory(care_team=clinic["team_b"], external_id="pt-new")
    response = client.get("/?sort=patient")  # another sort of the same scope: the kept counts
    assert response.context["overview"]["total"] == 5 and "pt-new" in _ids(response)
    assert client.get(f"/?team={clinic['team_b'].pk}").context["overview"]["total"] == 4  # another scope
