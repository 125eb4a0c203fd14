"""Hand-picked hostile input for the ingestion and read APIs, beyond tests/api/test_sessions.py and
test_assessments.py: wrong JSON types, empty and huge messages, bytes that are not UTF-8, impossible
timestamps and offsets, unknown roles, a 10 MB body, two clients racing with one session id. Every
answer is a 4xx with our JSON error naming the field (or a clean 2xx), never a 500, nothing stored."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from monitor_site.patients.models import Assessment, ConversationSession, Message, Patient
from tests.conftest import session_body
from tests.factories import CareTeamFactory, PatientFactory, UserFactory

SESSIONS = "/api/v1/sessions"
ASSESSMENTS = "/api/v1/assessments"
ASSESSMENT = {"patient": "p1", "completed_at": "2026-03-01T10:00:00Z", "items": [1, 2, 0, 3, 1, 0, 2, 1, 0]}
pytestmark = pytest.mark.django_db


def _raw(api: APIClient, url: str, data: bytes, content_type: str = "application/json") -> Any:
    return api.post(url, data=data, content_type=content_type)


def _assert_refused(response: Any, field: str, *, status: int = 400) -> dict:
    """Our error shape, naming `field`, and nothing stored."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["detail"] and body["code"], body
    assert field in body["errors"], body
    assert ConversationSession.objects.count() == 0 and Assessment.objects.count() == 0
    assert Patient.objects.count() == 0
    return body


# ---- wrong JSON types ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"null", "body"),
        (b'"a session"', "body"),
        (b"42", "body"),
        (b"true", "body"),
        (b"{}", "patient"),
        (b"", "patient"),
    ],
    ids=["null", "string", "number", "boolean", "empty-object", "empty-body"],
)
@pytest.mark.parametrize("url", [SESSIONS, ASSESSMENTS])
def test_it_refuses_a_body_that_is_not_a_json_object(
    api: APIClient, url: str, raw: bytes, field: str
) -> None:
    _assert_refused(_raw(api, url, raw), field)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(session_id=True), "session_id"),
        (lambda b: b.update(session_id=["s1"]), "session_id"),
        (lambda b: b.update(patient={"id": "p1"}), "patient"),
        (lambda b: b.update(started_at=1772355600), "started_at"),
        (lambda b: b.update(started_at=["2026-03-01T09:00:00Z"]), "started_at"),
        (lambda b: b.update(messages={"0": b["messages"][0]}), "messages"),
        (lambda b: b.update(messages=None), "messages"),
        (lambda b: b["messages"].__setitem__(1, "hello"), "messages[1]"),
        (lambda b: b["messages"].__setitem__(1, None), "messages[1]"),
        (lambda b: b["messages"].__setitem__(1, [1, 2]), "messages[1]"),
        (lambda b: b["messages"][0].update(text=42), "messages[0].text"),
        (lambda b: b["messages"][0].update(text={"en": "hi"}), "messages[0].text"),
        (lambda b: b["messages"][0].update(text=None), "messages[0].text"),
        (lambda b: b["messages"][0].update(sent_at=None), "messages[0].sent_at"),
    ],
)
def test_it_names_a_field_of_the_wrong_json_type(api: APIClient, mutate: Callable, field: str) -> None:
    body = session_body()
    mutate(body)
    _assert_refused(api.post(SESSIONS, body, format="json"), field)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"items": "120310210"}, "items"),
        ({"items": {"0": 1}}, "items"),
        ({"items": None}, "items"),
        ({"items": [None, 0, 0, 0, 0, 0, 0, 0, 0]}, "items[0]"),
        ({"items": [[1], 0, 0, 0, 0, 0, 0, 0, 0]}, "items[0]"),
        ({"items": [10**30, 0, 0, 0, 0, 0, 0, 0, 0]}, "items[0]"),
        ({"patient": ["p1"]}, "patient"),
        ({"completed_at": 1772359200}, "completed_at"),
    ],
)
def test_it_names_an_assessment_field_of_the_wrong_json_type(
    api: APIClient, change: dict, field: str
) -> None:
    _assert_refused(api.post(ASSESSMENTS, {**ASSESSMENT, **change}, format="json"), field)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_it_refuses_non_standard_json_numbers(api: APIClient, constant: bytes) -> None:
    raw = b'{"patient": "p1", "completed_at": "2026-03-01T10:00:00Z", "items": [%s, 0, 0, 0, 0, 0, 0, 0, 0]}'
    r = _raw(api, ASSESSMENTS, raw % constant)
    assert r.status_code == 400 and r.json()["code"] == "parse_error", r.content


def test_it_refuses_json_nested_too_deeply_to_parse(api: APIClient) -> None:
    # 100,000 nested arrays (200 KB) blow Python's recursion limit inside json.loads
    raw = b'{"patient": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = _raw(api, SESSIONS, raw)
    assert r.status_code == 400 and r.json()["code"] == "parse_error", r.content


# ---- empty and huge messages -----------------------------------------------------------------------
def test_it_refuses_a_huge_message_at_the_default_limit(api: APIClient, settings: object) -> None:
    limit = settings.API_MAX_MESSAGE_CHARS  # type: ignore[attr-defined]
    body = session_body(n=2)
    body["messages"][1]["text"] = "x" * limit
    assert api.post(SESSIONS, body, format="json").status_code == 201  # exactly at the limit: fine
    body = session_body("s2", n=2)
    body["messages"][1]["text"] = "é" * (limit + 1)
    r = api.post(SESSIONS, body, format="json")
    assert r.status_code == 400 and "messages[1].text" in r.json()["errors"]
    assert ConversationSession.objects.count() == 1


def test_it_refuses_one_message_too_many_at_the_default_limit(api: APIClient, settings: object) -> None:
    body = session_body(n=settings.API_MAX_MESSAGES + 1, text="ok")  # type: ignore[attr-defined]
    _assert_refused(api.post(SESSIONS, body, format="json"), "messages")


@pytest.mark.parametrize("text", ["\t\n\r ", "\u3000\u00a0\u2003"], ids=["ascii", "unicode"])
def test_it_refuses_a_message_of_only_whitespace(api: APIClient, text: str) -> None:
    body = session_body()
    body["messages"][0]["text"] = text
    _assert_refused(api.post(SESSIONS, body, format="json"), "messages[0].text")


@pytest.mark.parametrize("text", ["\ud800", "ok \udfff then"], ids=["lone-high", "lone-low"])
def test_it_refuses_text_with_an_unpaired_surrogate(api: APIClient, text: str) -> None:
    # Valid JSON ("\\ud800") but not Unicode text: it could not be encoded for PostgreSQL.
    raw = json.dumps(
        session_body() | {"messages": [{"role": "user", "text": text, "sent_at": "2026-03-01T09:01:00Z"}]}
    )
    _assert_refused(_raw(api, SESSIONS, raw.encode()), "messages[0].text")


@pytest.mark.parametrize(
    "text",
    [
        "\u200b\u200b\u200b",
        "\ufeff",
        "\u202e\u202d",
        "\x01\x02\x1f",
        "\u200d \u2060 \u00ad",
        "\u200b\n\u200c",
    ],
    ids=["zero-width-spaces", "byte-order-mark", "bidi-overrides", "controls", "joiners", "mixed"],
)
def test_it_refuses_a_message_with_no_visible_characters(api: APIClient, text: str) -> None:
    body = session_body()
    body["messages"][0]["text"] = text
    refused = _assert_refused(api.post(SESSIONS, body, format="json"), "messages[0].text")
    assert "no visible characters" in refused["errors"]["messages[0].text"][0]


def test_it_strips_invisible_and_direction_changing_marks_from_stored_text(api: APIClient) -> None:
    body = session_body(n=2)
    body["messages"][0]["text"] = "I feel \u202eenif\u202c fine\u200b\x07"
    body["messages"][1]["text"] = "\ufeffOK"
    assert api.post(SESSIONS, body, format="json").status_code == 201
    assert list(Message.objects.order_by("position").values_list("text", flat=True)) == [
        "I feel enif fine",
        "OK",
    ]
    # The same body again is the same session (the hash is of what was stored).
    assert api.post(SESSIONS, body, format="json").status_code == 200


@pytest.mark.parametrize("role", ["\ud800", "user\udfff"])
def test_it_refuses_a_role_with_a_lone_surrogate_without_a_500(api: APIClient, role: str) -> None:
    raw = json.dumps(
        session_body() | {"messages": [{"role": role, "text": "hi", "sent_at": "2026-03-01T09:01:00Z"}]}
    )
    _assert_refused(_raw(api, SESSIONS, raw.encode()), "messages[0].role")


def test_it_stores_emoji_and_right_to_left_text_unchanged(api: APIClient) -> None:
    text = "I feel 😔 — لا أستطيع النوم — e\u0301"
    body = session_body(n=1)
    body["messages"][0]["text"] = text
    assert api.post(SESSIONS, body, format="json").status_code == 201
    assert Message.objects.get().text == text


# ---- bytes that are not UTF-8 ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"patient": "p1", "session_id": "s1", "text": "caf\xe9"}', "application/json"),
        (b"\xc3\x28\xa0\xa1", "application/json"),
        ('{"patient": "p1"}'.encode("utf-16"), "application/json"),
        (b'{"patient": "p\xff1"}', "application/json; charset=utf-8"),
    ],
    ids=["latin-1-in-utf-8", "invalid-sequence", "utf-16-unannounced", "declared-utf-8"],
)
def test_it_answers_400_to_bytes_that_are_not_utf8(api: APIClient, raw: bytes, content_type: str) -> None:
    r = _raw(api, SESSIONS, raw, content_type)
    assert r.status_code == 400 and r.json()["code"] == "parse_error", r.content
    assert "body" in r.json()["errors"]


def test_it_answers_415_with_json_to_another_content_type(api: APIClient) -> None:
    r = _raw(api, SESSIONS, json.dumps(session_body()).encode(), "text/plain")
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"


# ---- timestamps and time zones ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "2026-03-01T09:00:00+25:00",
        "2026-03-01T09:00:00-24:00",
        "2026-03-01T09:00:00+05:60",
        "2026-03-01T09:00:00+5",
        "2026-03-01T09:00:00 Europe/Paris",
        "2026-03-01T09:00:00+01:00[Europe/Paris]",
        "2026-13-01T09:00:00Z",
        "2025-02-29T09:00:00Z",
        "2026-04-31T09:00:00Z",
        "2026-03-01T24:30:00Z",
        "2026-03-01T09:61:00Z",
        "2026-03-01",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "",
        "Z",
    ],
)
@pytest.mark.parametrize("where", ["started_at", "sent_at"])
def test_it_refuses_impossible_timestamps_and_offsets(api: APIClient, value: str, where: str) -> None:
    body = session_body()
    if where == "started_at":
        body["started_at"] = value
        field = "started_at"
    else:
        body["messages"][2]["sent_at"] = value
        field = "messages[2].sent_at"
    _assert_refused(api.post(SESSIONS, body, format="json"), field)


@pytest.mark.parametrize("value", ["2026-03-01T10:00:00", "2026-03-01T10:00:00.123456", "2026-03-01T10:00"])
def test_it_refuses_naive_timestamps_everywhere(api: APIClient, value: str) -> None:
    body = session_body()
    body["messages"][1]["sent_at"] = value
    r = api.post(SESSIONS, body, format="json")
    assert "timezone offset" in _assert_refused(r, "messages[1].sent_at")["errors"]["messages[1].sent_at"][0]
    _assert_refused(
        api.post(ASSESSMENTS, {**ASSESSMENT, "completed_at": value}, format="json"), "completed_at"
    )


@pytest.mark.parametrize("offset", ["+14:00", "-12:00", "+05:45", "Z", "z"])
def test_it_accepts_every_real_offset_and_stores_the_instant(api: APIClient, offset: str) -> None:
    r = api.post(ASSESSMENTS, {**ASSESSMENT, "completed_at": f"2026-03-01T10:00:00{offset}"}, format="json")
    assert r.status_code == 201, r.content
    assert Assessment.objects.get().completed_at.tzinfo is not None


def test_it_refuses_a_february_29th_that_does_not_exist_but_takes_a_real_one(api: APIClient) -> None:
    def post(day: str) -> Any:
        return api.post(ASSESSMENTS, {**ASSESSMENT, "completed_at": f"{day}T10:00:00Z"}, format="json")

    _assert_refused(post("2025-02-29"), "completed_at")
    assert post("2024-02-29").status_code == 201


# ---- unknown roles ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "role", ["tool", "User", "ASSISTANT", "assistant ", "", None, 1, ["user"], {"r": "user"}]
)
def test_it_refuses_unknown_roles(api: APIClient, role: object) -> None:
    body = session_body()
    body["messages"][1]["role"] = role
    _assert_refused(api.post(SESSIONS, body, format="json"), "messages[1].role")


# ---- ids -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["p1\n", "p1\r\n", " p1", "p1\x00", "p/1", "ｐ1", "x" * 129])
def test_it_refuses_ids_that_only_look_valid(api: APIClient, value: str) -> None:
    _assert_refused(api.post(SESSIONS, session_body(patient=value), format="json"), "patient")
    _assert_refused(api.post(SESSIONS, session_body(session_id=value), format="json"), "session_id")


# ---- size ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [SESSIONS, ASSESSMENTS])
def test_it_answers_a_10_mb_body_with_413_in_json(api: APIClient, url: str) -> None:
    body = session_body(n=2)
    body["messages"][0]["text"] = "x" * (10 * 1024 * 1024)
    r = _raw(api, url, json.dumps(body).encode())
    assert r.status_code == 413, r.status_code
    assert r["Content-Type"].startswith("application/json")
    assert r.json()["code"] == "too_large" and "limit" in r.json()["detail"]
    assert ConversationSession.objects.count() == 0 and Assessment.objects.count() == 0


def _big_session(n: int = 160) -> bytes:
    return json.dumps(session_body(n=n, text="y" * 19_000)).encode()  # ~3 MB


def test_it_answers_413_in_json_above_djangos_upload_limit_when_that_is_lower(
    api: APIClient, settings: object
) -> None:
    # DRF reads JSON through request.body, which enforces DATA_UPLOAD_MAX_MEMORY_SIZE (Django's default
    # 2.5 MB): above it Django answered an HTML 400. Now: a JSON 413 that states the limit in force.
    settings.API_MAX_BODY_BYTES = 5 * 1024 * 1024  # type: ignore[attr-defined]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # type: ignore[attr-defined]
    r = _raw(api, SESSIONS, _big_session())
    assert r.status_code == 413 and r["Content-Type"].startswith("application/json"), r.content[:300]
    assert r.json()["code"] == "too_large" and "2621440" in r.json()["detail"]
    assert ConversationSession.objects.count() == 0


def test_it_reads_a_body_up_to_its_own_limit_when_django_allows_it(api: APIClient, settings: object) -> None:
    settings.API_MAX_BODY_BYTES = 5 * 1024 * 1024  # type: ignore[attr-defined]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = settings.API_MAX_BODY_BYTES  # type: ignore[attr-defined]
    raw = _big_session()
    assert 2_621_440 < len(raw) < settings.API_MAX_BODY_BYTES  # type: ignore[attr-defined]
    assert _raw(api, SESSIONS, raw).status_code == 201
    assert Message.objects.count() == 160


def test_it_turns_djangos_request_data_too_big_into_a_json_413() -> None:
    from django.core.exceptions import RequestDataTooBig

    from monitor_site.api.errors import exception_handler

    response = exception_handler(RequestDataTooBig("too big"), {})
    assert response is not None and response.status_code == 413
    assert response.data["code"] == "too_large"


def test_it_answers_400_when_content_length_lies(api: APIClient) -> None:
    raw = json.dumps(session_body()).encode()
    r = api.generic("POST", SESSIONS, raw, content_type="application/json", CONTENT_LENGTH="20")
    assert r.status_code == 400 and r.json()["code"] == "parse_error"
    r = api.generic("POST", SESSIONS, raw, content_type="application/json", CONTENT_LENGTH="banana")
    assert r.status_code == 400 and r.json()["code"] == "invalid"


# ---- two clients racing with one session id -------------------------------------------------------
def _race(raw_token: str, bodies: list[dict]) -> list[int]:
    """POST the bodies at the same instant, one thread (and one database connection) each."""
    barrier = threading.Barrier(len(bodies))
    codes: list[int] = []
    errors: list[BaseException] = []

    def send(body: dict) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
            client.raise_request_exception = False  # a 500 must show up as a status, not vanish
            barrier.wait(timeout=30)
            codes.append(client.post(SESSIONS, body, format="json").status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the main thread
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return sorted(codes)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))  # a race: try it more than once
def test_it_stores_one_session_when_two_clients_race_with_different_bodies(
    ingest: tuple, attempt: int
) -> None:
    codes = _race(ingest[1], [session_body(text="first client"), session_body(text="second client")])
    assert codes == [201, 409]
    session = ConversationSession.objects.get()
    texts = set(session.messages.values_list("text", flat=True))
    # all four messages come from the one body that won, none from the other
    assert len(texts) == 4 and len({t.split(" (")[0] for t in texts}) == 1
    assert Message.objects.count() == 4 and Patient.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_stores_one_patient_when_two_sessions_of_a_new_patient_race(ingest: tuple) -> None:
    assert _race(ingest[1], [session_body("s1", "new"), session_body("s2", "new")]) == [201, 201]
    assert Patient.objects.count() == 1 and ConversationSession.objects.count() == 2


# ---- the clinician read API ------------------------------------------------------------------------
@pytest.fixture
def clinician(client: Client) -> object:
    team = CareTeamFactory(name="Team R")
    user = UserFactory()
    team.members.add(user)  # type: ignore[attr-defined]
    PatientFactory(care_team=team, external_id="pt-read")
    client.force_login(user)
    return user


@pytest.mark.parametrize(
    ("query", "field"),
    [("q=a%00b", "q"), ("page=abc", "page"), ("page=0", "page"), ("page=", "page"), ("page=last", "page")],
)
def test_it_names_a_bad_query_parameter_of_the_patient_list(
    client: Client, clinician: object, query: str, field: str
) -> None:
    r = client.get(f"/api/v1/patients?{query}")
    assert r.status_code == 400 and field in r.json()["errors"], r.content


def test_it_answers_a_page_past_the_end_with_a_json_404(client: Client, clinician: object) -> None:
    r = client.get("/api/v1/patients?page=99")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert client.get("/api/v1/patients?q=pt-read").json()["results"][0]["external_id"] == "pt-read"


@pytest.mark.parametrize("patient_id", ["abc", "0", "-1", "1.5", "99999999999999999999999", "%00", "１"])
def test_it_answers_a_malformed_patient_id_with_a_json_404(
    client: Client, clinician: object, patient_id: str
) -> None:
    r = client.get(f"/api/v1/patients/{patient_id}/trajectory")
    assert r.status_code == 404, r.content
    assert r["Content-Type"].startswith("application/json")
    assert r.json() == {"detail": "No such patient in your care teams.", "code": "not_found"}


@pytest.mark.django_db
def test_an_unknown_api_path_answers_json_404(client: object, settings: object) -> None:
    settings.DEBUG = False  # type: ignore[attr-defined]  # handler404 is used when DEBUG is off
    response = client.get("/api/v1/nope")  # type: ignore[attr-defined]
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert "Not Found" in client.get("/no-such-page/").content.decode()  # type: ignore[attr-defined]
