"""The patient page tells the story: a history of events, what drove a score, the answers item scores
round to, a table alternative to the chart, and a printable report without conversation text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from monitor_site.alerts.models import Alert
from monitor_site.alerts.services import alert_acknowledge, alerts_evaluate
from monitor_site.audit.models import AuditEvent
from monitor_site.patients.models import ClinicianNote, Message
from tests.factories import (
    AssessmentFactory,
    CareTeamFactory,
    ModelVersionFactory,
    PatientFactory,
    PredictionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
SECRET = "my cat Biscuit knows"


@pytest.fixture
def clinician(client: Client) -> object:
    user = UserFactory(username="dr-a")
    client.force_login(user)
    return user


@pytest.fixture
def patient(clinician: object) -> object:
    """Two model versions, a week apart: items 2 and 4 rise, item 7 falls; an alert acknowledged with a
    note; a clinician note; a questionnaire; a message with recognisable text in the latest window."""
    team = CareTeamFactory()
    team.members.add(clinician)
    patient = PatientFactory(care_team=team, external_id="pt-story")
    old, new = ModelVersionFactory(version="v-old"), ModelVersionFactory(version="v-new")
    now = timezone.now()
    before = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 0.0]
    after = [1.0, 2.5, 1.0, 2.0, 1.0, 1.0, 0.8, 1.2, 0.8]  # item 9 flagged: an alert
    for days_ago, version, items in ((16, old, before), (8, old, before), (1, new, after)):
        at = now - timedelta(days=days_ago)
        PredictionFactory(
            session__patient=patient,
            session__started_at=at - timedelta(minutes=5),
            session__ended_at=at,
            model_version=version,
            total=sum(items),
            items=items,
        )
    latest = patient.predictions.order_by("-window_end").first()
    Message.objects.create(
        session=latest.session, position=0, role="user", text=SECRET, sent_at=latest.window_end
    )
    latest.evidence = [[{"session": latest.session.external_id, "turns": [0], "weight": 0.9}]] * 9
    latest.save(update_fields=["evidence"])
    alerts_evaluate(patient_ids=[patient.pk])
    alert = Alert.objects.filter(patient=patient).first()
    alert_acknowledge(alert=alert, user=clinician, note="called, will see Friday")
    ClinicianNote.objects.create(patient=patient, author=clinician, text="Discussed sleep hygiene.")
    AssessmentFactory(patient=patient, total=11, items=[1, 2, 1, 2, 1, 1, 1, 2, 0], completed_at=now)
    return patient


def test_the_history_lists_alerts_acknowledgements_notes_questionnaires_and_model_changes(
    client: Client, patient: object
) -> None:
    from monitor_site.modelops.models import ModelVersion
    from monitor_site.modelops.services.registry import model_version_promote

    old, new = (ModelVersion.objects.get(version=v) for v in ("v-old", "v-new"))
    for version in (old, new, old):  # the last: a roll-back, audited
        model_version_promote(model_version=version, actor=None, reason="test")
    response = client.get(f"/patients/{patient.pk}/")
    kinds = [e.kind for e in response.context["events"]]
    assert {"alert", "acknowledged", "note", "questionnaire", "model"} <= set(kinds)
    models = [e for e in response.context["events"] if e.kind == "model"]
    assert [e.title for e in models] == [  # newest first
        "Model rolled back to v-old",
        "Model v-new promoted",
        "Model v-old promoted",
        "First model-inferred score (model v-old)",
    ]
    latest_window = patient.predictions.order_by("-window_end").first().window_end  # type: ignore[attr-defined]
    assert models[0].at > latest_window  # dated at the roll-back, not at a window it re-scored
    html = response.content.decode()
    assert "called, will see Friday" in html  # the acknowledgement note, on the patient page
    figure_names = [t["name"] for t in response.context["figure"]["data"]]
    assert "Events: alert" in figure_names and "Events: model" in figure_names


def test_a_score_is_explained_by_its_items_answers_and_change_since_a_week_before(
    client: Client, patient: object
) -> None:
    response = client.get(f"/patients/{patient.pk}/")
    explanation = response.context["explanation"]
    assert explanation["previous"].window_end < response.context["selected"].window_end - timedelta(days=6)
    assert [n for n, _, _ in explanation["rising"]] == [2, 4, 9]  # +1.5, +1.0, +0.8; item 8's +0.2 is not
    assert [n for n, _, _ in explanation["falling"]] == [7]
    items = response.context["evidence"]
    assert items[1]["answer"] == "Nearly every day"  # 2.5 rounds half up, like the total
    assert items[3]["answer"] == "More than half the days" and items[6]["answer"] == "Several days"
    html = response.content.decode()
    assert "“more than half the days”" in html and "Rising most: item 2" in html


def test_the_chart_has_an_accessible_name_and_a_table_with_keyboard_links_to_every_evidence(
    client: Client, patient: object
) -> None:
    html = client.get(f"/patients/{patient.pk}/").content.decode()
    assert 'aria-labelledby="trajectory-caption"' in html and '<figcaption id="trajectory-caption"' in html
    for prediction in patient.predictions.all():
        assert f'href="?prediction={prediction.pk}#evidence"' in html


def test_the_printable_report_leaves_conversation_text_out_unless_asked_and_is_audited(
    client: Client, patient: object
) -> None:
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert SECRET in page  # the evidence on the page itself
    report = client.get(f"/patients/{patient.pk}/report/")
    html = report.content.decode()
    assert report.status_code == 200 and SECRET not in html and "No conversation text is included" in html
    assert (
        "More than half the days" in html and "called, will see Friday" in html and "Discussed sleep" in html
    )
    with_text = client.get(f"/patients/{patient.pk}/report/", {"evidence": "1"}).content.decode()
    assert SECRET in with_text and "This copy contains conversation text" in with_text
    formats = list(
        AuditEvent.objects.filter(action=AuditEvent.Action.PATIENT_EXPORT).values_list("detail", flat=True)
    )
    assert {"format": "report", "conversation_text": False} in formats
    assert {"format": "report", "conversation_text": True} in formats


def test_the_report_of_another_teams_patient_is_not_found(client: Client, patient: object) -> None:
    other = PatientFactory(care_team=CareTeamFactory())
    assert client.get(f"/patients/{other.pk}/report/").status_code == 404
