"""Every query parameter (and path id) of every clinician page, fed junk: a 200, a redirect, a 400 or
a 404, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import CareTeamFactory, PatientFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db

JUNK = [
    "abc",
    "-1",
    "0",
    "1e5",
    "1.5",
    "99999999999999999999999999",
    "\x00",
    "%00",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "😀" * 50,
    "x" * 5000,
    "",
    " ",
]
PAGES = {
    "/": ("q", "band", "alert", "sort", "page"),
    "/patients/{pk}/": ("prediction",),
    "/patients/{pk}/export.csv": ("prediction",),
    "/patients/{pk}/fhir.json": ("prediction",),
    "/alerts/": ("show", "page", "patient", "rule", "team"),
}


@pytest.fixture
def clinician(client: Client) -> object:
    team = CareTeamFactory()
    user = UserFactory()
    team.members.add(user)
    client.force_login(user)
    patient = PatientFactory(care_team=team)
    PredictionFactory(session__patient=patient)
    return patient


@pytest.mark.parametrize("path", sorted(PAGES))
def test_no_query_parameter_value_gives_a_server_error(client: Client, clinician: object, path: str) -> None:
    url = path.format(pk=clinician.pk)  # type: ignore[attr-defined]
    for name in PAGES[path]:
        for value in JUNK:
            response = client.get(url, {name: value})
            assert response.status_code in (200, 302, 400, 404), (url, name, value, response.status_code)


@pytest.mark.parametrize("pk", ["0", "99999999999999999999", "9223372036854775808", "2147483648"])
def test_no_path_id_gives_a_server_error(client: Client, clinician: object, pk: str) -> None:
    for path in ("/patients/{pk}/", "/patients/{pk}/export.csv", "/alerts/{pk}/acknowledge/"):
        response = client.get(path.format(pk=pk)) if "alerts" not in path else client.post(path.format(pk=pk))
        assert response.status_code in (404, 405), (path, pk, response.status_code)


def test_a_nul_in_a_query_parameter_is_a_400_naming_it(client: Client, clinician: object) -> None:
    response = client.get("/", {"q": "low\x00mood"})
    assert response.status_code == 400 and b"query parameter 'q' holds a NUL character" in response.content
