"""An ingest token belongs to one care team (its source's): it creates patients there and writes only
to that team's patients; binding a source to a team is explicit, and nobody is created in no team."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from monitor_site.alerts.models import Alert
from monitor_site.patients.models import (
    Assessment,
    CareTeam,
    ConversationSession,
    IngestSource,
    Message,
    Patient,
)
from monitor_site.patients.services.tokens import ingest_token_create
from tests.conftest import session_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_teams_patient(ingest: tuple) -> Patient:
    """A patient of the token's source whom an admin put in Team B."""
    return Patient.objects.create(
        source=ingest[0].source, external_id="p-b", care_team=CareTeam.objects.create(name="Team B")
    )


def test_a_token_cannot_write_a_session_for_another_teams_patient(
    api: APIClient, other_teams_patient: Patient
) -> None:
    r = api.post("/api/v1/sessions", session_body("s-b", "p-b"), format="json")
    assert r.status_code == 403, r.content
    assert r.json()["code"] == "permission_denied" and "another care team" in r.json()["errors"]["patient"][0]
    assert not ConversationSession.objects.exists() and not Message.objects.exists()


def test_a_token_cannot_write_a_questionnaire_for_another_teams_patient(
    api: APIClient, other_teams_patient: Patient
) -> None:
    body = {"patient": "p-b", "completed_at": "2026-03-01T10:00:00Z", "items": [3] * 9}
    r = api.post("/api/v1/assessments", body, format="json")
    assert r.status_code == 403 and "patient" in r.json()["errors"], r.content
    assert not Assessment.objects.exists() and not Alert.objects.exists()


def test_a_replay_for_a_patient_moved_to_another_team_is_refused(api: APIClient) -> None:
    assert api.post("/api/v1/sessions", session_body(), format="json").status_code == 201
    Patient.objects.update(care_team=CareTeam.objects.create(name="Team B"))
    r = api.post("/api/v1/sessions", session_body(), format="json")
    assert r.status_code == 403 and "patient" in r.json()["errors"]


def test_a_source_without_a_team_creates_nobody(api: APIClient, ingest: tuple) -> None:
    IngestSource.objects.filter(pk=ingest[0].source_id).update(default_care_team=None)
    from monitor_site.patients.services.tokens import _token_cache

    _token_cache.clear()
    r = api.post("/api/v1/sessions", session_body(), format="json")
    assert r.status_code == 403 and "no care team" in r.json()["errors"]["patient"][0]
    assert not Patient.objects.exists()


def test_create_ingest_token_refuses_an_unknown_team_unless_asked_to_create_it() -> None:
    CareTeam.objects.create(name="North")
    with pytest.raises(CommandError, match="no care team named 'Nort'.*--create-team"):
        call_command(
            "create_ingest_token", "app-n", "--care-team", "Nort", stdout=StringIO(), stderr=StringIO()
        )
    assert not CareTeam.objects.filter(name="Nort").exists() and not IngestSource.objects.exists()
    call_command(
        "create_ingest_token",
        "app-n",
        "--care-team",
        "South",
        "--create-team",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    assert IngestSource.objects.get(name="app-n").default_care_team.name == "South"


def test_a_new_source_needs_a_team() -> None:
    with pytest.raises(CommandError, match="--care-team"):
        call_command("create_ingest_token", "app-x", stdout=StringIO(), stderr=StringIO())
    assert not IngestSource.objects.exists()


def test_create_ingest_token_never_re_points_a_source(ingest: tuple) -> None:
    CareTeam.objects.create(name="Team B")
    with pytest.raises(CommandError, match="move_ingest_source"):
        call_command(
            "create_ingest_token", "app-a", "--care-team", "Team B", stdout=StringIO(), stderr=StringIO()
        )
    assert IngestSource.objects.get(name="app-a").default_care_team.name == "Team A"
    out = StringIO()
    call_command("create_ingest_token", "app-a", stdout=out, stderr=StringIO())  # another token, same team
    assert out.getvalue().startswith("phq_") and ingest[0].source.tokens.count() == 2


def test_moving_a_source_says_what_moves_and_moves_it(api: APIClient, ingest: tuple) -> None:
    assert api.post("/api/v1/sessions", session_body(), format="json").status_code == 201
    CareTeam.objects.create(name="Team B")
    out = StringIO()
    call_command("move_ingest_source", "app-a", "--care-team", "Team B", "--dry-run", stdout=out)
    assert "Team A -> Team B" in out.getvalue() and "1 patient(s) would move" in out.getvalue()
    assert Patient.objects.get().care_team.name == "Team A"
    out = StringIO()
    call_command("move_ingest_source", "app-a", "--care-team", "Team B", stdout=out)
    assert "1 active token(s) now write to Team B" in out.getvalue()
    assert Patient.objects.get().care_team.name == "Team B"
    assert api.post("/api/v1/sessions", session_body("s2"), format="json").status_code == 201  # same token


def test_the_service_refuses_a_new_source_without_a_team() -> None:
    from monitor_site.patients.services.tokens import IngestSetupRefused

    with pytest.raises(IngestSetupRefused):
        ingest_token_create(source_name="app-y")
