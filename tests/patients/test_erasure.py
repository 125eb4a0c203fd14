from __future__ import annotations

import json

import pytest
from django.test import Client

from monitor_site.alerts.models import Alert, AlertNotification
from monitor_site.alerts.services import alert_notify, alerts_evaluate
from monitor_site.audit.models import AuditEvent
from monitor_site.modelops.models import PseudoLabel
from monitor_site.patients.models import (
    Assessment,
    ClinicianNote,
    ConversationSession,
    Message,
    Patient,
)
from monitor_site.predictions.models import Prediction, PredictionFeedback, TrajectorySummary
from monitor_site.predictions.services.feedback import prediction_feedback_record
from tests.factories import AssessmentFactory, PatientFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db
WORDS = "my sister Anna knows how bad it is"


def _patient_with_everything() -> Patient:
    patient = PatientFactory(external_id="pt-erase")
    clinician = UserFactory(email="c@example.org")
    patient.care_team.members.add(clinician)
    prediction = PredictionFactory(session__patient=patient, total=14, items=[1.0] * 8 + [2.0])
    Message.objects.create(
        session=prediction.session, position=0, role="user", text=WORDS, sent_at=prediction.window_end
    )
    AssessmentFactory(patient=patient)
    ClinicianNote.objects.create(patient=patient, author=clinician, text="call on Monday")
    prediction_feedback_record(prediction=prediction, clinician=clinician, verdict="agree")
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    alert_notify(alert_id=alert.pk)
    PseudoLabel.objects.create(
        window_hash="h" * 64,
        model="claude-test",
        items=[1] * 9,
        evidence=[WORDS],
        confidence=0.9,
        patient=patient,
    )
    return patient


def test_an_admin_erases_a_patient_and_everything_derived(client: Client) -> None:
    patient = _patient_with_everything()
    keep = PredictionFactory()  # someone else
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = "/admin/patients/patient/"
    form = {"action": "erase", "_selected_action": [patient.pk]}
    confirm = client.post(url, form)
    assert confirm.status_code == 200 and "pt-erase" in confirm.content.decode()
    assert Patient.objects.filter(pk=patient.pk).exists()  # nothing before the confirmation
    done = client.post(url, {**form, "confirm": "yes"}, follow=True)
    assert "Erased 1 patient(s)" in done.content.decode()
    assert not ConversationSession.objects.filter(patient_id=patient.pk).exists()
    assert not Message.objects.filter(text=WORDS).exists()
    assert not Prediction.objects.filter(patient_id=patient.pk).exists()
    assert not Assessment.objects.filter(patient_id=patient.pk).exists()
    assert not Alert.objects.exists() and not AlertNotification.objects.exists()
    assert not ClinicianNote.objects.exists() and not PredictionFeedback.objects.exists()
    assert not PseudoLabel.objects.exists() and not TrajectorySummary.objects.filter(pk=patient.pk).exists()
    assert Prediction.objects.filter(pk=keep.pk).exists()
    event = AuditEvent.objects.get(action="patient.erase")
    assert event.patient_id == patient.pk and event.actor == admin
    assert event.detail["removed"]["messages"] == 1 and event.detail["removed"]["pseudo_labels"] == 1
    trail = json.dumps(list(AuditEvent.objects.values("detail", "object_id")))
    assert WORDS not in trail and "pt-erase" not in trail and "Monday" not in trail


def test_only_superusers_may_erase_and_plain_delete_is_gone(client: Client) -> None:
    patient = PatientFactory()
    client.force_login(UserFactory(is_staff=True))
    page = client.get("/admin/patients/patient/")
    assert page.status_code in (200, 403)
    client.post(
        "/admin/patients/patient/", {"action": "erase", "_selected_action": [patient.pk], "confirm": "yes"}
    )
    client.post(
        "/admin/patients/patient/",
        {"action": "delete_selected", "_selected_action": [patient.pk], "post": "yes"},
    )
    assert Patient.objects.filter(pk=patient.pk).exists()
