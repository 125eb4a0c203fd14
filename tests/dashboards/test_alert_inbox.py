"""The inbox is the list of patients who need someone now, in that order; acting keeps your place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from monitor_site.alerts.models import Alert, AlertRule
from tests.factories import T0, CareTeamFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team() -> object:
    return CareTeamFactory(name="Team A")


@pytest.fixture
def clinician(client: Client, team: object) -> object:
    user = UserFactory(email="a@example.org")
    team.members.add(user)  # type: ignore[attr-defined]
    client.force_login(user)
    return user


def _alert(
    team: object, name: str, *, source: str, kind: str, threshold: float, total: float, day: int
) -> Alert:
    from scoring.phq9 import band_for

    rule = AlertRule.objects.get(source=source, kind=kind, threshold=threshold)
    return Alert.objects.create(
        rule=rule,
        patient=PatientFactory(care_team=team, external_id=name),
        urgent=rule.urgent,
        total=total,
        band=band_for(total).key,
        crossed_at=T0 + timedelta(days=day),
        opened_at=T0 + timedelta(days=60 - day),  # processed in the opposite order: it must not matter
    )


@pytest.fixture
def inbox(team: object) -> list[Alert]:
    """In the order the inbox must show them."""
    return [
        _alert(team, "urgent-model", source="model", kind="self_harm", threshold=0.5, total=8, day=1),
        _alert(team, "self-21", source="self_report", kind="threshold", threshold=20, total=21, day=2),
        _alert(team, "self-16", source="self_report", kind="threshold", threshold=15, total=16, day=9),
        _alert(team, "self-12-new", source="self_report", kind="threshold", threshold=10, total=12, day=8),
        _alert(team, "self-12-old", source="self_report", kind="threshold", threshold=10, total=12, day=3),
        _alert(team, "model-22", source="model", kind="threshold", threshold=20, total=22.4, day=4),
        _alert(team, "model-14.6", source="model", kind="threshold", threshold=15, total=14.6, day=11),
        _alert(team, "model-11", source="model", kind="threshold", threshold=10, total=11, day=12),
    ]


def test_the_inbox_lists_urgent_then_self_report_then_model_each_by_severity_then_crossing(
    client: Client, clinician: object, inbox: list[Alert]
) -> None:
    shown = list(client.get("/alerts/").context["page"])
    assert [a.patient.external_id for a in shown] == [a.patient.external_id for a in inbox]


def test_the_grouped_inbox_orders_patients_the_same_way(
    client: Client, clinician: object, inbox: list[Alert]
) -> None:
    groups = client.get("/alerts/?group=patient").context["groups"]
    assert [g.external_id for g in groups] == [a.patient.external_id for a in inbox]


def test_the_patient_page_lists_their_alerts_in_the_inbox_order(
    client: Client, clinician: object, team: object
) -> None:
    patient = PatientFactory(care_team=team)
    rules = {(r.source, r.kind, r.threshold): r for r in AlertRule.objects.all()}
    model = Alert.objects.create(
        rule=rules[("model", "threshold", 10)], patient=patient, total=12, band="moderate"
    )
    mine = Alert.objects.create(
        rule=rules[("self_report", "threshold", 10)], patient=patient, total=11, band="moderate"
    )
    urgent = Alert.objects.create(
        rule=rules[("model", "self_harm", 0.5)], patient=patient, urgent=True, total=3, band="minimal"
    )
    alerts = client.get(f"/patients/{patient.pk}/").context["alerts"]
    assert [a.pk for a in alerts] == [urgent.pk, mine.pk, model.pk]


def test_acknowledging_or_resolving_keeps_your_place(
    client: Client, clinician: object, inbox: list[Alert]
) -> None:
    third, fourth = inbox[2], inbox[3]
    page = client.get("/alerts/?team=&page=1")
    assert f'name="after" value="alert-{fourth.pk}"' in page.content.decode()
    back = client.post(f"/alerts/{third.pk}/acknowledge/", {"next": "/alerts/?page=1"})
    assert back["Location"] == f"/alerts/?page=1#alert-{third.pk}"
    back = client.post(
        f"/alerts/{third.pk}/resolve/", {"next": "/alerts/?page=1", "after": f"alert-{fourth.pk}"}
    )
    assert back["Location"] == f"/alerts/?page=1#alert-{fourth.pk}"  # its row is gone: the next one
    back = client.post(f"/alerts/{fourth.pk}/resolve/", {"next": "https://evil.example/", "after": "x"})
    assert back["Location"] == f"/alerts/#alert-{fourth.pk}"


def test_every_printed_report_page_carries_the_patient_the_date_page_numbers_and_the_notice(
    client: Client, clinician: object, team: object
) -> None:
    patient = PatientFactory(care_team=team, external_id='pt-"};x')
    plain = client.get(f"/patients/{patient.pk}/report/").content.decode()
    head = plain.split("</style>")[0]
    assert "@top-left" in head and 'counter(page) " of " counter(pages)' in head
    assert "pt-\\000022\\00007d\\00003bx" in head  # patient data cannot end the string or the block
    assert "Contains conversation text" not in head
    evidence = client.get(f"/patients/{patient.pk}/report/?evidence=1").content.decode()
    assert '@top-right { content: "Contains conversation text' in evidence.split("</style>")[0]
