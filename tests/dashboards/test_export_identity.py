"""A patient leaves the building as (source, external id): the same id from two sources is two people in
the CSV and FHIR exports; the FHIR identifier system and the model code system are configured URLs,
never built from the request's Host header."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client

from tests.factories import CareTeamFactory, PatientFactory, PredictionFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def twins(client: Client) -> tuple[object, object]:
    team = CareTeamFactory()
    clinician = UserFactory()
    team.members.add(clinician)
    client.force_login(clinician)
    first = PatientFactory(source=SourceFactory(name="app-one"), external_id="p-0001", care_team=team)
    second = PatientFactory(source=SourceFactory(name="app-two"), external_id="p-0001", care_team=team)
    for patient in (first, second):
        PredictionFactory(session__patient=patient)
    return first, second


def _identifier(client: Client, patient: object, host: str = "testserver") -> dict:
    body = client.get(f"/patients/{patient.pk}/fhir.json", HTTP_HOST=host)  # type: ignore[attr-defined]
    assert body.status_code == 200
    bundle = json.loads(body.content)
    (resource,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    return resource["identifier"][0]


def test_the_same_id_from_two_sources_exports_two_identifiers(
    client: Client, twins: tuple, settings: object
) -> None:
    settings.FHIR_IDENTIFIER_SYSTEM_BASE = "https://ids.example.org/phq9"  # type: ignore[attr-defined]
    first, second = (_identifier(client, p) for p in twins)
    assert first == {"system": "https://ids.example.org/phq9/sources/app-one/patients", "value": "p-0001"}
    assert second["system"].endswith("/sources/app-two/patients") and first != second
    rows = [
        next(csv.DictReader(io.StringIO(client.get(f"/patients/{p.pk}/export.csv").content.decode())))
        for p in twins
    ]
    assert [(r["source"], r["patient"]) for r in rows] == [("app-one", "p-0001"), ("app-two", "p-0001")]


def test_the_identifier_system_never_follows_the_host_header(
    client: Client, twins: tuple, settings: object
) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "other.example.org", "127.0.0.1"]  # type: ignore[attr-defined]
    systems = {_identifier(client, twins[0], host)["system"] for host in settings.ALLOWED_HOSTS}  # type: ignore[attr-defined]
    assert len(systems) == 1 and "other.example.org" not in systems.pop()


def test_model_estimates_use_the_configured_code_system(
    client: Client, twins: tuple, settings: object
) -> None:
    settings.FHIR_MODEL_CODE_SYSTEM = "https://terms.example.org/CodeSystem/phq9-estimate"  # type: ignore[attr-defined]
    bundle = json.loads(client.get(f"/patients/{twins[0].pk}/fhir.json").content)
    systems = {
        c["system"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation" and "device" in e["resource"]
        for c in e["resource"]["code"]["coding"]
    }
    assert systems == {"https://terms.example.org/CodeSystem/phq9-estimate"}
    assert "urn:" not in json.dumps([s for s in systems])
