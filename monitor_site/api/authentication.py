"""Bearer tokens per ingest source (`Authorization: Bearer phq_...`); 401 without a valid one."""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from monitor_site.accounts.throttle import client_ip
from monitor_site.patients.models import IngestToken
from monitor_site.patients.services.tokens import ingest_token_authenticate


class IngestTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[None, IngestToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        failures_key = f"ingest-auth-fail:{client_ip(request) or 'unknown'}:{int(time.time() // 60)}"
        limit = settings.INGEST_AUTH_FAILURES_PER_MINUTE
        if limit and int(cache.get(failures_key) or 0) >= limit:
            # Guessing tokens: refused before the lookup until the next clock minute.
            raise exceptions.Throttled(wait=max(1, math.ceil(60 - time.time() % 60)))
        try:
            raw = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Token contains invalid characters.") from exc
        token = ingest_token_authenticate(raw=raw)
        if token is None:
            cache.add(failures_key, 0, timeout=120)
            try:
                cache.incr(failures_key)
            except ValueError:  # expired in between
                cache.add(failures_key, 1, timeout=120)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (None, token)

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="api"'


class IngestTokenRateThrottle(throttling.BaseThrottle):
    """At most INGEST_RATE_LIMIT_PER_MINUTE requests per token and clock minute (0: no limit); over it,
    429 with Retry-After (the seconds to the next minute). A counter per token and minute in the cache
    (Redis in production, so every web process shares it); signed-in clinicians are not limited here."""

    def allow_request(self, request: Any, view: Any) -> bool:
        limit = settings.INGEST_RATE_LIMIT_PER_MINUTE
        if not limit or not isinstance(request.auth, IngestToken):
            return True
        now = time.time()
        key = f"ingest-rate:{request.auth.pk}:{int(now // 60)}"
        cache.add(key, 0, timeout=120)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=120)
            count = 1
        self.retry_after = max(1, math.ceil(60 - now % 60))
        return count <= limit

    def wait(self) -> float:
        return self.retry_after


class HasIngestToken(permissions.BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.auth, IngestToken)


class IngestTokenScheme(OpenApiAuthenticationExtension):
    target_class = IngestTokenAuthentication
    name = "ingestToken"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Per-source token from create_ingest_token",
        }
