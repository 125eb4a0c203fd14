"""Log-in with an optional second factor: users who set up an authenticator app must give its code."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import user_login_failed
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

    # One message for every failure: a different answer to a right password would tell an attacker
    # that the password was right and only the code is missing.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Incorrect username, password or authenticator code (if you set one up). "
        "Note that both fields may be case-sensitive.",
    }

    # Set while the username is slowed down (accounts.throttle): only the password together with a
    # right authenticator code passes then; a user without an app waits between attempts.
    second_factor_required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}  # username and password first (and django-axes' throttling)
        user = self.get_user()
        self.otp_device = None
        if user is not None and self.second_factor_required and not user_has_device(user, confirmed=True):
            self._failed(cleaned)
        if user is not None and user_has_device(user, confirmed=True):
            token = (cleaned.get("otp_token") or "").strip().replace(" ", "")
            self.otp_device = match_token(user, token) if token else None
            if self.otp_device is None:
                self._failed(cleaned)
        return cleaned

    def _failed(self, cleaned: dict[str, Any]) -> None:
        """A failed log-in like a wrong password: django-axes and the throttles count it (the signal
        they listen to), so codes cannot be guessed without the throttle."""
        user_login_failed.send(
            sender=__name__, credentials={"username": cleaned.get("username", "")}, request=self.request
        )
        self.user_cache = None
        raise self.get_invalid_login_error()


class TokenForm(forms.Form):
    """One code from an authenticator app."""

    token = forms.CharField(
        label="Code from the app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PasswordConfirmForm(forms.Form):
    """The account's password again, before a second factor is set up or replaced."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
