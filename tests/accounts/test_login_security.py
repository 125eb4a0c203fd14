"""Log-in throttling (django-axes) and TOTP two-factor authentication (django-otp)."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def _code(device: TOTPDevice, drift: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


def _login(client: Client, username: str, password: str = PASSWORD, token: str = "") -> object:
    return client.post("/login/", {"username": username, "password": password, "otp_token": token})


def test_it_locks_a_username_out_after_repeated_failures(client: Client) -> None:
    UserFactory(username="dr-x")
    for _ in range(4):
        assert _login(client, "dr-x", "wrong-password").status_code == 200
    assert _login(client, "dr-x", "wrong-password").status_code == 429  # the 5th failure locks
    locked = _login(client, "dr-x")  # even the right password now
    assert locked.status_code == 429 and "Too many failed log-ins" in locked.content.decode()
    assert client.get("/").status_code == 302  # not logged in


def test_a_success_resets_the_failure_count(client: Client) -> None:
    UserFactory(username="dr-y")
    for _ in range(4):
        _login(client, "dr-y", "wrong-password")
    assert _login(client, "dr-y").status_code == 302
    client.logout()
    for _ in range(4):
        _login(client, "dr-y", "wrong-password")
    assert _login(client, "dr-y").status_code == 302


def test_it_asks_for_the_authenticator_code_once_one_is_set_up(client: Client, settings: object) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # type: ignore[attr-defined]  # else a wrong code delays the next
    user = UserFactory(username="dr-z")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    missing = _login(client, "dr-z")
    assert (
        missing.status_code == 200
        and "Enter the code from your authenticator app" in missing.content.decode()
    )
    wrong = _login(client, "dr-z", token="000000" if _code(device) != "000000" else "111111")
    assert "not valid" in wrong.content.decode()
    ok = _login(client, "dr-z", token=_code(device))
    assert ok.status_code == 302 and client.get("/").status_code == 200


def test_with_two_factor_required_a_user_must_set_up_an_app_first(client: Client, settings: object) -> None:
    settings.TWO_FACTOR_REQUIRED = True  # type: ignore[attr-defined]
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # type: ignore[attr-defined]
    user = UserFactory(username="dr-new")
    assert _login(client, "dr-new").status_code == 302
    page = client.get("/")
    assert page.status_code == 302 and page["Location"].startswith("/account/two-factor/")
    setup = client.get(page["Location"])
    html = setup.content.decode()
    assert "<svg" in html and "This service requires a second factor" in html
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post(page["Location"], {"token": "12345"}).status_code == 200  # wrong: stays
    done = client.post(page["Location"], {"token": _code(device)})
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.get("/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_with_two_factor_required_a_password_only_session_is_signed_out(
    client: Client, settings: object
) -> None:
    settings.TWO_FACTOR_REQUIRED = True  # type: ignore[attr-defined]
    user = UserFactory(username="dr-old")
    client.force_login(user)  # e.g. signed in before the app was confirmed
    TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    response = client.get("/alerts/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/alerts/")["Location"].startswith("/login/")


def test_the_admin_uses_the_same_login_page(client: Client) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/admin/"


def test_ingestion_is_not_affected_by_two_factor(client: Client, settings: object, api: object) -> None:
    from tests.conftest import session_body

    settings.TWO_FACTOR_REQUIRED = True  # type: ignore[attr-defined]
    assert api.post("/api/v1/sessions", session_body(), format="json").status_code == 201  # type: ignore[attr-defined]
