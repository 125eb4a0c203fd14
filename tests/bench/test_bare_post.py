"""The load test's bare POST: mounted only when LOADTEST_BARE_POST is on, authenticated like ingestion,
and it stores nothing."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.core import checks
from django.urls import clear_url_caches
from rest_framework.test import APIClient

from monitor_site.bench.bare_post import BARE_POST_PATH
from monitor_site.patients.models import ConversationSession, Patient
from tests.conftest import session_body

pytestmark = pytest.mark.django_db


def _reload_urls() -> None:
    import monitor_site.urls

    importlib.reload(monitor_site.urls)
    clear_url_caches()


@pytest.fixture
def bare_post_on(settings: object) -> Iterator[None]:
    settings.LOADTEST_BARE_POST = True  # type: ignore[attr-defined]
    _reload_urls()
    yield
    settings.LOADTEST_BARE_POST = False  # type: ignore[attr-defined]
    _reload_urls()


def test_it_is_not_there_by_default(api: APIClient) -> None:
    r = api.post(BARE_POST_PATH, session_body(), format="json")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_when_on_it_authenticates_and_stores_nothing(bare_post_on: None, api: APIClient) -> None:
    assert APIClient().post(BARE_POST_PATH, session_body(), format="json").status_code == 401
    r = api.post(BARE_POST_PATH, session_body(), format="json")
    assert r.status_code == 201 and r.json() == {"created": True}
    assert ConversationSession.objects.count() == 0 and Patient.objects.count() == 0
    assert api.get(BARE_POST_PATH).status_code == 405


def test_check_deploy_warns_when_the_bare_post_is_on(settings: object) -> None:
    settings.LOADTEST_BARE_POST = True  # type: ignore[attr-defined]
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    assert "bench.W001" in {m.id for m in found if m.level == checks.WARNING}
    settings.LOADTEST_BARE_POST = False  # type: ignore[attr-defined]
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    assert "bench.W001" not in {m.id for m in found}
