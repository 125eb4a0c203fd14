"""Item 9 on the clinicians' pages (monitor_site/dashboards/item9.py): the flag is the union of risk
language, the model's item 9 at its card's (or the rule's) line, and the patient's own questionnaire; the
sentences that fired come first wherever the flag shows, and never leave the care-team-scoped pages."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client

from monitor_site.alerts.models import Alert, AlertRule, EscalationStep
from monitor_site.alerts.services import alerts_evaluate, alerts_evaluate_self_report
from monitor_site.audit.models import AuditEvent
from monitor_site.predictions.models import Prediction
from tests.factories import (
    T0,
    AssessmentFactory,
    CareTeamFactory,
    ModelVersionFactory,
    PatientFactory,
    PredictionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SENTENCE = "I keep having thoughts of hurting myself"
NOTICE = "The item-9 (self-harm) alert rule is switched off"


@pytest.fixture
def team() -> object:
    return CareTeamFactory(name="Team A")


@pytest.fixture
def clinician(client: Client, team: object) -> object:
    user = UserFactory()
    team.members.add(user)  # type: ignore[attr-defined]
    client.force_login(user)
    return user


def _risky(team: object, **kwargs: object) -> Prediction:
    """A window in which the detector fired on one sentence, while the model's item 9 stays at 0."""
    prediction = PredictionFactory(
        session__patient__care_team=team,
        session__patient__external_id="pt-risk",
        items=[1.0] * 8 + [0.0],
        **kwargs,
    )
    prediction.risk_language = True
    prediction.risk_score = 0.97
    prediction.detector_version = "self-harm-test"
    prediction.risk_evidence = [
        {
            "session": prediction.session.external_id,
            "turn": 0,
            "text": SENTENCE,
            "sent_at": (T0 + timedelta(days=40, hours=3)).isoformat(),
            "score": 0.97,
        }
    ]
    prediction.save()
    return prediction


def test_it_shows_the_risk_sentence_first_on_the_patient_page_the_inbox_and_the_list(
    client: Client, clinician: object, team: object
) -> None:
    prediction = _risky(team)
    EscalationStep.objects.create(text="Call the duty clinician.")
    (alert,) = alerts_evaluate(patient_ids=[prediction.patient_id])
    assert alert.item9_sources == ["detector"]

    page = client.get(f"/patients/{prediction.patient_id}/").content.decode()
    banner = page[page.index('class="banner urgent item9-banner"') :]
    assert "Item 9 (thoughts of self-harm) flagged</strong> by risk language" in banner
    assert banner.index(SENTENCE) < banner.index("Model-inferred item 9: 0.0 of 3")  # the sentence first
    assert "10 Apr 2026" in banner and "Escalation: Call the duty clinician." in banner
    assert page.index(SENTENCE) < page.index("<h2>Trajectory</h2>")
    # the evidence table's item 9: the sentence before the passages the model attended to
    assert page.count(SENTENCE) == 2 and "Risk language (the sentences the detector fired on)" in page

    inbox = client.get("/alerts/").content.decode()
    row = inbox[inbox.index(f'id="alert-{alert.pk}"') :]
    assert '<span class="tag tag-risk">risk language</span> <strong>Item 9' in row
    assert row.index(SENTENCE) < row.index("flagged by risk language in the patient")  # then the numbers
    assert "10 Apr 2026" in row

    listing = client.get("/").content.decode()
    cell = listing[listing.index('data-label="Item 9"') :]
    assert cell.index('<span class="flag">review</span>') < cell.index(SENTENCE)
    assert "risk language" in cell[: cell.index(SENTENCE)]


def test_a_totals_only_model_shows_its_item9_labelled_and_never_flags(
    client: Client, clinician: object, team: object
) -> None:
    version = ModelVersionFactory(manifest={"training_data": {"with_items": 0, "windows": 40}})
    prediction = PredictionFactory(
        session__patient__care_team=team, model_version=version, items=[2.0] * 8 + [2.5]
    )
    assert alerts_evaluate(patient_ids=[prediction.patient_id]) == []
    listing = client.get("/").content.decode()
    assert (
        '<span class="flag">review' not in listing
        and "2.5" in listing
        and "trained on totals only" in listing
    )
    page = client.get(f"/patients/{prediction.patient_id}/").content.decode()
    assert "Item 9 (thoughts of self-harm) flagged" not in page and "clinician review needed" not in page
    assert "trained on totals only: its item values carry no item information" in page


def test_a_model_whose_card_recommends_no_threshold_is_labelled_not_validated(
    client: Client, clinician: object, team: object
) -> None:
    prediction = PredictionFactory(session__patient__care_team=team, items=[1.0] * 8 + [0.8])
    listing = client.get("/").content.decode()
    assert "review 0.8" in listing and "not validated for this model" in listing  # flags at the rule's 0.5
    page = client.get(f"/patients/{prediction.patient_id}/").content.decode()
    assert '0.8 of 3 <em class="item9-label">(not validated for this model)</em>' in page
    assert "flagged</strong> by model-inferred" in page


def test_a_card_threshold_is_the_line_unless_the_rule_overrides_it(
    client: Client, clinician: object, team: object
) -> None:
    version = ModelVersionFactory(manifest={"item9_flag": {"threshold": 0.3}})
    PredictionFactory(session__patient__care_team=team, model_version=version, items=[1.0] * 8 + [0.4])
    listing = client.get("/").content.decode()
    assert "review 0.4" in listing and "not validated" not in listing  # the card's line, validated
    AlertRule.objects.filter(kind="self_harm", source="model").update(use_model_threshold=False)
    assert (
        '<span class="flag">review' not in client.get("/").content.decode()
    )  # the rule's own 0.5 (an admin override)


def test_the_list_shows_every_self_reported_item9_with_its_date(
    client: Client, clinician: object, team: object
) -> None:
    calm = PredictionFactory(session__patient__care_team=team, items=[1.0] * 8 + [0.1])
    AssessmentFactory(patient=calm.patient, items=[1] * 8 + [0], total=8)
    unscored = PatientFactory(care_team=team, external_id="pt-questionnaire-only")
    AssessmentFactory(patient=unscored, items=[1] * 8 + [2], total=10, completed_at=T0 + timedelta(days=3))
    listing = client.get("/").content.decode()
    calm_row = listing[listing.index(calm.patient.external_id) :]
    assert 'self-report: 0 <span class="muted">(01 Mar 2026)</span>' in calm_row
    row = listing[listing.index("pt-questionnaire-only") :]
    assert '<span class="flag">review</span> <span class="small">self-report</span>' in row
    assert 'self-report: 2 <span class="muted">(04 Mar 2026)</span>' in row


def test_an_open_urgent_self_report_item9_alert_shows_the_urgent_banner(
    client: Client, clinician: object, team: object
) -> None:
    patient = PatientFactory(care_team=team)
    PredictionFactory(session__patient=patient, items=[1.0] * 8 + [0.0])
    AssessmentFactory(patient=patient, items=[1] * 8 + [1], total=9)
    (alert,) = alerts_evaluate_self_report(patient_ids=[patient.pk])
    assert alert.urgent and alert.rule.kind == "self_harm"
    # A later questionnaire answers 0: the alert stays open until a clinician resolves it.
    AssessmentFactory(patient=patient, items=[1] * 8 + [0], total=8, completed_at=T0 + timedelta(days=1))
    Alert.objects.filter(pk=alert.pk).update(episode_ended_at=T0)
    EscalationStep.objects.create(text="Call the duty clinician.")
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    banner = page[page.index('class="banner urgent item9-banner" role="alert"') :]
    assert "Item 9 (thoughts of self-harm) flagged" in banner
    assert f"Open urgent alert: {alert.rule.name}, raised by self-report" in banner
    assert "Escalation: Call the duty clinician." in banner
    report = client.get(f"/patients/{patient.pk}/report/").content.decode()
    assert "raised by self-report" in report


def test_the_report_shows_the_self_reported_item9_beside_the_models(
    client: Client, clinician: object, team: object
) -> None:
    prediction = PredictionFactory(session__patient__care_team=team, items=[1.0] * 8 + [0.2])
    AssessmentFactory(patient=prediction.patient, items=[1] * 8 + [0], total=8)
    report = client.get(f"/patients/{prediction.patient_id}/report/").content.decode()
    line = report[report.index('class="item9-line"') :]
    assert line.index("Model-inferred item 9: 0.2 of 3") < line.index(
        "Latest self-reported item 9: <strong>0 of 3</strong> (questionnaire of 01 Mar 2026)"
    )
    assert report.index('class="item9-line"') < report.index("<h2>Trajectory</h2>")  # the first page


def test_switching_the_item9_rule_off_shows_a_notice_on_the_list_and_every_patient_page(
    client: Client, clinician: object, team: object
) -> None:
    prediction = PredictionFactory(session__patient__care_team=team)
    pages = ["/", f"/patients/{prediction.patient_id}/", f"/patients/{prediction.patient_id}/report/"]
    assert not any(NOTICE in client.get(url).content.decode() for url in pages)
    AlertRule.objects.filter(kind="self_harm", source="model").update(is_active=False)
    for url in pages:
        assert NOTICE in client.get(url).content.decode(), url


def test_the_sentence_stays_out_of_exports_the_plain_report_and_the_audit_trail(
    client: Client, clinician: object, team: object
) -> None:
    prediction = _risky(team)
    pk = prediction.patient_id
    assert SENTENCE not in client.get(f"/patients/{pk}/export.csv").content.decode()
    assert SENTENCE not in client.get(f"/patients/{pk}/fhir.json").content.decode()
    plain = client.get(f"/patients/{pk}/report/").content.decode()
    assert (
        SENTENCE not in plain and "Item 9 (thoughts of self-harm) flagged</strong> by risk language" in plain
    )
    assert SENTENCE in client.get(f"/patients/{pk}/report/?evidence=1").content.decode()  # asked for
    client.get(f"/patients/{pk}/")
    assert not any(SENTENCE in str(e.detail) for e in AuditEvent.objects.all())


def test_the_list_reads_item9_in_the_same_queries_for_any_number_of_flagged_patients(
    client: Client, clinician: object, team: object, django_assert_max_num_queries: object
) -> None:
    _risky(team)
    AssessmentFactory(patient=PatientFactory(care_team=team), items=[1] * 8 + [2], total=10)
    with django_assert_max_num_queries(9) as few:  # type: ignore[operator]
        client.get("/")
    for i in range(10):
        version = ModelVersionFactory(manifest={"item9_flag": {"threshold": 0.3}})
        flagged = PredictionFactory(
            session__patient__care_team=team, model_version=version, items=[1.0] * 8 + [0.4 + i / 10]
        )
        AssessmentFactory(patient=flagged.patient, items=[1] * 8 + [1], total=9)
    with django_assert_max_num_queries(len(few.captured_queries)):  # type: ignore[operator]
        assert client.get("/").content.decode().count('<span class="flag">review') == 12


def test_the_read_api_says_risk_language_fired_and_what_raised_an_alert_without_the_sentence(
    client: Client, clinician: object, team: object
) -> None:
    prediction = _risky(team)
    alerts_evaluate(patient_ids=[prediction.patient_id])
    trajectory = client.get(f"/api/v1/patients/{prediction.patient_id}/trajectory")
    (row,) = trajectory.json()["predictions"]
    assert row["risk_language"] is True and row["detector_version"] == "self-harm-test"
    alerts = client.get("/api/v1/alerts").json()["results"]
    assert [a["item9_sources"] for a in alerts] == [["detector"]]
    assert SENTENCE not in trajectory.content.decode() + json.dumps(alerts)
