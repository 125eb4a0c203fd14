"""Log-in (password, then the authenticator code when the user has one) and TOTP set-up."""

from __future__ import annotations

from base64 import b32encode
from io import BytesIO
from typing import Any, cast

import qrcode
import qrcode.image.svg
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from monitor_site.accounts.forms import TokenForm, TwoFactorLoginForm

DEVICE_NAME = "authenticator app"


class LoginView(auth_views.LoginView):
    form_class = TwoFactorLoginForm

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        assert isinstance(form, TwoFactorLoginForm)  # form_class
        response = super().form_valid(form)
        if form.otp_device is not None:
            otp_login(self.request, form.otp_device)
        return response


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Show a new TOTP secret (QR code and text) and confirm it with one code from the app."""
    confirmed = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    # OTPMiddleware gives every request's user is_verified() (not in the User type).
    if confirmed is not None and cast(Any, request.user).is_verified():
        return render(request, "accounts/two_factor_setup.html", {"done": True})
    device, _ = TOTPDevice.objects.get_or_create(
        user=request.user, confirmed=False, defaults={"name": DEVICE_NAME}
    )
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].strip().replace(" ", "")):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=request.user).exclude(pk=device.pk).delete()  # one app at a time
            otp_login(request, device)
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
        },
    )
