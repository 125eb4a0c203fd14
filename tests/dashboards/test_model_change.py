"""A model change tells the truth on the patient page and the list."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from monitor_site.predictions.services.summaries import trajectory_summaries_refresh
from tests.factories import (
    CareTeamFactory,
    ModelVersionFactory,
    PatientFactory,
    PredictionFactory,
    SessionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(client: Client) -> tuple[Client, object]:
    team = CareTeamFactory()
    user = UserFactory()
    team.members.add(user)
    client.force_login(user)
    patient = PatientFactory(care_team=team)
    old = ModelVersionFactory(version="v-old", status="active", promoted_at=timezone.now())
    new = ModelVersionFactory(version="v-new", status="retired", promoted_at=timezone.now())
    sessions = [SessionFactory(patient=patient) for _ in range(4)]
    for session, total in zip(sessions, [7.8, 8.0, 15.0, 18.5], strict=True):
        PredictionFactory(session=session, model_version=old, total=total)
    for session, total in zip(sessions[2:], [17.0, 21.4], strict=True):
        PredictionFactory(session=session, model_version=new, total=total)
    trajectory_summaries_refresh(patient_ids=[patient.pk])
    return client, patient


def test_after_a_roll_back_the_page_shows_the_active_versions_latest_and_one_row_per_window(
    page: tuple[Client, object],
) -> None:
    client, patient = page
    context = client.get(f"/patients/{patient.pk}/").context
    assert context["latest"].total == 18.5 and context["latest"].model_version.version == "v-old"
    assert not context["latest_not_current"]
    assert len(list(context["scores"])) == 4  # one row per window, not one per version's score
    assert {p.model_version.version for p in context["scores"]} == {"v-old"}


def test_the_chart_draws_the_active_version_as_the_line_and_names_the_others(
    page: tuple[Client, object],
) -> None:
    client, patient = page
    figure = client.get(f"/patients/{patient.pk}/").context["figure"]
    lines = [t for t in figure["data"] if t.get("mode") == "lines+markers"]
    assert "v-old" in lines[-1]["name"] and "current" in lines[-1]["name"]  # drawn last: on top
    assert lines[-1]["line"]["width"] == 2 and lines[0]["line"]["width"] == 1
    assert "v-new, promoted" in lines[0]["name"] and "retired" in lines[0]["name"]


def test_a_latest_window_the_current_model_has_not_scored_says_so(page: tuple[Client, object]) -> None:
    client, patient = page
    later = SessionFactory(patient=patient)
    PredictionFactory(session=later, model_version=ModelVersionFactory(version="v-other", status="retired"))
    trajectory_summaries_refresh(patient_ids=[patient.pk])
    response = client.get(f"/patients/{patient.pk}/")
    assert response.context["latest_not_current"]
    assert "Not scored by the current model (v-old)" in response.content.decode()
    listing = client.get("/").content.decode()
    assert "not scored by the current model" in listing


def test_after_a_roll_back_the_csv_export_has_the_active_versions_score_of_each_window(
    page: tuple[Client, object],
) -> None:
    import csv
    import io

    client, patient = page
    later = SessionFactory(patient=patient)  # scored only by a version that is not active
    PredictionFactory(session=later, model_version=ModelVersionFactory(version="v-other", status="retired"))
    body = client.get(f"/patients/{patient.pk}/export.csv").content.decode()  # type: ignore[attr-defined]
    rows = [r for r in csv.DictReader(io.StringIO(body)) if r["kind"] == "model-inferred"]
    assert [r["model_version"] for r in rows] == ["v-old"] * 4 + ["v-other"]  # one row per window
    assert [r["total"] for r in rows[:4]] == ["7.8", "8.0", "15.0", "18.5"]  # not v-new's 21.4
    assert [r["current_model"] for r in rows] == ["yes"] * 4 + ["no: not scored by the current model"]


def test_after_a_roll_back_the_fhir_export_marks_a_window_the_current_model_has_not_scored(
    page: tuple[Client, object],
) -> None:
    import json

    client, patient = page
    PredictionFactory(
        session=SessionFactory(patient=patient),
        model_version=ModelVersionFactory(version="v-other", status="retired"),
    )
    bundle = json.loads(client.get(f"/patients/{patient.pk}/fhir.json").content)  # type: ignore[attr-defined]
    estimates = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation" and "device" in e["resource"]
    ]
    assert len(estimates) == 5  # one per window
    marked = [o for o in estimates if "Not scored by the current model" in o["note"][0]["text"]]
    assert [o["device"]["display"] for o in marked] == ["PHQ-9 estimator v-other"]


def test_a_roll_back_in_the_admin_asks_for_confirmation_first(client: Client) -> None:
    from django.urls import reverse

    from monitor_site.audit.models import AuditEvent
    from monitor_site.modelops.models import ModelVersion

    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    ModelVersionFactory(version="v-now", status="active", promoted_at=timezone.now())
    before = ModelVersionFactory(version="v-before", status="retired", promoted_at=timezone.now())
    url = reverse("admin:modelops_modelversion_changelist")
    page = client.post(url, {"action": "promote", "_selected_action": [before.pk]})
    assert page.status_code == 200 and "Roll back to model v-before" in page.content.decode()
    assert ModelVersion.objects.get(status="active").version == "v-now"  # nothing changed yet
    client.post(url, {"action": "promote", "_selected_action": [before.pk], "confirm": "yes"})
    assert ModelVersion.objects.get(status="active").version == "v-before"
    assert AuditEvent.objects.filter(action="model.rollback", actor=admin).exists()
