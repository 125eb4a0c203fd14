"""Cold start: a care team may have Claude rate its consented patients until a trained model is promoted.

Against the local fake Anthropic server; real PostgreSQL; the same ingestion, scoring edge and alert
rules as trained models."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse

from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.modelops.models import ModelVersion, PseudoLabel
from monitor_site.modelops.services.cold_start import llm_rater_validate
from monitor_site.modelops.services.registry import model_version_promote
from monitor_site.patients.models import CareTeam, ConversationSession, IngestSource, Patient
from monitor_site.patients.services.ingest import assessment_ingest, session_ingest
from monitor_site.predictions.models import Prediction
from monitor_site.predictions.services.ratings import predictions_rate_pending
from monitor_site.predictions.tasks import session_scoring_enqueue
from tests.training.fake_anthropic import FakeAnthropic, fake_anthropic, tool_message

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def claude(settings: object) -> Iterator[FakeAnthropic]:
    with fake_anthropic() as fake:
        settings.ANTHROPIC_API_KEY = "test-key"  # type: ignore[attr-defined]
        settings.ANTHROPIC_BASE_URL = fake.base_url  # type: ignore[attr-defined]
        settings.PSEUDO_LABEL_MODEL = "claude-test"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def source(ingest: tuple) -> IngestSource:
    return ingest[0].source


@pytest.fixture
def team(care_team: CareTeam) -> CareTeam:
    care_team.llm_scoring = True
    care_team.save()
    return care_team


def _patient(source: IngestSource, external_id: str, *, consent: bool = True) -> Patient:
    team = CareTeam.objects.get(name="Team A")
    return Patient.objects.create(
        source=source, external_id=external_id, care_team=team, consent_external_processing=consent
    )


def _ingest(
    capture: object, source: IngestSource, patient: str, session: str, at: datetime, text: str = ""
) -> ConversationSession:
    messages = [
        {"role": "user", "text": text or "I can't sleep and nothing feels worth doing", "sent_at": at},
        {"role": "assistant", "text": "That sounds hard.", "sent_at": at + timedelta(minutes=1)},
    ]
    with capture(execute=True):  # type: ignore[operator]  # on commit: the scoring edge, eager
        result = session_ingest(
            source=source,
            care_team=source.default_care_team,
            patient_external_id=patient,
            session_external_id=session,
            started_at=at,
            messages=messages,
        )
        session_scoring_enqueue(session_id=result.obj.pk)
    return result.obj


def test_it_is_off_by_default_and_sends_nothing(
    claude: FakeAnthropic, source: IngestSource, django_capture_on_commit_callbacks: object
) -> None:
    _patient(source, "anon-1")
    _ingest(django_capture_on_commit_callbacks, source, "anon-1", "s1", T0)
    assert claude.requests == [] and Prediction.objects.count() == 0


def test_consented_patients_of_a_team_that_chose_it_are_rated_and_it_says_so_everywhere(
    claude: FakeAnthropic,
    team: CareTeam,
    source: IngestSource,
    client: Client,
    django_capture_on_commit_callbacks: object,
) -> None:
    patient = _patient(source, "anon-7731")
    _patient(source, "anon-2", consent=False)
    claude.ok([2, 1, 1, 0, 0, 0, 0, 0, 0])
    _ingest(
        django_capture_on_commit_callbacks, source, "anon-7731", "s1", T0, "anon-7731 here, sleeping badly"
    )
    _ingest(django_capture_on_commit_callbacks, source, "anon-2", "s2", T0)
    assert len(claude.requests) == 1  # the patient without consent is never sent
    assert "anon-7731" not in claude.sent_texts[0]  # the patient's known identifier is redacted
    prediction = Prediction.objects.get()
    assert prediction.patient == patient and prediction.method == "llm" and not prediction.validated_here
    assert (prediction.total, prediction.interval_low, prediction.interval_high) == (4.0, 0.0, 27.0)
    rater = prediction.model_version
    assert rater.status == ModelVersion.Status.RATER and rater.version.startswith("llm-claude-test-phq9-v2")
    assert rater.manifest["prompt_version"] == "phq9-v2" and rater.manifest["model"] == "claude-test"
    assert PseudoLabel.objects.get().source == "llm-scoring"
    assert prediction.evidence[0] and prediction.evidence[0][0]["session"] == "s1"  # the quoted turn
    with pytest.raises(ValueError, match="not a trained model"):
        model_version_promote(model_version=rater)

    clinician = User.objects.create_user("dr", password="pw")
    team.members.add(clinician)
    client.force_login(clinician)
    listing = client.get(reverse("dashboards:patient_list")).content.decode()
    assert "LLM-rated" in listing and "not yet validated here" in listing
    page = client.get(reverse("dashboards:patient_detail", args=[patient.pk])).content.decode()
    assert "LLM-rated (Claude, not a trained model)" in page and "Not yet validated here" in page
    assert "the patient's messages the rater quoted" in page and "sleeping badly" in page
    report = client.get(reverse("dashboards:patient_report", args=[patient.pk])).content.decode()
    assert "LLM-rated" in report and "not yet validated here" in report
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("dashboards:patient_export_csv", args=[patient.pk])).content.decode()
            )
        )
    )
    row = next(r for r in rows if r[3] == "llm-rated")  # source, patient, time, kind, ...
    assert row[6:8] == ["", ""]  # no interval
    bundle = json.loads(client.get(reverse("dashboards:patient_export_fhir", args=[patient.pk])).content)
    [observation] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert (
        observation["method"]["text"] == "llm-rated"
        and "Not yet validated here" in observation["note"][0]["text"]
    )
    assert not any("interval" in c["code"].get("text", "") for c in observation["component"])
    rows = {r["external_id"]: r for r in client.get("/api/v1/patients").json()["results"]}
    assert rows["anon-7731"]["summary"]["method"] == "llm-rated" and rows["anon-2"]["summary"] is None
    trajectory = client.get(f"/api/v1/patients/{patient.pk}/trajectory").json()
    assert trajectory["predictions"][0]["method"] == "llm-rated"
    assert trajectory["patient"]["summary"]["method"] == "llm-rated"
    assert trajectory["predictions"][0]["interval"] is None


def test_item_9_opens_the_same_urgent_alert_and_the_email_says_who_rated(
    claude: FakeAnthropic, team: CareTeam, source: IngestSource, django_capture_on_commit_callbacks: object
) -> None:
    team.members.add(User.objects.create_user("dr", email="dr@example.org"))
    _patient(source, "anon-9")
    claude.ok([1, 1, 0, 0, 0, 0, 0, 0, 2])
    _ingest(
        django_capture_on_commit_callbacks,
        source,
        "anon-9",
        "s1",
        T0,
        "some nights I think they'd be better off without me, I keep going over it and over it",
    )
    alert = Alert.objects.get(rule__kind="self_harm", rule__source="model")
    assert alert.urgent and alert.prediction.method == "llm"
    (email,) = mail.outbox
    assert "rated by an LLM (Claude)" in email.body and "not yet validated here" in email.body
    assert "better off" not in email.body


def test_a_confident_rule_uses_the_total_of_a_rating_not_yet_validated() -> None:
    rule = AlertRule(kind="threshold", threshold=10, crossing=AlertRule.Crossing.CONFIDENT)
    unvalidated = Prediction(total=12.0, interval_low=0.0, interval_high=27.0, validated_here=False)
    validated = Prediction(total=12.0, interval_low=9.0, interval_high=15.0, validated_here=True)
    assert rule.crossing_score(unvalidated) == 12.0 and rule.crossing_score(validated) == 9.0


def _questionnaire_patients(capture: object, source: IngestSource, n: int) -> None:
    for i in range(n):
        _patient(source, f"q-{i}")
        at = T0 - timedelta(days=3)
        with capture(execute=False):  # type: ignore[operator]
            session_ingest(
                source=source,
                care_team=source.default_care_team,
                patient_external_id=f"q-{i}",
                session_external_id=f"q-{i}-s",
                started_at=at,
                messages=[{"role": "user", "text": f"week {i} was rough", "sent_at": at}],
            )
        assessment_ingest(
            source=source,
            care_team=source.default_care_team,
            patient_external_id=f"q-{i}",
            completed_at=at + timedelta(hours=1),
            items=[1] * 8 + [i % 2],  # 8 or 9: close to the fake rater's 9
        )


def test_validation_against_questionnaires_gives_later_ratings_an_interval(
    claude: FakeAnthropic,
    team: CareTeam,
    source: IngestSource,
    settings: object,
    django_capture_on_commit_callbacks: object,
) -> None:
    settings.LLM_SCORING_MIN_VALIDATION_PAIRS = 4  # type: ignore[attr-defined]
    _questionnaire_patients(django_capture_on_commit_callbacks, source, 8)  # an interval needs 6 patients
    rater = llm_rater_validate()
    assert rater is not None and rater.metrics["validated"] and rater.metrics["pairs"] == 8
    assert rater.metrics["patients"] == 8 and rater.metrics["mae"] is not None
    assert PseudoLabel.objects.filter(source="llm-validation").count() == 8
    sent = len(claude.requests)
    assert llm_rater_validate() is not None and len(claude.requests) == sent  # labels bought once
    _patient(source, "anon-new")
    _ingest(django_capture_on_commit_callbacks, source, "anon-new", "s-new", T0)
    prediction = Prediction.objects.get(patient__external_id="anon-new")
    assert prediction.validated_here and (prediction.interval_low, prediction.interval_high) != (0.0, 27.0)


def test_a_rater_worse_than_the_threshold_is_paused(
    claude: FakeAnthropic,
    team: CareTeam,
    source: IngestSource,
    settings: object,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: object,
) -> None:
    settings.LLM_SCORING_MIN_VALIDATION_PAIRS = 4  # type: ignore[attr-defined]
    settings.TRAINING_LABEL_MAX_MAE = 2.0  # type: ignore[attr-defined]
    claude.default = ("json", (200, tool_message([3] * 9)))
    _questionnaire_patients(django_capture_on_commit_callbacks, source, 5)  # self-reports of 8 or 9
    rater = llm_rater_validate()
    # 5 patients: too few for an interval (not validated), enough to pause a rater this far off
    assert rater is not None and rater.metrics["mae"] > 2.0 and not rater.metrics["validated"]
    _patient(source, "anon-new")
    with caplog.at_level(logging.WARNING):
        _ingest(django_capture_on_commit_callbacks, source, "anon-new", "s-new", T0)
    assert not Prediction.objects.exists() and "LLM scoring is paused" in caplog.text


def test_the_daily_token_budget_leaves_sessions_pending_without_paying_again(
    claude: FakeAnthropic,
    team: CareTeam,
    source: IngestSource,
    settings: object,
    django_capture_on_commit_callbacks: object,
) -> None:
    settings.LLM_SCORING_DAILY_TOKEN_BUDGET = 100  # type: ignore[attr-defined]  # one call costs 140
    settings.LLM_SCORING_HISTORY_DAYS = 100000  # type: ignore[attr-defined]  # T0 lies in the past
    for name in ("a", "b"):
        _patient(source, name)
        _ingest(
            django_capture_on_commit_callbacks,
            source,
            name,
            f"s-{name}",
            T0,
            {"a": "slept badly all week", "b": "feel hopeless most days"}[name],
        )
    assert len(claude.requests) == 1 and Prediction.objects.count() == 1
    assert predictions_rate_pending().rows == 0 and len(claude.requests) == 1  # today's budget is spent
    settings.LLM_SCORING_DAILY_TOKEN_BUDGET = 1000  # type: ignore[attr-defined]
    assert predictions_rate_pending().rows == 1 and len(claude.requests) == 2


def test_a_trained_model_takes_over_and_the_rater_stops(
    claude: FakeAnthropic,
    team: CareTeam,
    source: IngestSource,
    active_model: ModelVersion,
    django_capture_on_commit_callbacks: object,
) -> None:
    _patient(source, "anon-1")
    _ingest(django_capture_on_commit_callbacks, source, "anon-1", "s1", T0)
    assert claude.requests == []
    assert Prediction.objects.get().method == "model" and predictions_rate_pending().rows == 0
