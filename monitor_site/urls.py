from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from monitor_site.accounts.views import LoginView, two_factor_setup

urlpatterns = [
    path("", include("monitor_site.dashboards.urls")),
    path("login/", LoginView.as_view(), name="login"),
    path("account/two-factor/", two_factor_setup, name="two_factor_setup"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # One log-in page for everyone (password, throttling, second factor), the admin's included.
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("monitor_site.api.urls")),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
]
if settings.LOADTEST_BARE_POST:  # manage.py loadtest's own gunicorn only; off by default
    from monitor_site.bench.bare_post import BARE_POST_PATH, bare_post

    urlpatterns.insert(0, path(BARE_POST_PATH.lstrip("/"), bare_post))


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The API answers JSON even for a path it does not know; pages get the 404 page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "No such API endpoint.", "code": "not_found"}, status=404)
    return page_not_found(request, exception)


handler404 = not_found
