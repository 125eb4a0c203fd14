"""One error shape for the whole API: {"detail": str, "code": str, "errors": {field path: [messages]}}."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "too_large"


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """{"messages": [{}, {"sent_at": ["bad"]}]} -> {"messages[1].sent_at": ["bad"]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                path = prefix or "body"
            elif isinstance(key, int) or str(key).isdigit():  # ListField errors are keyed by index
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten(value, path))
    elif isinstance(detail, list):
        if all(isinstance(v, str) for v in detail):
            out.setdefault(prefix or "body", []).extend(str(v) for v in detail)
        else:
            for i, value in enumerate(detail):
                if value:
                    out.update(flatten(value, f"{prefix}[{i}]"))
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


def exception_handler(exc: Exception, context: dict) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django's 500 handling (and logging) takes over
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
