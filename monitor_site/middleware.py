"""Request guards that apply to every page, the admin and the API alike."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.cache import patch_cache_control

log = logging.getLogger(__name__)


class RejectNulInQueryMiddleware:
    """A query parameter holding a NUL character is a 400 naming the parameter: no database stores NUL
    in text (PostgreSQL refuses it), so without this a filter like `?q=%00` ends in a server error.
    The API (/api/) validates its own parameters and answers in JSON, so it is left to its serializers."""

    API_PREFIX = "/api/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(self.API_PREFIX):
            return self.get_response(request)
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                shown = name.replace("\x00", "\\0")[:40]
                return HttpResponseBadRequest(
                    f"query parameter {shown!r} holds a NUL character; remove it", content_type="text/plain"
                )
        return self.get_response(request)


class NoStoreMiddleware:
    """`Cache-Control: no-store, private` on every answer to a signed-in person and on the whole API:
    patient pages, exports and the read API must not stay in a browser's or a proxy's cache (a shared
    ward computer, the back button after signing out). Static files keep their own caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if signed_in or request.path.startswith(RejectNulInQueryMiddleware.API_PREFIX):
            patch_cache_control(response, no_store=True, private=True)
        return response


API_ERROR_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}


def api_error(status: int, detail: str) -> JsonResponse:
    """The API's error shape ({"detail", "code"}, docs/api.md) for an answer Django made itself."""
    return JsonResponse({"detail": detail, "code": API_ERROR_CODES.get(status, "error")}, status=status)


class ApiJsonErrorsMiddleware:
    """Every answer under /api/ is JSON in the API's error shape, also where Django answers before or
    after the API's own code: an unknown path (Django's 404 page, the technical one with DEBUG), a
    server error (500), a refused host. Outermost, so it sees every other middleware's answer too.
    The exception is logged with its traceback (never the request body), as Django's 500 would."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(RejectNulInQueryMiddleware.API_PREFIX)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            detail = "No such API endpoint." if response.status_code == 404 else response.reason_phrase
            replaced = api_error(response.status_code, detail)
            for header in ("Retry-After", "WWW-Authenticate", "Allow"):
                if header in response:
                    replaced[header] = response[header]
            return replaced
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(RejectNulInQueryMiddleware.API_PREFIX):
            return None
        log.error("API error on %s %s", request.method, request.path, exc_info=exception)
        return api_error(500, "Internal server error. Retry later, or report it if it persists.")
