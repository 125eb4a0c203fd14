"""Hardening: nothing cached for signed-in pages and the API, sessions that end, log-in throttles
against spraying that never lock a clinician out, and per-token rate limits on ingestion."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import Client

from tests.conftest import session_body
from tests.factories import CareTeamFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    cache.clear()


def _login(client: Client, username: str, password: str = PASSWORD, **extra: str) -> object:
    return client.post("/login/", {"username": username, "password": password}, **extra)


def test_signed_in_pages_exports_and_the_api_are_never_cached(client: Client, api: object) -> None:
    user = UserFactory()
    team = CareTeamFactory()
    team.members.add(user)
    patient = PatientFactory(care_team=team)
    client.force_login(user)
    for url in ("/", f"/patients/{patient.pk}/", f"/patients/{patient.pk}/export.csv", "/api/v1/patients"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"], url
    assert "no-store" in api.post("/api/v1/sessions", session_body(), format="json")["Cache-Control"]


def test_a_session_ends_after_the_idle_time(client: Client, settings: object) -> None:
    UserFactory(username="dr-idle")
    assert _login(client, "dr-idle").status_code == 302
    assert client.get("/").status_code == 200
    session = client.session
    session["seen_at"] = time.time() - 31 * 60
    session.save()
    response = client.get("/", follow=True)
    assert response.redirect_chain and "/login/" in response.redirect_chain[-1][0]
    assert "signed out after 30 minutes without activity" in response.content.decode()


def test_a_session_ends_after_its_absolute_lifetime_however_active(client: Client) -> None:
    UserFactory(username="dr-long")
    _login(client, "dr-long")
    session = client.session
    session["signed_in_at"] = time.time() - 13 * 3600
    session["seen_at"] = time.time()
    session.save()
    assert client.get("/").status_code == 302


def test_activity_keeps_an_idle_session_alive(client: Client) -> None:
    UserFactory(username="dr-busy")
    _login(client, "dr-busy")
    session = client.session
    session["seen_at"] = time.time() - 29 * 60
    session.save()
    assert client.get("/").status_code == 200
    assert time.time() - client.session["seen_at"] < 5  # the clock restarted


def test_one_address_spraying_many_usernames_is_refused(client: Client, settings: object) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 6  # type: ignore[attr-defined]
    for i in range(6):  # one failure each: axes' per-username lock never triggers
        assert _login(client, f"victim-{i}", "Winter2026!").status_code == 200
    UserFactory(username="dr-real")
    refused = _login(client, "dr-real")
    assert refused.status_code == 429 and "from this network address" in refused.content.decode()
    other_address = Client(REMOTE_ADDR="10.0.0.9")
    assert _login(other_address, "dr-real").status_code == 302  # nobody else is locked out


def test_a_username_attacked_from_many_addresses_is_slowed_not_locked(
    client: Client, settings: object
) -> None:
    settings.LOGIN_USERNAME_SLOWDOWN_AFTER = 3  # type: ignore[attr-defined]
    settings.LOGIN_USERNAME_DELAY_SECONDS = 2  # type: ignore[attr-defined]
    UserFactory(username="dr-target")
    for i in range(3):
        attacker = Client(REMOTE_ADDR=f"203.0.113.{i}")
        assert _login(attacker, "dr-target", "guess").status_code == 200
    slowed = _login(Client(REMOTE_ADDR="203.0.113.99"), "dr-target", "guess")
    assert slowed.status_code == 429 and int(slowed["Retry-After"]) <= 2
    time.sleep(2.1)
    clinician = Client(REMOTE_ADDR="192.0.2.10")
    assert _login(clinician, "dr-target").status_code == 302  # after the delay, the right password works


def test_ingestion_is_rate_limited_per_token_with_retry_after(api: object, settings: object) -> None:
    settings.INGEST_RATE_LIMIT_PER_MINUTE = 3  # type: ignore[attr-defined]
    answers = [
        api.post("/api/v1/sessions", session_body(f"s{i}"), format="json").status_code for i in range(4)
    ]
    if answers[:3] != [201, 201, 201]:  # the clock minute turned mid-test: try once more
        cache.clear()
        answers = [
            api.post("/api/v1/sessions", session_body(f"t{i}"), format="json").status_code for i in range(4)
        ]
    assert answers == [201, 201, 201, 429]
    refused = api.post("/api/v1/sessions", session_body("s9"), format="json")
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["code"] == "throttled"
