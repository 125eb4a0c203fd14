"""Log-in throttles that cannot be turned against the user: the client's address from the trusted
proxy's header, a per-username slow-down that the right password with an authenticator code passes,
and a browser that signed in before that an attacker pacing failures cannot keep out."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fresh_counters(settings: object) -> None:
    cache.clear()
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # type: ignore[attr-defined]


def _login(client: Client, username: str, password: str = PASSWORD, token: str = "", **extra: str) -> object:
    return client.post("/login/", {"username": username, "password": password, "otp_token": token}, **extra)


def _attacker(i: int) -> Client:
    return Client(REMOTE_ADDR=f"198.51.100.{i % 250}")


def test_the_client_address_is_the_one_the_trusted_proxy_saw(settings: object) -> None:
    """Behind the HTTPS proxy every request comes from its address: without the header, one sprayer
    would lock every user out."""
    settings.TRUSTED_PROXY_IP_HEADER = "X-Forwarded-For"  # type: ignore[attr-defined]
    settings.LOGIN_IP_FAILURE_LIMIT = 4  # type: ignore[attr-defined]
    proxy = Client(REMOTE_ADDR="10.0.0.1")  # every request arrives from the proxy
    for i in range(4):  # a forged left-most entry changes nothing: the proxy's own entry counts
        assert (
            _login(
                proxy, f"victim-{i}", "Winter2026!", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 203.0.113.5"
            ).status_code
            == 200
        )
    refused = _login(proxy, "someone", "x", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert refused.status_code == 429 and "from this network address" in refused.content.decode()
    UserFactory(username="dr-behind-proxy")
    assert _login(proxy, "dr-behind-proxy", HTTP_X_FORWARDED_FOR="192.0.2.44").status_code == 302


def test_an_attacker_pacing_failures_cannot_keep_the_user_out_of_a_known_browser(settings: object) -> None:
    """The probe's case: failures paced so the username is always within its slow-down. 21 of 21 right
    log-ins from the clinician's usual browser go through."""
    settings.LOGIN_USERNAME_SLOWDOWN_AFTER = 3  # type: ignore[attr-defined]
    settings.LOGIN_USERNAME_DELAY_SECONDS = 60  # type: ignore[attr-defined]
    UserFactory(username="dr-paced")
    browser = Client(REMOTE_ADDR="192.0.2.10")
    assert _login(browser, "dr-paced").status_code == 302  # signed in before: a known browser
    browser.post("/logout/")
    for i in range(5):
        _login(_attacker(i), "dr-paced", "guess")
    assert _login(Client(REMOTE_ADDR="192.0.2.11"), "dr-paced").status_code == 429  # a new browser waits
    passed = 0
    for i in range(21):
        assert _login(_attacker(100 + i), "dr-paced", "guess").status_code == 429  # slowed
        passed += _login(browser, "dr-paced").status_code == 302
        browser.post("/logout/")
    assert passed == 21


def test_the_right_password_with_an_authenticator_code_passes_the_slow_down(settings: object) -> None:
    settings.LOGIN_USERNAME_SLOWDOWN_AFTER = 3  # type: ignore[attr-defined]
    settings.LOGIN_USERNAME_DELAY_SECONDS = 60  # type: ignore[attr-defined]
    user = UserFactory(username="dr-2fa-slowed")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    for i in range(5):
        _login(_attacker(i), "dr-2fa-slowed", "guess")
    new_browser = Client(REMOTE_ADDR="192.0.2.20")
    without_code = _login(new_browser, "dr-2fa-slowed")
    wrong = _login(new_browser, "dr-2fa-slowed", "guess")
    assert without_code.status_code == wrong.status_code == 429  # a right password alone tells nothing
    assert without_code.content == wrong.content
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    assert _login(new_browser, "dr-2fa-slowed", token=code).status_code == 302


def test_a_known_browser_that_keeps_failing_is_slowed_like_any_other(settings: object) -> None:
    settings.LOGIN_USERNAME_SLOWDOWN_AFTER = 3  # type: ignore[attr-defined]
    settings.LOGIN_USERNAME_DELAY_SECONDS = 60  # type: ignore[attr-defined]
    settings.LOGIN_DEVICE_FAILURE_LIMIT = 3  # type: ignore[attr-defined]
    UserFactory(username="dr-cookie")
    browser = Client(REMOTE_ADDR="192.0.2.30")
    assert _login(browser, "dr-cookie").status_code == 302
    browser.post("/logout/")
    for i in range(5):
        _login(_attacker(i), "dr-cookie", "guess")
    for _ in range(3):  # someone at that browser guessing
        assert _login(browser, "dr-cookie", "guess").status_code == 200
    assert _login(browser, "dr-cookie").status_code == 429  # no longer a trusted browser this window
