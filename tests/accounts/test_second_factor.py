"""Second factors stay secret and belong to their owner: nobody reads a TOTP key after enrolment (the
admin included), staff and superusers need one in production, and setting one up or replacing it asks
for the password again."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core import checks
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@pytest.fixture
def victim_device() -> TOTPDevice:
    admin_user = UserFactory(username="admin", is_staff=True, is_superuser=True)
    return TOTPDevice.objects.create(user=admin_user, name="app", confirmed=True)


def _secrets(device: TOTPDevice) -> list[str]:
    from base64 import b32encode

    return [device.key, b32encode(device.bin_key).decode().rstrip("="), "otpauth://"]


@pytest.mark.parametrize("superuser", [False, True])
def test_it_never_shows_a_totp_secret_in_the_admin(
    client: Client, victim_device: TOTPDevice, superuser: bool
) -> None:
    reader = UserFactory(username="reader", is_staff=True, is_superuser=superuser)
    reader.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(reader)
    base = "/admin/otp_totp/totpdevice/"
    for url in (base, f"{base}{victim_device.pk}/change/"):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert not [s for s in _secrets(victim_device) if s in html], url
        assert "/qrcode/" not in html and "/config/" not in html
    for url in (
        f"{base}{victim_device.pk}/config/",
        f"{base}{victim_device.pk}/qrcode/",
        f"{base}999999/config/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get(f"{base}add/").status_code == 403  # no device with a key of staff's choosing


def test_staff_must_set_up_a_second_factor_when_it_is_required_for_staff(
    client: Client, settings: object
) -> None:
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = True  # type: ignore[attr-defined]
    staff = UserFactory(username="ops", is_staff=True)
    client.force_login(staff)
    page = client.get("/admin/")
    assert page.status_code == 302 and page["Location"].startswith("/account/two-factor/")
    clinician = Client()
    clinician.force_login(UserFactory(username="dr-plain"))
    assert clinician.get("/").status_code == 200  # clinicians: as TWO_FACTOR_REQUIRED says


def test_check_deploy_fails_when_staff_may_sign_in_with_a_password_only(settings: object) -> None:
    settings.TWO_FACTOR_REQUIRED = False  # type: ignore[attr-defined]
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = False  # type: ignore[attr-defined]
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    assert "accounts.E001" in {m.id for m in found if m.level >= checks.ERROR}
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = True  # type: ignore[attr-defined]
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    assert "accounts.E001" not in {m.id for m in found}


def test_setting_up_an_app_asks_for_the_password_again(client: Client) -> None:
    """Someone at a signed-in session left open cannot enrol their own app (and lock the owner out)."""
    user = UserFactory(username="dr-away")
    client.force_login(user)
    page = client.get("/account/two-factor/").content.decode()
    assert "needs your password again" in page and "Key:" not in page
    assert not TOTPDevice.objects.filter(user=user).exists()
    wrong = client.post("/account/two-factor/", {"password": "not-the-password"})
    assert "That is not your password" in wrong.content.decode() and "Key:" not in wrong.content.decode()
    assert client.post("/account/two-factor/", {"password": PASSWORD}).status_code == 302
    assert "Key:" in client.get("/account/two-factor/").content.decode()


def test_replacing_an_app_asks_for_the_password_too(client: Client) -> None:
    user = UserFactory(username="dr-has-app")
    TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client.force_login(user)
    page = client.get("/account/two-factor/?replace=1").content.decode()
    assert "needs your password again" in page and "first enter a code" not in page
