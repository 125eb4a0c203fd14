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
    assert missing.status_code == 200 and "Incorrect username, password or authenticator code" in (
        missing.content.decode()
    )
    wrong = _login(client, "dr-z", token="000000" if _code(device) != "000000" else "111111")
    assert "Incorrect username, password or authenticator code" in wrong.content.decode()
    ok = _login(client, "dr-z", token=_code(device))
    assert ok.status_code == 302 and client.get("/").status_code == 200


def test_with_two_factor_required_a_user_must_set_up_an_app_first(client: Client, settings: object) -> None:
    settings.TWO_FACTOR_REQUIRED = True  # type: ignore[attr-defined]
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # type: ignore[attr-defined]
    user = UserFactory(username="dr-new")
    assert _login(client, "dr-new").status_code == 302
    page = client.get("/")
    assert page.status_code == 302 and page["Location"].startswith("/account/two-factor/")
    _confirm_password(client, page["Location"])
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


def test_the_log_in_form_says_the_same_whatever_was_wrong(client: Client, settings: object) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # type: ignore[attr-defined]
    user = UserFactory(username="dr-2fa")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    UserFactory(username="dr-plain")
    wrong_code = "000000" if _code(device) != "000000" else "111111"
    answers = {
        _login(client, "dr-2fa", "wrong-password").context["form"].non_field_errors()[0],
        _login(client, "dr-2fa").context["form"].non_field_errors()[0],  # right password, no code
        _login(client, "dr-2fa", token=wrong_code).context["form"].non_field_errors()[0],
        _login(client, "dr-plain", "wrong-password").context["form"].non_field_errors()[0],
    }
    assert len(answers) == 1 and "Incorrect username, password or authenticator code" in answers.pop()


def test_wrong_authenticator_codes_count_toward_the_lock_out(client: Client, settings: object) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # type: ignore[attr-defined]
    user = UserFactory(username="dr-guess")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    wrong_code = "000000" if _code(device) != "000000" else "111111"
    for _ in range(4):
        assert _login(client, "dr-guess", token=wrong_code).status_code == 200
    assert _login(client, "dr-guess", token=wrong_code).status_code == 429
    assert _login(client, "dr-guess", token=_code(device)).status_code == 429  # locked, right code or not


def _confirm_password(client: Client, url: str = "/account/two-factor/") -> None:
    """The password again, which setting up or replacing an app asks for first."""
    assert client.post(url, {"password": PASSWORD}).status_code == 302


def _setup(client: Client) -> TOTPDevice:
    """Enrol an app through the set-up page (as the signed-in client)."""
    _confirm_password(client)
    page = client.get("/account/two-factor/")
    assert page.status_code == 200 and "Key:" in page.content.decode()
    device = TOTPDevice.objects.get(user__username=page.context["user"].get_username(), confirmed=False)
    assert client.post("/account/two-factor/", {"token": _code(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_enrolling_an_app_signs_out_the_users_other_sessions(settings: object) -> None:
    UserFactory(username="dr-two")
    laptop, stolen = Client(), Client()
    assert _login(laptop, "dr-two").status_code == 302 and _login(stolen, "dr-two").status_code == 302
    _setup(laptop)
    assert laptop.get("/").status_code == 200
    assert stolen.get("/").status_code == 302  # signed out


def test_replacing_the_app_needs_a_code_from_the_current_one(client: Client, settings: object) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # type: ignore[attr-defined]
    UserFactory(username="dr-swap")
    _login(client, "dr-swap")
    first = _setup(client)
    _confirm_password(client, "/account/two-factor/?replace=1")
    page = client.get("/account/two-factor/?replace=1").content.decode()
    assert "first enter a code from the" in page and "Key:" not in page
    wrong = "000000" if _code(first) != "000000" else "111111"
    assert (
        "does not match your current app"
        in client.post("/account/two-factor/?replace=1", {"token": wrong}).content.decode()
    )
    # The code used at enrolment cannot be used again: the app's next one (within the tolerance).
    assert client.post("/account/two-factor/?replace=1", {"token": _code(first, drift=1)}).status_code == 302
    assert "Key:" in client.get("/account/two-factor/?replace=1").content.decode()
    second = TOTPDevice.objects.get(user__username="dr-swap", confirmed=False)
    assert client.post("/account/two-factor/?replace=1", {"token": _code(second)}).status_code == 302
    assert list(TOTPDevice.objects.filter(user__username="dr-swap").values_list("pk", flat=True)) == [
        second.pk
    ]
