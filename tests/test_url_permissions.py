"""Walks the whole URL conf: every route that names a patient, prediction or alert answers 404 to a
clinician of another care team, whatever the method; every other route is accounted for below, so a
new route fails this test until someone decides how it is protected."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from monitor_site.alerts.services import alerts_evaluate
from tests.factories import CareTeamFactory, PatientFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db

# Routes without an object of a patient in them, and why they are safe.
ACCOUNTED = {
    "": "triage list: filtered to the user's care teams (tests/dashboards)",
    "alerts/": "inbox: filtered to the user's care teams",
    "login/": "public",
    "logout/": "public",
    "account/two-factor/": "the user's own second factor",
    "api/v1/sessions": "ingest token",
    "api/v1/assessments": "ingest token",
    "api/v1/patients": "filtered to the user's care teams",
    "api/v1/alerts": "filtered to the user's care teams",
    "api/schema/": "public schema",
    "admin/login/": "redirect to the log-in page",
}


def _routes(patterns: list, prefix: str = "") -> list[str]:
    routes = []
    for p in patterns:
        if isinstance(p, URLResolver):
            if str(p.pattern) == "admin/":
                routes.append("admin/")  # the Django admin: staff only (checked below)
                continue
            routes += _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            routes.append(prefix + str(p.pattern))
    return routes


@pytest.fixture
def team_b() -> dict[str, int]:
    patient = PatientFactory(care_team=CareTeamFactory(name="Team B"))
    prediction = PredictionFactory(session__patient=patient, items=[0.0] * 8 + [2.0])
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    return {"patient_id": patient.pk, "prediction_id": prediction.pk, "alert_id": alert.pk}


def test_every_route_is_protected_against_other_care_teams(client: Client, team_b: dict[str, int]) -> None:
    clinician = UserFactory()
    CareTeamFactory(name="Team A").members.add(clinician)
    client.force_login(clinician)
    checked = 0
    for route in _routes(get_resolver().url_patterns):
        params = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if not params:
            assert route in ACCOUNTED or route == "admin/", f"new route {route!r}: say how it is protected"
            continue
        unknown = set(params) - set(team_b)
        assert not unknown, f"route {route!r} takes {unknown}: extend this test"
        url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(team_b[m.group(1)]), route)
        for method in ("get", "post"):
            status = getattr(client, method)(url).status_code
            # 405 for the wrong method reveals nothing; the right method must be a 404.
            assert status in (404, 405), f"{method.upper()} {url} -> {status}"
        assert 404 in {client.get(url).status_code, client.post(url).status_code}, url
        checked += 1
    assert checked >= 8


def test_the_admin_is_for_staff_only(client: Client) -> None:
    client.force_login(UserFactory())
    response = client.get("/admin/")
    assert response.status_code == 302 and "login" in response["Location"]
    assert client.get("/admin/patients/patient/").status_code == 302
