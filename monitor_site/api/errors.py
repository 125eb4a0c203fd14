"""One error shape for the whole API: {"detail": str, "code": str, "errors": {field path: [messages]}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "too_large"


def _encodable(text: str) -> str:
    """An error may quote the client's input (an invalid choice, an unknown field): a lone surrogate in
    it could not be encoded as UTF-8 JSON (that was a 500), so it becomes "?"."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """{"messages": [{}, {"sent_at": ["bad"]}]} -> {"messages[1].sent_at": ["bad"]}."""
    return {
        _encodable(path): [_encodable(m) for m in messages]
        for path, messages in _flatten(detail, prefix).items()
    }


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                path = prefix or "body"
            elif isinstance(key, int) or str(key).isdigit():  # ListField errors are keyed by index
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, path))
    elif isinstance(detail, list):
        if all(isinstance(v, str) for v in detail):
            out.setdefault(prefix or "body", []).extend(str(v) for v in detail)
        else:
            for i, value in enumerate(detail):
                if value:
                    out.update(_flatten(value, f"{prefix}[{i}]"))
    else:
        out.setdefault(prefix or "body", []).append(str(detail))
    return out


def error_response(
    *, status_code: int, detail: str, code: str, errors: dict[str, list[str]] | None = None
) -> Response:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if errors:
        body["errors"] = errors
    return Response(body, status=status_code)


DATABASE_RETRY_SECONDS = 5


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        # PostgreSQL down or restarting: nothing was written (one transaction), so the client can
        # safely retry the same body; Django drops the broken connection and reconnects by itself.
        log.warning("database unavailable: %s", type(exc).__name__)
        response = error_response(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="The database is unavailable; nothing was stored. Retry the same request shortly.",
            code="service_unavailable",
        )
        response["Retry-After"] = str(DATABASE_RETRY_SECONDS)
        return response
    # DRF turns Django's Http404/PermissionDenied into its own exceptions only inside its handler, and
    # leaves RequestDataTooBig to Django's HTML 400: convert them first, so each gets our JSON shape.
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge("Request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    handled = drf_exception_handler(exc, context)
    if handled is None:
        return None  # unexpected: Django's 500 handling (and logging) takes over
    response = handled
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "Invalid input.", "code": "invalid", "errors": flatten(exc.detail)}
    elif isinstance(exc, exceptions.ParseError):
        response.data = {
            "detail": "Malformed JSON body.",
            "code": "parse_error",
            "errors": {"body": [str(exc.detail)]},
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {"detail": str(exc.detail), "code": codes if isinstance(codes, str) else "error"}
    return response
