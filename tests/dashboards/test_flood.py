"""A flood of sessions for one patient (10,000 in 14 days were sent in a probe): every page, the read
API and the FHIR export do bounded work in a flat number of queries, and scoring reads a bounded
amount of text. The limits are made small here so that a few hundred rows show the behaviour."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitor_site.dashboards import selectors
from monitor_site.patients.models import ConversationSession
from monitor_site.predictions.models import Prediction
from tests.factories import CareTeamFactory, ModelVersionFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


FLOOD_VERSION: list = []


@pytest.fixture
def flooded(client: Client) -> object:
    FLOOD_VERSION.clear()
    user = UserFactory()
    team = CareTeamFactory()
    team.members.add(user)
    client.force_login(user)
    return PatientFactory(care_team=team, external_id="pt-flood")


def _flood(patient: object, n: int) -> None:
    """n more sessions and their predictions (one model version), minutes apart, in two bulk inserts."""
    version = ModelVersionFactory.create(version="v-flood") if not FLOOD_VERSION else FLOOD_VERSION[0]
    FLOOD_VERSION[:] = [version]
    start = ConversationSession.objects.filter(patient=patient).count()
    now = timezone.now() - timedelta(days=13)
    sessions = ConversationSession.objects.bulk_create(
        ConversationSession(
            source=patient.source,  # type: ignore[attr-defined]
            patient=patient,
            external_id=f"flood-{start + i}",
            started_at=now + timedelta(minutes=start + i),
            ended_at=now + timedelta(minutes=start + i, seconds=30),
            message_count=1,
            content_hash="x",
        )
        for i in range(n)
    )
    Prediction.objects.bulk_create(
        Prediction(
            patient=patient,
            session=s,
            model_version=version,
            window_start=s.ended_at - timedelta(days=14),
            window_end=s.ended_at,
            total=12.0,
            items=[12 / 9] * 9,
            interval_low=8.0,
            interval_high=16.0,
            band="moderate",
            n_sessions=1,
            n_user_turns=1,
            n_tokens=100,
        )
        for s in sessions
    )


def _queries(client: Client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx), len(response.content)


def test_the_patient_page_samples_the_chart_and_pages_the_table_in_flat_queries(
    client: Client, flooded: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "MAX_CHART_POINTS", 40)
    monkeypatch.setattr(selectors, "RECENT_POINTS", 10)
    monkeypatch.setattr(selectors, "SCORES_PAGE_SIZE", 25)
    _flood(flooded, 30)
    url = f"/patients/{flooded.pk}/"  # type: ignore[attr-defined]
    few, _ = _queries(client, url)
    _flood(flooded, 300)
    many, _ = _queries(client, url)
    # sampled: the count, the newest points, the older ones' ids and their sample; the table's count and
    # page (unsampled, the chart's rows are the table: no query of their own)
    assert many <= few + 6
    _flood(flooded, 300)
    assert _queries(client, url)[0] == many  # flat from here on
    response = client.get(url)
    drawn = [t for t in response.context["figure"]["data"] if t["name"].startswith("Model-inferred")]
    assert len(drawn[0]["y"]) <= 40 and response.context["sampled"]
    assert response.context["n_predictions"] == 630
    assert len(response.context["scores"]) == 25 and response.context["scores"].paginator.num_pages == 26
    assert client.get(url, {"scores_page": "26"}).status_code == 200


def test_the_trajectory_api_is_paged(client: Client, flooded: object) -> None:
    _flood(flooded, 1200)
    url = f"/api/v1/patients/{flooded.pk}/trajectory"  # type: ignore[attr-defined]
    first = client.get(url).json()
    assert first["count"] == 1200 and len(first["predictions"]) == 500 and "page=2" in first["next"]
    last = client.get(url, {"page": 3}).json()
    assert len(last["predictions"]) == 200 and last["next"] is None
    assert client.get(url, {"page": 4}).status_code == 404
    assert client.get(url, {"page_size": 5000}).status_code == 400
    assert client.get(url, {"page": "abc"}).status_code == 400


def test_the_fhir_export_is_paged_with_links(
    client: Client, flooded: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "FHIR_PAGE_SIZE", 100)
    _flood(flooded, 250)
    url = f"/patients/{flooded.pk}/fhir.json"  # type: ignore[attr-defined]
    first = client.get(url).json()
    observations = [e for e in first["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(observations) == 100
    assert {link["relation"] for link in first["link"]} == {"self", "next"}
    third = client.get(url, {"page": 3})
    assert third.status_code == 200 and "page-3" in third["Content-Disposition"]
    assert {link["relation"] for link in third.json()["link"]} == {"self", "previous"}
    assert client.get(url, {"page": 4}).status_code == 404
    assert client.get(url, {"page": "x"}).status_code == 404
