"""Log-in with an optional second factor: users who set up an authenticator app must give its code."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django_otp import match_token, user_has_device


class TwoFactorLoginForm(AuthenticationForm):
    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="The 6-digit code from your authenticator app, if you set one up.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()  # username and password first (and django-axes' throttling)
        user = self.get_user()
        self.otp_device = None
        if user is not None and user_has_device(user, confirmed=True):
            token = (cleaned.get("otp_token") or "").strip().replace(" ", "")
            if not token:
                raise forms.ValidationError(
                    "Enter the code from your authenticator app.", code="otp_required"
                )
            self.otp_device = match_token(user, token)
            if self.otp_device is None:
                raise forms.ValidationError("That authenticator code is not valid (or was already used).")
        return cleaned


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code from the app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
