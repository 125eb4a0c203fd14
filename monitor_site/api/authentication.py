"""Bearer tokens per ingest source (`Authorization: Bearer phq_...`); 401 without a valid one."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from monitor_site.patients.models import IngestToken
from monitor_site.patients.services import ingest_token_authenticate


class IngestTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[None, IngestToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            raw = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Token contains invalid characters.") from exc
        token = ingest_token_authenticate(raw=raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (None, token)

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="api"'


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
