"""Request guards that apply to every page, the admin and the API alike."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.cache import patch_cache_control


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
