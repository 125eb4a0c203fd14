"""Log-in (password, then the authenticator code when the user has one) and TOTP set-up."""

from __future__ import annotations

import time
from base64 import b32encode
from io import BytesIO
from typing import Any, cast

import qrcode
import qrcode.image.svg
from django.contrib.auth import user_login_failed
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from monitor_site.accounts.forms import PasswordConfirmForm, TokenForm, TwoFactorLoginForm
from monitor_site.accounts.services import user_other_sessions_end
from monitor_site.accounts.throttle import device_cookie_set, login_refusal

DEVICE_NAME = "authenticator app"


class LoginView(auth_views.LoginView):
    form_class = TwoFactorLoginForm

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = login_refusal(request, request.POST.get("username", ""))
        if refusal is None:
            return super().post(request, *args, **kwargs)
        # Throttled: only the password with a right authenticator code passes. Every other outcome,
        # a right password without a code included, gets the same 429, so the answer tells nothing.
        message, wait = refusal
        form = self.get_form()
        assert isinstance(form, TwoFactorLoginForm)  # form_class
        form.second_factor_required = True
        if form.is_valid():
            return self.form_valid(form)
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
        response["Retry-After"] = str(wait)
        return response

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        assert isinstance(form, TwoFactorLoginForm)  # form_class
        response = super().form_valid(form)
        if form.otp_device is not None:
            otp_login(self.request, form.otp_device)
        device_cookie_set(response, username=form.get_user().get_username())  # a known browser now
        return response


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


REPLACE_WINDOW_SECONDS = 300  # after a fresh code from the current app, this long to enrol a new one


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Show a new TOTP secret (QR code and text) and confirm it with one code from the app.

    Setting up or replacing an app asks for the password again first (someone at a signed-in session
    left open cannot enrol their own app and lock the owner out). Replacing an app that is set up
    also needs a fresh code from it (a session that has only the password cannot swap in the
    attacker's app); confirming the new one signs the user out of every other session."""
    user = cast(User, request.user)
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    replacing = confirmed is not None and request.GET.get("replace") == "1"
    if (confirmed is None or replacing) and not _password_recent(request):
        return _password_confirm(request, user)
    if confirmed is not None and not _replace_allowed(request):
        if not replacing:
            return render(request, "accounts/two_factor_setup.html", {"done": True})
        form = TokenForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if confirmed.verify_token(_digits(form.cleaned_data["token"])):
                request.session[REPLACE_KEY] = time.time() + REPLACE_WINDOW_SECONDS
                return redirect(f"{request.path}?replace=1")
            user_login_failed.send(
                sender=__name__, credentials={"username": user.get_username()}, request=request
            )
            form.add_error("token", "That code does not match your current app.")
        return render(request, "accounts/two_factor_setup.html", {"confirm_current": True, "form": form})
    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=False, defaults={"name": DEVICE_NAME})
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(_digits(form.cleaned_data["token"])):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()  # one app at a time
            request.session.pop(REPLACE_KEY, None)
            request.session.pop(PASSWORD_KEY, None)
            request.session.cycle_key()  # a new session id for the new second factor
            otp_login(request, device)
            user_other_sessions_end(user=user, keep_session_key=request.session.session_key)
            target = request.GET.get("next", "")
            if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
                return HttpResponseRedirect(target)
            return redirect("dashboards:patient_list")
        form.add_error("token", "That code does not match: check the app's clock and try the next code.")
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "secret": b32encode(device.bin_key).decode().rstrip("="),
            "qr": _qr_svg(device.config_url),
            "required": request.GET.get("required") == "1",
            "replacing": confirmed is not None,
        },
    )


REPLACE_KEY = "otp_replace_until"
PASSWORD_KEY = "otp_password_confirmed_until"


def _password_recent(request: HttpRequest) -> bool:
    return float(request.session.get(PASSWORD_KEY, 0)) > time.time()


def _password_confirm(request: HttpRequest, user: User) -> HttpResponse:
    """The password form; a right password opens enrolment for REPLACE_WINDOW_SECONDS, a wrong one
    counts as a failed log-in (throttles and lock-out)."""
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if user.check_password(form.cleaned_data["password"]):
            request.session[PASSWORD_KEY] = time.time() + REPLACE_WINDOW_SECONDS
            return redirect(request.get_full_path())
        user_login_failed.send(
            sender=__name__, credentials={"username": user.get_username()}, request=request
        )
        form.add_error("password", "That is not your password.")
    return render(request, "accounts/two_factor_setup.html", {"confirm_password": True, "form": form})


def _replace_allowed(request: HttpRequest) -> bool:
    return float(request.session.get(REPLACE_KEY, 0)) > time.time()


def _digits(token: str) -> str:
    return token.strip().replace(" ", "")
