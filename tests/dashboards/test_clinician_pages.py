"""The clinician experience through the Django test client: scoping, triage, actions, exports, audit."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitor_site.alerts.models import Alert
from monitor_site.alerts.services import alerts_evaluate
from monitor_site.audit.models import AuditEvent
from monitor_site.patients.models import ClinicianNote, Message
from monitor_site.predictions.models import PredictionFeedback
from tests.factories import (
    AssessmentFactory,
    CareTeamFactory,
    ModelVersionFactory,
    PatientFactory,
    PredictionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team() -> object:
    return CareTeamFactory(name="Team A")


@pytest.fixture
def clinician(client: Client, team: object) -> object:
    user = UserFactory(email="a@example.org")
    team.members.add(user)  # type: ignore[attr-defined]
    client.force_login(user)
    return user


@pytest.fixture
def flagged(team: object) -> object:
    """A patient of Team A with three predictions (item 9 flagged on the last) and an urgent alert."""
    patient = PatientFactory(care_team=team, external_id="pt-urgent")
    version = ModelVersionFactory(version="v-test")
    for total, item9 in ((8.0, 0.0), (12.0, 0.0), (15.0, 1.5)):
        PredictionFactory(
            session__patient=patient, model_version=version, total=total, items=[total / 9] * 8 + [item9]
        )
    alerts_evaluate(patient_ids=[patient.pk])
    return patient


def _team_b_patient_urls(other: object, prediction: object, alert: object) -> list[tuple[str, str]]:
    pk = other.pk  # type: ignore[attr-defined]
    return [
        ("get", f"/patients/{pk}/"),
        ("get", f"/patients/{pk}/?prediction={prediction.pk}"),  # type: ignore[attr-defined]
        ("get", f"/patients/{pk}/export.csv"),
        ("get", f"/patients/{pk}/fhir.json"),
        ("post", f"/patients/{pk}/notes/"),
        ("post", f"/patients/{pk}/predictions/{prediction.pk}/feedback/"),  # type: ignore[attr-defined]
        ("post", f"/alerts/{alert.pk}/acknowledge/"),  # type: ignore[attr-defined]
        ("post", f"/alerts/{alert.pk}/resolve/"),  # type: ignore[attr-defined]
        ("get", f"/api/v1/patients/{pk}/trajectory"),
    ]


def test_it_answers_404_for_every_page_export_action_and_api_read_of_another_team(
    client: Client, clinician: object
) -> None:
    other = PatientFactory(care_team=CareTeamFactory(name="Team B"), external_id="pt-b")
    prediction = PredictionFactory(session__patient=other, items=[0.0] * 8 + [2.0])
    alert = alerts_evaluate(patient_ids=[other.pk])[0]
    for method, url in _team_b_patient_urls(other, prediction, alert):
        response = getattr(client, method)(
            url, {"text": "x", "verdict": "agree", "note": "x"} if method == "post" else None
        )
        assert response.status_code == 404, url
    assert "pt-b" not in client.get("/").content.decode()
    assert "pt-b" not in client.get("/alerts/").content.decode()
    assert "pt-b" not in client.get("/api/v1/patients").content.decode()
    assert "pt-b" not in client.get("/api/v1/alerts").content.decode()
    assert not ClinicianNote.objects.exists() and not PredictionFeedback.objects.exists()
    alert.refresh_from_db()
    assert alert.status == "open"


def test_it_sends_anonymous_users_to_login_and_refuses_them_the_api(client: Client, flagged: object) -> None:
    for url in ("/", "/alerts/", f"/patients/{flagged.pk}/", f"/patients/{flagged.pk}/export.csv"):
        assert client.get(url).status_code == 302
    assert client.get("/api/v1/patients").status_code in (401, 403)


def test_it_lists_urgent_patients_first_with_triage_columns(
    client: Client, clinician: object, team: object, flagged: object
) -> None:
    calm = PatientFactory(care_team=team, external_id="pt-calm")
    PredictionFactory(session__patient=calm, total=22.0, band="severe", items=[22 / 9] * 8 + [0.0])
    html = client.get("/").content.decode()
    assert html.index("pt-urgent") < html.index("pt-calm")  # urgent alert beats a higher score
    assert "urgent" in html and "review 1.5" in html
    assert "+" in html and "from " in html  # change since baseline
    assert '<svg class="spark"' in html  # 4-week trend
    by_score = client.get("/?sort=score").content.decode()
    assert by_score.index("pt-calm") < by_score.index("pt-urgent")
    assert "pt-calm" not in client.get("/?alert=urgent").content.decode()
    assert "pt-urgent" not in client.get("/?band=severe").content.decode()
    assert "pt-urgent" in client.get("/?q=URG").content.decode()


def test_the_patient_list_costs_the_same_queries_for_5_or_50_patients(
    client: Client, clinician: object, team: object
) -> None:
    def count() -> int:
        cache.clear()  # the caseload overview is kept a few seconds: count its query each time
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/").status_code == 200
        return len(ctx)

    version = ModelVersionFactory()
    for _ in range(5):
        PredictionFactory(session__patient=PatientFactory(care_team=team), model_version=version)
    few = count()
    for _ in range(45):
        PredictionFactory(session__patient=PatientFactory(care_team=team), model_version=version)
    assert count() == few


def test_the_patient_page_costs_the_same_queries_for_3_or_60_predictions(
    client: Client, clinician: object, team: object
) -> None:
    patient = PatientFactory(care_team=team)
    version = ModelVersionFactory()

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/patients/{patient.pk}/").status_code == 200
        return len(ctx)

    for _ in range(3):
        PredictionFactory(session__patient=patient, model_version=version)
    AssessmentFactory(patient=patient)
    few = count()
    for _ in range(57):
        PredictionFactory(session__patient=patient, model_version=version)
    assert count() == few


def test_the_patient_page_shows_status_heatmap_engagement_and_evidence(
    client: Client, clinician: object, flagged: object
) -> None:
    latest = flagged.predictions.order_by("-window_end").first()
    session = latest.session
    Message.objects.create(
        session=session, position=0, role="user", text="I wish I could disappear", sent_at=session.ended_at
    )
    Message.objects.create(
        session=session, position=1, role="assistant", text="I'm here with you", sent_at=session.ended_at
    )
    latest.evidence = [[{"session": session.external_id, "turns": [0, 1], "weight": 0.75}]] * 9
    latest.save()
    html = client.get(f"/patients/{flagged.pk}/").content.decode()
    assert "Item 9 (thoughts of self-harm) flagged" in html
    # All three predictions fall in the first 14 days: baseline (8 + 12 + 15) / 3, change +3.3.
    assert "11.7" in html and "+3.3" in html and "No reliable change" in html
    assert 'data-figure-id="heatmap-figure"' in html and 'data-figure-id="engagement-figure"' in html
    assert "I wish I could disappear" in html and "75% of attention" in html
    assert "I&#x27;m here with you" not in html  # evidence shows the patient's words only
    assert AuditEvent.objects.filter(action="patient.view", patient_id=flagged.pk).count() == 1


def test_it_shows_the_evidence_of_any_prediction_of_the_patient(
    client: Client, clinician: object, flagged: object
) -> None:
    first = flagged.predictions.order_by("window_end").first()
    html = client.get(f"/patients/{flagged.pk}/?prediction={first.pk}").content.decode()
    assert "Score of" in html and "8.0" in html
    assert client.get(f"/patients/{flagged.pk}/?prediction=999999").status_code == 404


def test_it_records_notes_and_feedback_with_an_audit_trail(
    client: Client, clinician: object, flagged: object
) -> None:
    prediction = flagged.predictions.first()
    client.post(f"/patients/{flagged.pk}/notes/", {"text": "Discussed sleep hygiene."})
    client.post(f"/patients/{flagged.pk}/predictions/{prediction.pk}/feedback/", {"verdict": "disagree"})
    client.post(f"/patients/{flagged.pk}/predictions/{prediction.pk}/feedback/", {"verdict": "agree"})
    assert ClinicianNote.objects.get().text == "Discussed sleep hygiene."
    assert PredictionFeedback.objects.get().verdict == "agree"  # one per clinician, the latest wins
    assert "Discussed sleep hygiene." in client.get(f"/patients/{flagged.pk}/").content.decode()
    note_event = AuditEvent.objects.get(action="patient.note")
    assert "sleep" not in json.dumps(note_event.detail)  # the trail holds no text
    assert AuditEvent.objects.filter(action="prediction.feedback").count() == 2
    response = client.post(f"/patients/{flagged.pk}/notes/", {"text": "   "}, follow=True)
    assert "Note not saved: text: the note is empty" in response.content.decode()
    response = client.post(
        f"/patients/{flagged.pk}/predictions/{prediction.pk}/feedback/", {"verdict": "maybe"}, follow=True
    )
    assert "verdict: must be one of agree, disagree" in response.content.decode()


def test_it_acknowledges_and_resolves_alerts_from_the_inbox(
    client: Client, clinician: object, flagged: object
) -> None:
    alerts = list(Alert.objects.filter(patient=flagged))
    urgent = next(a for a in alerts if a.urgent)
    html = client.get("/alerts/").content.decode()
    assert html.index(f'id="alert-{urgent.pk}"') < min(
        html.index(f'id="alert-{a.pk}"') for a in alerts if not a.urgent
    )
    client.post(f"/alerts/{urgent.pk}/acknowledge/", {"note": "phoned, safe"})
    urgent.refresh_from_db()
    assert urgent.status == "acknowledged" and urgent.acknowledge_note == "phoned, safe"
    client.post(f"/alerts/{urgent.pk}/resolve/", {"note": "safety plan"})
    urgent.refresh_from_db()
    assert urgent.status == "resolved"
    assert f'id="alert-{urgent.pk}"' in client.get("/alerts/?show=resolved").content.decode()
    assert client.get(f"/alerts/{urgent.pk}/resolve/").status_code == 405


def test_it_exports_the_trajectory_as_csv_and_fhir(
    client: Client, clinician: object, flagged: object
) -> None:
    AssessmentFactory(patient=flagged, total=11, items=[2, 2, 1, 1, 1, 1, 1, 1, 1])
    response = client.get(f"/patients/{flagged.pk}/export.csv")
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["kind"] for r in rows].count("model-inferred") == 3 and [r["kind"] for r in rows].count(
        "self-report"
    ) == 1
    bundle = json.loads(client.get(f"/patients/{flagged.pk}/fhir.json").content)
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert sum(o["method"]["text"] == "model-inferred" for o in observations) == 3
    assert AuditEvent.objects.filter(action="patient.export").count() == 2


def test_the_read_api_labels_scores_model_inferred(
    client: Client, clinician: object, flagged: object
) -> None:
    listing = client.get("/api/v1/patients").json()
    assert listing["count"] == 1 and listing["results"][0]["summary"]["method"] == "model-inferred"
    trajectory = client.get(f"/api/v1/patients/{flagged.pk}/trajectory").json()
    assert {p["method"] for p in trajectory["predictions"]} == {"model-inferred"}
    assert client.get("/api/v1/alerts").json()["results"][0]["urgent"] is True


def test_no_email_carries_the_patients_words(client: Client, clinician: object, flagged: object) -> None:
    from monitor_site.alerts.services import alert_notify

    session = flagged.predictions.first().session
    Message.objects.create(
        session=session, position=0, role="user", text="secret words", sent_at=session.ended_at
    )
    for alert in Alert.objects.filter(patient=flagged):
        alert_notify(alert_id=alert.pk)
    assert mail.outbox and all(
        "secret words" not in m.body and "secret words" not in m.subject for m in mail.outbox
    )


def test_every_page_carries_a_content_security_policy_without_inline_script(
    client: Client, clinician: object, flagged: object
) -> None:
    response = client.get(f"/patients/{flagged.pk}/")
    policy = response["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in policy and response["X-Frame-Options"] == "DENY"
    html = response.content.decode()
    import re

    scripts = re.findall(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", html, re.S)
    for attrs, _body in scripts:  # code only from files; inline blocks are JSON data
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs


def test_every_model_item9_flag_shows_the_latest_self_report_and_the_escalation_step(
    client: Client, clinician: object, flagged: object
) -> None:
    from monitor_site.alerts.models import EscalationStep

    AssessmentFactory(patient=flagged, items=[1] * 8 + [0], total=8)
    EscalationStep.objects.create(text="Call the duty clinician on 020 7946 0000.")
    inbox = client.get("/alerts/").content.decode()
    assert "latest self-reported item 9: <strong>0 of 3</strong>" in inbox
    assert "Call the duty clinician on 020 7946 0000." in inbox  # the urgent banner
    assert "model-inferred</span> <strong>Item 9" in inbox and "processed" in inbox  # crossing and processing
    assert "self-report: 0" in client.get("/").content.decode()  # the triage list, beside "review"
    page = client.get(f"/patients/{flagged.pk}/").content.decode()
    assert "Latest self-reported item 9: <strong>0 of 3</strong>" in page
    assert "Escalation: Call the duty clinician on 020 7946 0000." in page


def _questionnaire(patient: object, items: list[int]) -> None:
    """A questionnaire as the ingest edge takes it (api.views.assessment_create): stored, then the
    self-report rules."""
    from monitor_site.alerts.services import alerts_evaluate_self_report
    from monitor_site.patients.services.ingest import assessment_ingest

    result = assessment_ingest(
        source=patient.source,  # type: ignore[attr-defined]
        patient_external_id=patient.external_id,  # type: ignore[attr-defined]
        completed_at=timezone.now(),
        items=items,
        care_team=patient.care_team,  # type: ignore[attr-defined]
    )
    alerts_evaluate_self_report(patient_ids=[result.obj.patient_id])


def test_self_report_alerts_are_told_apart_in_the_inbox(
    client: Client, clinician: object, team: object
) -> None:
    patient = PatientFactory(care_team=team, external_id="pt-sr")
    _questionnaire(patient, [3] * 7 + [0, 0])
    inbox = client.get("/alerts/").content.decode()
    assert "self-report</span> <strong>Self-report: PHQ-9 at or above 20 (severe)</strong>" in inbox
    assert "self-reported PHQ-9 21" in inbox


def test_the_inbox_filters_by_patient_rule_and_team_and_the_list_links_to_a_patients_alerts(
    client: Client, clinician: object, flagged: object, team: object
) -> None:
    other = PatientFactory(care_team=team, external_id="pt-other")
    assessment_ingest_items = [3] * 7 + [0, 0]
    _questionnaire(other, assessment_ingest_items)
    assert f'href="/alerts/?patient={flagged.pk}"' in client.get("/").content.decode()
    mine = client.get("/alerts/", {"patient": flagged.pk}).content.decode()
    assert "pt-urgent" in mine and "pt-other" not in mine
    rule = Alert.objects.filter(patient=other).first().rule
    by_rule = client.get("/alerts/", {"rule": rule.pk}).content.decode()
    assert "pt-other" in by_rule and "pt-urgent" not in by_rule
    assert "pt-urgent" in client.get("/alerts/", {"team": team.pk}).content.decode()
    assert "pt-urgent" not in client.get("/alerts/", {"team": CareTeamFactory().pk}).content.decode()


def test_an_urgent_alert_is_resolved_only_with_a_note(
    client: Client, clinician: object, flagged: object
) -> None:
    urgent = Alert.objects.get(patient=flagged, urgent=True)
    page = client.post(f"/alerts/{urgent.pk}/resolve/", {"note": "  "}, follow=True).content.decode()
    urgent.refresh_from_db()
    assert urgent.status != "resolved" and "resolving an urgent alert needs a note" in page
    client.post(f"/alerts/{urgent.pk}/resolve/", {"note": "called, safety plan agreed"})
    urgent.refresh_from_db()
    assert urgent.status == "resolved" and urgent.resolve_note == "called, safety plan agreed"


def test_the_inbox_groups_alerts_by_patient_urgent_patients_first(
    client: Client, clinician: object, flagged: object, team: object
) -> None:
    calm = PatientFactory(care_team=team, external_id="pt-calm")
    _questionnaire(calm, [2] * 6 + [0] * 3)
    response = client.get("/alerts/", {"group": "patient"})
    groups = response.context["groups"]
    assert [g.external_id for g in groups] == ["pt-urgent", "pt-calm"]  # urgent first, one row each
    urgent = Alert.objects.filter(patient=flagged).exclude(status="resolved")
    assert {a.pk for a in groups[0].alerts} == set(urgent.values_list("pk", flat=True))
    assert len(groups[0].alerts) > 1 and groups[0].urgent >= 1
    html = response.content.decode()
    assert html.count('id="patient-') == 2 and f'id="alert-{urgent.first().pk}"' in html
    # Acting from the grouped view comes back to it.
    alert = groups[1].alerts[0]
    back = client.post(f"/alerts/{alert.pk}/acknowledge/", {"next": "/alerts/?group=patient"})
    assert back["Location"] == f"/alerts/?group=patient#alert-{alert.pk}"


@pytest.mark.parametrize("note", ["called\x00back", "x" * 2001])
def test_an_alert_note_that_cannot_be_stored_is_refused_with_a_message(
    client: Client, clinician: object, flagged: object, note: str
) -> None:
    alert = Alert.objects.filter(patient=flagged).first()
    for action in ("acknowledge", "resolve"):
        page = client.post(f"/alerts/{alert.pk}/{action}/", {"note": note}, follow=True)
        assert page.status_code == 200 and "Not " in page.content.decode()
    alert.refresh_from_db()
    assert alert.status == "open" and alert.acknowledge_note == "" and alert.resolve_note == ""


def test_a_note_with_a_nul_or_a_bidi_override_is_refused_or_cleaned(
    client: Client, clinician: object, flagged: object
) -> None:
    page = client.post(f"/patients/{flagged.pk}/notes/", {"text": "a\x00b"}, follow=True).content.decode()
    assert "Note not saved" in page and not ClinicianNote.objects.exists()
    client.post(f"/patients/{flagged.pk}/notes/", {"text": "plan \u202eok\u202c agreed"})
    assert ClinicianNote.objects.get().text == "plan ok agreed"


def test_a_window_with_too_little_patient_text_opens_no_alert(team: object) -> None:
    patient = PatientFactory(care_team=team)
    version = ModelVersionFactory()
    for _ in range(3):
        PredictionFactory(
            session__patient=patient, model_version=version, total=22.0, items=[2.0] * 8 + [3.0], n_tokens=5
        )
    assert alerts_evaluate(patient_ids=[patient.pk]) == []
    PredictionFactory(session__patient=patient, model_version=version, total=22.0, items=[2.0] * 8 + [3.0])
    assert alerts_evaluate(patient_ids=[patient.pk])  # enough text: the item-9 rule opens
