"""One accepted range for every stored time (INGEST_EARLIEST_DATE .. now + clock skew), the back-date
rule anchored to the patient's first stored session, and JSON for every answer under /api/."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from monitor_site.patients.models import Assessment, ConversationSession, IngestSource, Message, Patient
from monitor_site.patients.services.ingest import IngestRefused, assessment_ingest, session_ingest
from tests.conftest import session_body
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db
ITEMS = [3] * 9


def _session(api: APIClient, body: dict) -> object:
    return api.post("/api/v1/sessions", body, format="json")


def _assessment(api: APIClient, when: str, patient: str = "p1") -> object:
    return api.post(
        "/api/v1/assessments", {"patient": patient, "completed_at": when, "items": ITEMS}, format="json"
    )


@pytest.mark.parametrize("year", [1, 1900, 1999])
def test_a_session_dated_before_the_earliest_date_is_refused_naming_the_field(
    api: APIClient, year: int
) -> None:
    r = _session(api, session_body("s-old", "p-new", start=datetime(year, 6, 1, tzinfo=UTC)))
    assert r.status_code == 400, r.content
    errors = r.json()["errors"]
    assert "earliest date" in errors["started_at"][0] and "earliest date" in errors["messages[0].sent_at"][0]
    assert not Patient.objects.exists() and not ConversationSession.objects.exists()


def test_a_message_dated_before_the_earliest_date_is_refused(api: APIClient) -> None:
    body = session_body()
    body["messages"][2]["sent_at"] = "1950-06-01T00:00:00Z"
    r = _session(api, body)
    assert r.status_code == 400 and list(r.json()["errors"]) == ["messages[2].sent_at"], r.content
    assert "earliest date" in r.json()["errors"]["messages[2].sent_at"][0]


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "1950-06-01T00:00:00Z"])
def test_a_questionnaire_dated_before_the_earliest_date_is_refused(api: APIClient, when: str) -> None:
    r = _assessment(api, when)
    assert r.status_code == 400 and "earliest date" in r.json()["errors"]["completed_at"][0], r.content
    assert not Assessment.objects.exists()


def test_the_earliest_date_is_a_setting(api: APIClient, settings: object) -> None:
    settings.INGEST_EARLIEST_DATE = date(2026, 1, 1)  # type: ignore[attr-defined]
    assert _assessment(api, "2025-12-31T23:59:00Z").status_code == 400
    assert _assessment(api, "2026-01-01T00:00:00Z").status_code == 201


def test_the_services_apply_the_same_range_to_every_writer(ingest: tuple) -> None:
    source = IngestSource.objects.get(name="app-a")
    old = datetime(1900, 1, 1, tzinfo=UTC)
    with pytest.raises(IngestRefused) as refused:
        session_ingest(
            source=source,
            care_team=source.default_care_team,
            patient_external_id="p1",
            session_external_id="s1",
            started_at=datetime(2026, 3, 1, tzinfo=UTC),
            messages=[{"role": "user", "text": "hello", "sent_at": old}],
        )
    assert refused.value.field == "messages[0].sent_at"
    with pytest.raises(IngestRefused) as refused:
        assessment_ingest(
            source=source,
            care_team=source.default_care_team,
            patient_external_id="p1",
            completed_at=old,
            items=ITEMS,
        )
    assert refused.value.field == "completed_at"
    assert not Patient.objects.exists()


def test_the_back_date_limit_cannot_be_walked_back_step_by_step(api: APIClient) -> None:
    now = timezone.now().replace(microsecond=0)
    assert _session(api, session_body("s-first", start=now - timedelta(days=1))).status_code == 201
    assert _session(api, session_body("s-29", start=now - timedelta(days=29))).status_code == 201
    # 57 days back is within 30 days of the session just stored, not of the first one stored.
    r = _session(api, session_body("s-57", start=now - timedelta(days=57)))
    assert r.status_code == 400 and "first stored session" in r.json()["errors"]["started_at"][0], r.content
    assert ConversationSession.objects.count() == 2


def test_a_stored_year_one_session_does_not_break_the_patients_later_sessions(api: APIClient) -> None:
    """Rows stored before the range existed: the back-date check never computes a date before year 1."""
    source = IngestSource.objects.get(name="app-a")
    patient = Patient.objects.create(source=source, external_id="p1", care_team=source.default_care_team)
    SessionFactory(
        patient=patient, started_at=datetime(1, 1, 1, tzinfo=UTC), ended_at=datetime(1, 1, 1, 1, tzinfo=UTC)
    )
    r = _session(api, session_body("s-late", "p1", start=timezone.now() - timedelta(days=40)))
    assert r.status_code == 201, r.content


def test_unknown_api_paths_answer_json_even_with_debug(client: object, settings: object) -> None:
    for debug in (False, True):
        settings.DEBUG = debug  # type: ignore[attr-defined]
        for path in ("/api/v1/nope", "/api/v2/sessions", "/api/"):
            r = client.get(path)  # type: ignore[attr-defined]
            assert r.status_code == 404 and r["Content-Type"] == "application/json", (debug, path)
            assert r.json() == {"detail": "No such API endpoint.", "code": "not_found"}


def test_a_server_error_under_the_api_answers_json(api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("monitor_site.api.views.session_ingest", broken)
    api.raise_request_exception = False
    r = _session(api, session_body())
    assert r.status_code == 500 and r["Content-Type"] == "application/json"
    assert r.json()["code"] == "server_error" and "boom" not in r.content.decode()
    assert Message.objects.count() == 0
