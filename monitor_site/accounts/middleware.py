"""With TWO_FACTOR_REQUIRED (everyone) or TWO_FACTOR_REQUIRED_FOR_STAFF (staff and superusers; on
whenever DEBUG is off), a signed-in person must have passed a second factor in this session: without
an authenticator app they are sent to set one up; with one but an unverified session (signed in
before it was confirmed) they are signed out and must log in with a code."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp import user_has_device

EXEMPT_PREFIXES = ("/static/", "/api/v1/sessions", "/api/v1/assessments", "/api/schema/")


class RequireTwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and two_factor_required(user)
            and not user.is_verified()
            and not self._exempt(request.path)
        ):
            if user_has_device(user, confirmed=True):
                logout(request)
                return HttpResponseRedirect(f"{reverse('login')}?{urlencode({'next': request.path})}")
            query = urlencode({"next": request.path, "required": "1"})
            return HttpResponseRedirect(f"{reverse('two_factor_setup')}?{query}")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        own = (reverse("login"), reverse("logout"), reverse("two_factor_setup"))
        return path.startswith(EXEMPT_PREFIXES) or path in own


def two_factor_required(user: Any) -> bool:
    if settings.TWO_FACTOR_REQUIRED:
        return True
    return bool(settings.TWO_FACTOR_REQUIRED_FOR_STAFF and (user.is_staff or user.is_superuser))


# Session lifetime: signed out after SESSION_IDLE_MINUTES without a request, and SESSION_MAX_HOURS after
# signing in whatever the activity (a shared ward computer). The last-seen time is written at most once a
# minute, so a page view costs no session write.
SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
SEEN_RESOLUTION_SECONDS = 60


class SessionLifetimeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            session = request.session
            signed_in = session.setdefault(SIGNED_IN_AT, now)  # sessions from before this check: from now
            seen = session.get(SEEN_AT, now)
            if now - seen > settings.SESSION_IDLE_MINUTES * 60:
                idle = settings.SESSION_IDLE_MINUTES
                self._sign_out(request, f"after {idle} minute{'' if idle == 1 else 's'} without activity")
            elif now - signed_in > settings.SESSION_MAX_HOURS * 3600:
                hours = settings.SESSION_MAX_HOURS
                self._sign_out(request, f"{hours} hour{'' if hours == 1 else 's'} after signing in")
            elif now - session.get(SEEN_AT, 0) > SEEN_RESOLUTION_SECONDS:
                session[SEEN_AT] = now
        return self.get_response(request)

    @staticmethod
    def _sign_out(request: HttpRequest, why: str) -> None:
        # The request goes on as anonymous: pages send it to the log-in page, the read API answers 403.
        logout(request)
        messages.info(request, f"You were signed out {why}. Please sign in again.")


def session_signed_in(sender: object, request: HttpRequest, user: object, **kwargs: object) -> None:
    """user_logged_in receiver: the session's clock starts at sign-in."""
    now = time.time()
    request.session[SIGNED_IN_AT] = now
    request.session[SEEN_AT] = now
