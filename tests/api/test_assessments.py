from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from monitor_site.patients.models import Assessment

URL = "/api/v1/assessments"
pytestmark = pytest.mark.django_db
BODY = {"patient": "p1", "completed_at": "2026-03-01T10:00:00+01:00", "items": [1, 2, 0, 3, 1, 0, 2, 1, 0]}


def test_it_creates_a_questionnaire_with_its_total(api: APIClient) -> None:
    r = api.post(URL, BODY, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["total"] == 10
    assessment = Assessment.objects.get()
    assert assessment.items == BODY["items"] and assessment.patient.external_id == "p1"


def test_it_is_idempotent_and_refuses_conflicts(api: APIClient) -> None:
    first = api.post(URL, BODY, format="json")
    again = api.post(URL, BODY, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    r = api.post(URL, {**BODY, "items": [0] * 9}, format="json")
    assert r.status_code == 409 and "completed_at" in r.json()["errors"]
    # the same instant written with another offset is the same questionnaire
    same = api.post(URL, {**BODY, "completed_at": "2026-03-01T09:00:00Z"}, format="json")
    assert same.status_code == 200
    assert Assessment.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"items": [1] * 8}, "items"),
        ({"items": [1] * 10}, "items"),
        ({"items": [4, 0, 0, 0, 0, 0, 0, 0, 0]}, "items[0]"),
        ({"items": [0, -1, 0, 0, 0, 0, 0, 0, 0]}, "items[1]"),
        ({"items": [0, 0, "2", 0, 0, 0, 0, 0, 0]}, "items[2]"),
        ({"items": [0, 0, 0, True, 0, 0, 0, 0, 0]}, "items[3]"),
        ({"items": [0, 0, 0, 0, 1.5, 0, 0, 0, 0]}, "items[4]"),
        ({"completed_at": "2026-03-01 10:00"}, "completed_at"),
        ({"completed_at": None}, "completed_at"),
        ({"patient": None}, "patient"),
        ({"total": 12}, "total"),
    ],
)
def test_it_names_the_bad_field(api: APIClient, change: dict, field: str) -> None:
    r = api.post(URL, {**BODY, **change}, format="json")
    assert r.status_code == 400 and field in r.json()["errors"], r.json()
    assert Assessment.objects.count() == 0


def test_it_needs_a_token() -> None:
    assert APIClient().post(URL, BODY, format="json").status_code == 401


def test_it_refuses_a_body_over_the_limit(api: APIClient, settings: object) -> None:
    settings.API_MAX_BODY_BYTES = 50  # type: ignore[attr-defined]
    assert api.post(URL, BODY, format="json").status_code == 413
