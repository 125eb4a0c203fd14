"""With TWO_FACTOR_REQUIRED, a signed-in person must have passed a second factor in this session:
without an authenticator app they are sent to set one up; with one but an unverified session (signed
in before it was confirmed) they are signed out and must log in with a code."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
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
            settings.TWO_FACTOR_REQUIRED
            and user is not None
            and user.is_authenticated
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
