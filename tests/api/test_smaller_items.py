"""The issue's smaller findings, each closed: NUL and over-long feedback comments refused, the alerts
API paged, duplicate JSON keys refused, e-mail-like patient ids refused, blank Braille invisible,
guessed ingest tokens throttled, RFC 3339 date-times exactly, the API's limits in its schema."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.patients.models import ConversationSession, Message, Patient
from monitor_site.predictions.models import PredictionFeedback
from tests.conftest import session_body
from tests.factories import CareTeamFactory, PatientFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinician(client: Client) -> tuple[object, object]:
    team = CareTeamFactory()
    user = UserFactory()
    team.members.add(user)
    client.force_login(user)
    return user, team


@pytest.mark.parametrize(("comment", "why"), [("fine\x00", "NUL"), ("x" * 501, "at most 500 characters")])
def test_a_feedback_comment_with_nul_or_too_long_is_refused_not_cut(
    client: Client, clinician: tuple, comment: str, why: str
) -> None:
    patient = PatientFactory(care_team=clinician[1])
    prediction = PredictionFactory(session__patient=patient)
    url = f"/patients/{patient.pk}/predictions/{prediction.pk}/feedback/"
    page = client.post(url, {"verdict": "agree", "comment": comment}, follow=True)
    assert page.status_code == 200 and why in page.content.decode()
    assert not PredictionFeedback.objects.exists()


def test_the_alerts_api_is_paged_and_cuts_nothing_off(client: Client, clinician: tuple) -> None:
    rule = AlertRule.objects.create(name="anything", kind="threshold", threshold=0, consecutive=1)
    patients = [
        PatientFactory.build(care_team=clinician[1], source=PatientFactory().source) for _ in range(1)
    ]
    patients = Patient.objects.bulk_create(
        [
            Patient(source=patients[0].source, external_id=f"pa-{i}", care_team=clinician[1])
            for i in range(205)
        ]
    )
    Alert.objects.bulk_create([Alert(rule=rule, patient=p, total=12.0) for p in patients])
    first = client.get("/api/v1/alerts").json()
    assert first["count"] == 205 and len(first["results"]) == 200 and first["next"].endswith("page=2")
    second = client.get("/api/v1/alerts?page=2").json()
    assert len(second["results"]) == 5 and second["next"] is None
    seen = {a["patient"] for a in first["results"] + second["results"]}
    assert len(seen) == 205
    assert client.get("/api/v1/alerts?page=abc").status_code in (400, 404)


def test_a_body_naming_one_key_twice_is_refused(api: APIClient) -> None:
    body = b'{"patient": "p1", "patient": "p2", "session_id": "s1", "started_at": "2026-03-01T09:00:00Z"}'
    r = api.post("/api/v1/sessions", body, content_type="application/json")
    assert r.status_code == 400 and "duplicate key 'patient'" in r.json()["errors"]["body"][0], r.content
    assert not Patient.objects.exists()


@pytest.mark.parametrize("patient", ["jane.smith@example.org", "p 1", "p1@x", "p\t1"])
def test_a_patient_id_with_an_at_sign_or_whitespace_is_refused(api: APIClient, patient: str) -> None:
    r = api.post("/api/v1/sessions", session_body(patient=patient), format="json")
    assert r.status_code == 400 and "patient" in r.json()["errors"], r.content


def test_short_opaque_ids_stay_valid(api: APIClient) -> None:
    for patient in ("p-0001", "3f2a:77", "pt_42.b"):
        assert (
            api.post("/api/v1/sessions", session_body(f"s-{patient}", patient), format="json").status_code
            == 201
        )


@pytest.mark.parametrize("blank", ["\u2800", "\u2800 \u2800", "\uffa0", "\U0001d173"])
def test_blank_braille_and_other_blank_characters_are_invisible(api: APIClient, blank: str) -> None:
    body = session_body()
    body["messages"][0]["text"] = blank
    r = api.post("/api/v1/sessions", body, format="json")
    assert r.status_code == 400 and "no visible characters" in r.json()["errors"]["messages[0].text"][0]
    assert not ConversationSession.objects.exists() and not Message.objects.exists()


def test_guessed_ingest_tokens_are_throttled_per_address(api: APIClient, settings: object) -> None:
    cache.clear()
    settings.INGEST_AUTH_FAILURES_PER_MINUTE = 5  # type: ignore[attr-defined]
    guesser = APIClient(REMOTE_ADDR="203.0.113.7")
    guesser.credentials(HTTP_AUTHORIZATION="Bearer phq_guess")
    codes = [guesser.post("/api/v1/sessions", session_body(), format="json").status_code for _ in range(7)]
    assert codes == [401] * 5 + [429] * 2
    limited = guesser.post("/api/v1/sessions", session_body(), format="json")
    assert int(limited["Retry-After"]) <= 60 and limited.json()["code"] == "throttled"
    assert api.post("/api/v1/sessions", session_body(), format="json").status_code == 201  # others go on


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-03-01T09:00:00Z", True),
        ("2026-03-01t09:00:00z", True),  # RFC 3339 allows lower case
        ("2026-03-01T09:00:00.123456789+01:00", True),
        ("2026-03-01 09:00:00Z", False),  # a space is ISO 8601's, not RFC 3339's
        ("2026-03-01T09:00Z", False),  # seconds are required
        ("2026-03-01T09:00:00+0100", False),  # the offset needs its colon
        ("20260301T090000Z", False),
    ],
)
def test_date_times_are_exactly_rfc_3339(api: APIClient, value: str, ok: bool) -> None:
    body = {"patient": "p1", "completed_at": value, "items": [0] * 9}
    r = api.post("/api/v1/assessments", body, format="json")
    assert (r.status_code == 201) is ok, r.content


def test_the_schema_states_the_limits_and_the_date_time_format(client: Client) -> None:
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    message = components["MessageInRequest"] if "MessageInRequest" in components else components["MessageIn"]
    session = components["SessionInRequest"] if "SessionInRequest" in components else components["SessionIn"]
    assert message["properties"]["text"]["maxLength"] == 20000
    assert (
        session["properties"]["messages"]["minItems"] == 1
        and session["properties"]["messages"]["maxItems"] == 2000
    )
    assert (
        "pattern" in session["properties"]["started_at"]
        and "RFC 3339" in session["properties"]["started_at"]["description"]
    )
    responses = schema["paths"]["/api/v1/sessions"]["post"]["responses"]
    assert "415" in responses and "403" in responses
