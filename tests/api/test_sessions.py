from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from monitor_site.patients.models import ConversationSession, Message, Patient
from tests.conftest import session_body

URL = "/api/v1/sessions"
pytestmark = pytest.mark.django_db


def _post(api: APIClient, body: object) -> object:
    return api.post(URL, body, format="json")


def test_it_creates_a_session_with_its_messages(api: APIClient) -> None:
    r = _post(api, session_body())
    assert r.status_code == 201, r.content
    assert r.json()["created"] is True and r.json()["messages"] == 4
    session = ConversationSession.objects.get()
    assert session.patient.external_id == "p1" and session.patient.care_team.name == "Team A"
    assert list(session.messages.values_list("position", flat=True)) == [0, 1, 2, 3]
    assert session.ended_at == datetime(2026, 3, 1, 9, 3, tzinfo=UTC)


def test_it_answers_a_replay_with_200_and_the_same_id(api: APIClient) -> None:
    first = _post(api, session_body())
    again = _post(api, session_body())
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False
    assert ConversationSession.objects.count() == 1 and Message.objects.count() == 4


def test_it_refuses_the_same_session_id_with_other_content(api: APIClient) -> None:
    _post(api, session_body())
    r = _post(api, session_body(text="something else"))
    assert r.status_code == 409
    assert r.json()["code"] == "conflict" and "session_id" in r.json()["errors"]
    r = _post(api, session_body(patient="p2"))
    assert r.status_code == 409
    assert Message.objects.count() == 4


def test_it_keeps_session_ids_apart_per_source(api: APIClient, care_team: object) -> None:
    from monitor_site.patients.services.tokens import ingest_token_create

    _, raw = ingest_token_create(source_name="app-b", care_team_name="Team A")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert _post(api, session_body()).status_code == 201
    assert _post(other, session_body(text="other app")).status_code == 201
    assert Patient.objects.count() == 2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("patient"), "patient"),
        (lambda b: b.update(patient=""), "patient"),
        (lambda b: b.update(patient="Jane Smith"), "patient"),
        (lambda b: b.update(patient=12), "patient"),
        (lambda b: b.update(session_id="x" * 129), "session_id"),
        (lambda b: b.update(started_at="yesterday"), "started_at"),
        (lambda b: b.update(started_at="2026-03-01T09:00:00"), "started_at"),
        (lambda b: b.update(started_at=(timezone.now() + timedelta(days=2)).isoformat()), "started_at"),
        (lambda b: b.update(messages=[]), "messages"),
        (lambda b: b.update(messages="hello"), "messages"),
        (lambda b: b["messages"][1].update(role="system"), "messages[1].role"),
        (lambda b: b["messages"][2].update(text=""), "messages[2].text"),
        (lambda b: b["messages"][2].update(text="   "), "messages[2].text"),
        (lambda b: b["messages"][0].update(text="a\x00b"), "messages[0].text"),
        (lambda b: b["messages"][0].update(text=["list"]), "messages[0].text"),
        (lambda b: b["messages"][3].update(sent_at="2026-02-28T09:00:00Z"), "messages[3].sent_at"),
        (lambda b: b["messages"][3].update(sent_at="2026-02-30T09:00:00Z"), "messages[3].sent_at"),
        (lambda b: b["messages"][3].pop("sent_at"), "messages[3].sent_at"),
        (lambda b: b["messages"][0].update(mood="sad"), "messages[0].mood"),
        (lambda b: b.update(patinet="typo"), "patinet"),
    ],
)
def test_it_names_each_bad_field_and_stores_nothing(api: APIClient, mutate: object, field: str) -> None:
    body = session_body()
    mutate(body)  # type: ignore[operator]
    r = _post(api, body)
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"], r.json()
    assert ConversationSession.objects.count() == 0 and Patient.objects.count() == 0


def test_it_reports_several_bad_fields_at_once(api: APIClient) -> None:
    body = session_body()
    body["messages"][0]["role"] = "bot"
    body["messages"][1]["text"] = ""
    r = _post(api, body)
    assert set(r.json()["errors"]) >= {"messages[0].role", "messages[1].text"}


def test_it_refuses_too_many_or_too_long_messages(api: APIClient, settings: object) -> None:
    settings.API_MAX_MESSAGES = 3  # type: ignore[attr-defined]
    settings.API_MAX_MESSAGE_CHARS = 50  # type: ignore[attr-defined]
    assert "messages" in _post(api, session_body(n=4)).json()["errors"]
    r = _post(api, session_body(n=2, text="x" * 60))
    assert "messages[0].text" in r.json()["errors"]


def test_it_refuses_malformed_json(api: APIClient) -> None:
    r = api.post(URL, data=b'{"patient": "p1",', content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "parse_error" and "body" in r.json()["errors"]
    r = api.post(URL, data=b"\xff\xfe\x00garbage", content_type="application/json")
    assert r.status_code == 400 and "body" in r.json()["errors"]
    r = api.post(URL, data=b"[1, 2]", content_type="application/json")
    assert r.status_code == 400 and "body" in r.json()["errors"]


def test_it_refuses_a_body_over_the_limit_with_413(api: APIClient, settings: object) -> None:
    settings.API_MAX_BODY_BYTES = 1000  # type: ignore[attr-defined]
    r = _post(api, session_body(n=40))
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert ConversationSession.objects.count() == 0


@pytest.mark.parametrize("header", [None, "Bearer nope", "Token abc", "Bearer a b"])
def test_it_answers_401_without_a_valid_token(header: str | None) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    r = client.post(URL, session_body(), format="json")
    assert r.status_code == 401
    assert r["WWW-Authenticate"].startswith("Bearer") and "detail" in r.json()


def test_it_refuses_a_revoked_token(api: APIClient, ingest: tuple) -> None:
    token, _ = ingest
    token.revoked_at = timezone.now()
    token.save()
    assert _post(api, session_body()).status_code == 401


def test_it_refuses_a_token_revoked_through_the_service_at_once(api: APIClient, ingest: tuple) -> None:
    from monitor_site.patients.models import IngestToken
    from monitor_site.patients.services.tokens import ingest_token_revoke

    token, _ = ingest
    assert _post(api, session_body(session_id="s1")).status_code == 201  # now remembered
    assert ingest_token_revoke(tokens=IngestToken.objects.filter(pk=token.pk)) == 1
    assert _post(api, session_body(session_id="s2")).status_code == 401
    assert ingest_token_revoke(tokens=IngestToken.objects.filter(pk=token.pk)) == 0  # already revoked


def test_it_refuses_a_token_revoked_by_another_process_within_the_cache_time(
    api: APIClient, ingest: tuple, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from monitor_site.patients.models import IngestToken
    from monitor_site.patients.services import tokens as services

    settings.INGEST_TOKEN_CACHE_SECONDS = 5  # type: ignore[attr-defined]
    token, _ = ingest
    assert _post(api, session_body(session_id="s1")).status_code == 201
    IngestToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())  # as another process would
    assert _post(api, session_body(session_id="s2")).status_code == 201  # still remembered here
    later = time.monotonic() + 5.1
    monkeypatch.setattr(services.time, "monotonic", lambda: later)
    assert _post(api, session_body(session_id="s3")).status_code == 401


def test_it_asks_the_database_every_time_when_the_token_cache_is_off(
    api: APIClient, ingest: tuple, settings: object
) -> None:
    from monitor_site.patients.models import IngestToken

    settings.INGEST_TOKEN_CACHE_SECONDS = 5  # type: ignore[attr-defined]
    token, _ = ingest
    assert _post(api, session_body(session_id="s0")).status_code == 201  # remembered while it was on
    settings.INGEST_TOKEN_CACHE_SECONDS = 0  # type: ignore[attr-defined]
    assert _post(api, session_body(session_id="s1")).status_code == 201
    IngestToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert _post(api, session_body(session_id="s2")).status_code == 401


def test_it_stores_only_the_hash_of_a_token(ingest: tuple) -> None:
    token, raw = ingest
    assert raw not in (token.token_hash, token.prefix + token.token_hash)
    assert token.token_hash == token.hash(raw) and len(token.token_hash) == 64


def test_it_rolls_back_everything_when_a_write_fails(api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor_site.patients.services import ingest as services

    # The patient row is written, then the messages' INSERT fails in the database itself (on PostgreSQL
    # the statement that also writes the session; elsewhere the one after it).
    table = services.Message._meta.db_table
    for name in ("MESSAGE_INSERT", "SESSION_WITH_MESSAGES_INSERT"):
        sql = getattr(services, name)
        monkeypatch.setattr(services, name, sql.replace(f"INTO {table}", f"INTO missing_{table}"))
    api.raise_request_exception = False
    r = _post(api, session_body())
    assert r.status_code >= 500  # 500 on PostgreSQL (no such table), 503 on SQLite (OperationalError)
    assert ConversationSession.objects.count() == 0 and Patient.objects.count() == 0


def test_it_queues_scoring_only_after_commit(
    api: APIClient, django_capture_on_commit_callbacks: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor_site.predictions import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.score_session, "delay", lambda pk: queued.append(pk))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # type: ignore[operator]
        r = _post(api, session_body())
    assert len(callbacks) == 1 and queued == [r.json()["id"]]
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        _post(api, session_body())  # a replay queues nothing new
    assert queued == [r.json()["id"]]


def test_it_publishes_the_openapi_schema(client: object) -> None:
    r = client.get("/api/schema/", HTTP_ACCEPT="application/json")  # type: ignore[attr-defined]
    assert r.status_code == 200
    schema = json.loads(r.content)
    post = schema["paths"]["/api/v1/sessions"]["post"]
    assert {"200", "201", "400", "401", "409", "413"} <= set(post["responses"])
    assert "/api/v1/assessments" in schema["paths"]


@pytest.mark.django_db(transaction=True)
def test_it_stores_exactly_one_row_when_two_clients_race(ingest: tuple) -> None:
    _, raw = ingest
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        barrier.wait()
        try:
            codes.append(client.post(URL, session_body(), format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 200, 200, 201]
    assert ConversationSession.objects.count() == 1 and Message.objects.count() == 4


def test_a_back_dated_session_of_a_known_patient_is_refused_naming_the_field(api: APIClient) -> None:
    now = timezone.now().replace(microsecond=0)
    assert _post(api, session_body("s1", start=now - timedelta(days=2))).status_code == 201
    for when, why in (
        (datetime(2024, 1, 5, tzinfo=UTC), "first stored session"),
        (datetime(1970, 1, 1, tzinfo=UTC), "earliest date accepted"),
    ):
        r = _post(api, session_body(f"old-{when.year}", start=when))
        assert r.status_code == 400, r.content
        assert "started_at" in r.json()["errors"] and why in r.json()["errors"]["started_at"][0]
    assert ConversationSession.objects.count() == 1 and Message.objects.count() == 4  # nothing half-written
    # Within the limit (30 days before the first) it is accepted.
    assert _post(api, session_body("s0", start=now - timedelta(days=25))).status_code == 201


def test_a_new_patients_history_can_still_be_backfilled(api: APIClient) -> None:
    start = datetime(2024, 1, 5, tzinfo=UTC)
    for day in range(0, 90, 10):
        r = _post(api, session_body(f"h{day}", "p-new", start=start + timedelta(days=day)))
        assert r.status_code == 201, r.content


def test_an_earlier_session_within_the_limit_does_not_move_the_baseline() -> None:
    from monitor_site.predictions.models import TrajectorySummary
    from tests.factories import ModelVersionFactory, PatientFactory, PredictionFactory

    patient, version = PatientFactory(), ModelVersionFactory()
    now = timezone.now()
    for days_ago, total in ((10, 15.0), (9, 14.0)):
        at = now - timedelta(days=days_ago)
        PredictionFactory(session__patient=patient, session__ended_at=at, model_version=version, total=total)
    assert TrajectorySummary.objects.get(pk=patient.pk).baseline_total == 14.5
    late = now - timedelta(days=30)
    PredictionFactory(session__patient=patient, session__ended_at=late, model_version=version, total=4.0)
    summary = TrajectorySummary.objects.get(pk=patient.pk)
    assert summary.baseline_total == 14.5 and summary.baseline_from == now - timedelta(days=10)
