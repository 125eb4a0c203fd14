from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from tests.factories import (
    AssessmentFactory,
    CareTeamFactory,
    ModelVersionFactory,
    PatientFactory,
    PredictionFactory,
    SessionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team() -> object:
    return CareTeamFactory()


@pytest.fixture
def clinician(client: Client, team: object) -> object:
    user = UserFactory()
    team.members.add(user)  # type: ignore[attr-defined]
    client.force_login(user)
    return user


def _figure(html: str) -> dict:
    match = re.search(r'<script id="trajectory-figure" type="application/json">(.*?)</script>', html, re.S)
    assert match, "figure JSON missing"
    return json.loads(match.group(1))


def test_it_sends_anonymous_visitors_to_the_login_page(client: Client) -> None:
    patient = PatientFactory()
    for url in ("/", f"/patients/{patient.pk}/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_it_logs_a_clinician_in(client: Client) -> None:
    UserFactory(username="dr-a")
    r = client.post("/login/", {"username": "dr-a", "password": "correct-horse-battery"})
    assert r.status_code == 302 and r["Location"] == "/"


def test_it_lists_only_patients_of_my_care_teams(client: Client, clinician: object, team: object) -> None:
    mine = PredictionFactory(session__patient__care_team=team, total=16.4, band="moderately_severe")
    theirs = PatientFactory()
    r = client.get("/")
    html = r.content.decode()
    assert mine.patient.external_id in html and theirs.external_id not in html
    assert "16.4" in html and "model-inferred" in html


def test_it_hides_patients_of_other_care_teams(client: Client, clinician: object) -> None:
    other = PredictionFactory()
    assert client.get(f"/patients/{other.patient.pk}/").status_code == 404
    assert client.get("/patients/999999/").status_code == 404


def test_it_shows_the_latest_score_and_searches_by_id(
    client: Client, clinician: object, team: object
) -> None:
    patient = PatientFactory(care_team=team, external_id="alpha-1")
    PatientFactory(care_team=team, external_id="beta-2")
    PredictionFactory(session__patient=patient, total=5.0, band="mild")
    PredictionFactory(session__patient=patient, total=21.0, band="severe")
    html = client.get("/?q=alpha").content.decode()
    assert "alpha-1" in html and "beta-2" not in html
    assert "21.0" in html and "Severe" in html


def test_it_flags_item_9_on_the_list_and_the_patient_page(
    client: Client, clinician: object, team: object
) -> None:
    prediction = PredictionFactory(
        session__patient__care_team=team, total=8.0, band="mild", items=[1, 1, 1, 1, 1, 1, 1, 0.2, 0.8]
    )
    assert "review 0.8" in client.get("/").content.decode()
    html = client.get(f"/patients/{prediction.patient.pk}/").content.decode()
    assert "Thoughts of self-harm" in html and "clinician review needed" in html


def test_it_draws_the_trajectory_with_bands_thresholds_and_questionnaires(
    client: Client, clinician: object, team: object
) -> None:
    patient = PatientFactory(care_team=team)
    version = ModelVersionFactory(version="v-one")
    for total in (8.0, 12.0, 17.0):
        PredictionFactory(session__patient=patient, total=total, model_version=version)
    AssessmentFactory(patient=patient, total=14, items=[2, 2, 2, 2, 2, 2, 1, 1, 0])
    r = client.get(f"/patients/{patient.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    figure = _figure(html)
    names = [t.get("name") for t in figure["data"]]
    trained = f"trained {version.created_at:%d %b %Y}, candidate"  # no active version: the newest is the line
    assert names == [
        f"Prediction interval (v-one, {trained})",
        f"Model-inferred PHQ-9 (model v-one, {trained})",
        "Self-report PHQ-9 (questionnaire)",
        "Events: model",  # the first model-inferred score, marked along the top
    ]
    assert figure["data"][0]["fill"] == "toself"  # the interval ribbon
    assert figure["data"][1]["y"] == [8.0, 12.0, 17.0]
    assert [c[1] for c in figure["data"][1]["customdata"]] == ["v-one"] * 3  # version on hover
    assert figure["data"][2]["y"] == [14] and figure["data"][2]["text"] == ["self-report"]
    shapes = figure["layout"]["shapes"]
    assert sum(1 for s in shapes if s["type"] == "rect") == 5  # the five severity bands
    # the lines sit where rounding reaches them (14.45, shown 14.5, counts as 15): a point above a line
    # reaches it
    assert sorted(s["y0"] for s in shapes if s["type"] == "line") == pytest.approx([9.45, 14.45, 19.45])
    assert (
        "vendor/plotly/plotly-cartesian-4.1.1.min.js" in html and "<script>" not in html
    )  # no inline script


def test_it_serves_plotly_locally(client: Client) -> None:
    r = client.get("/static/vendor/plotly/plotly-cartesian-4.1.1.min.js")
    assert r.status_code == 200
    assert b"plotly" in b"".join(r.streaming_content)[:2000].lower()  # type: ignore[attr-defined]


def test_it_marks_synthetic_patients(client: Client, clinician: object, team: object) -> None:
    patient = PatientFactory(care_team=team, is_synthetic=True)
    assert "Synthetic demo data" in client.get("/").content.decode()
    assert "Synthetic demo patient" in client.get(f"/patients/{patient.pk}/").content.decode()


def test_it_renders_a_patient_with_no_scores_yet(client: Client, clinician: object, team: object) -> None:
    session = SessionFactory(patient__care_team=team)
    r = client.get(f"/patients/{session.patient.pk}/")
    assert r.status_code == 200 and "No model-inferred scores yet" in r.content.decode()
    assert "not scored yet" in client.get("/").content.decode()


def test_it_lists_patients_in_a_constant_number_of_queries(
    client: Client, clinician: object, team: object, django_assert_max_num_queries: object
) -> None:
    for _ in range(3):
        PredictionFactory(session__patient__care_team=team)
    # 9: log-in (2), teams, count, rows, self-reports, latest predictions (item 9 and intervals, with their
    # cards' item-9 parts), the item-9 rule in force, the overview
    with django_assert_max_num_queries(9) as few:  # type: ignore[operator]
        client.get("/")
    for _ in range(20):
        PredictionFactory(session__patient__care_team=team)
    with django_assert_max_num_queries(len(few.captured_queries)):  # type: ignore[operator]
        client.get("/")


def test_in_the_demo_the_list_says_what_is_still_being_set_up(
    client: Client, clinician: object, team: object, settings: object
) -> None:
    from tests.factories import SessionFactory

    SessionFactory(patient__care_team=team)  # a session nobody scored, and no active model
    settings.TRAINING_IN_BACKGROUND_THREAD = False  # type: ignore[attr-defined] # production: nothing said
    assert "still being scored" not in client.get("/").content.decode()
    settings.TRAINING_IN_BACKGROUND_THREAD = True  # type: ignore[attr-defined]
    html = client.get("/").content.decode()
    assert (
        "starter model is being trained in the background" in html and "1 session still being scored" in html
    )
