"""Patient data in the admin is scoped to the staff user's care teams (superusers: all) and every read
is audited, as the clinicians' pages are."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from monitor_site.audit.models import AuditEvent
from tests.factories import AssessmentFactory, CareTeamFactory, PatientFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_teams() -> dict:
    mine, other = CareTeamFactory(name="Mine"), CareTeamFactory(name="Other")
    world = {}
    for team in (mine, other):
        patient = PatientFactory(care_team=team, external_id=f"pt-{team.name.lower()}")
        world[team.name] = {
            "patient": patient,
            "assessment": AssessmentFactory(patient=patient),
            "prediction": PredictionFactory(session__patient=patient),
        }
    world["team"] = mine
    return world


def _viewer(client: Client, team: object, *, superuser: bool = False) -> object:
    user = UserFactory(username="admin-viewer", is_staff=True, is_superuser=superuser)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    team.members.add(user)  # type: ignore[attr-defined]
    client.force_login(user)
    return user


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("patient", "/admin/patients/patient/"),
        ("assessment", "/admin/patients/assessment/"),
        ("prediction", "/admin/predictions/prediction/"),
    ],
)
def test_a_staff_user_reads_only_their_teams_patient_data_and_each_read_is_audited(
    client: Client, two_teams: dict, key: str, url: str
) -> None:
    _viewer(client, two_teams["team"])
    listing = client.get(url)
    assert listing.status_code == 200
    shown = {obj.pk for obj in listing.context_data["cl"].result_list}
    assert shown == {two_teams["Mine"][key].pk}
    assert client.get(f"{url}{two_teams['Mine'][key].pk}/change/").status_code == 200
    assert client.get(f"{url}{two_teams['Other'][key].pk}/change/").status_code != 200  # "does not exist"
    events = AuditEvent.objects.filter(action=AuditEvent.Action.ADMIN_VIEW)
    assert [e.detail["view"] for e in events.order_by("pk")] == ["list", "object"]
    assert events.get(detail__view="object").patient_id == two_teams["Mine"]["patient"].pk


def test_a_superuser_reads_every_team_and_is_audited_too(client: Client, two_teams: dict) -> None:
    _viewer(client, two_teams["team"], superuser=True)
    listing = client.get("/admin/patients/patient/")
    assert len(listing.context_data["cl"].result_list) == 2
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ADMIN_VIEW).count() == 1
