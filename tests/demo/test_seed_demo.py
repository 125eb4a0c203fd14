from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from monitor_site.patients.models import Assessment, ConversationSession, Patient

pytestmark = pytest.mark.django_db


def test_it_seeds_a_synthetic_clinic_once(model_store: Path) -> None:
    out = StringIO()
    call_command("seed_demo", "--patients", "6", "--weeks", "4", "--no-train", stdout=out)
    assert Patient.objects.count() == 6 and Patient.objects.filter(is_synthetic=False).count() == 0
    sessions = ConversationSession.objects.count()
    assert sessions >= 6 * 4 * 2
    assert Assessment.objects.exists()
    assert "clinician / demo-clinician-pass" in out.getvalue()
    out = StringIO()
    call_command("seed_demo", "--patients", "6", "--weeks", "4", "--no-train", stdout=out)
    assert "already seeded" in out.getvalue() and ConversationSession.objects.count() == sessions
    call_command("seed_demo", "--patients", "5", "--weeks", "4", "--no-train", "--reset", stdout=StringIO())
    assert Patient.objects.count() == 5


def test_it_gives_the_demo_clinician_patients_to_see(model_store: Path, client: object) -> None:
    call_command("seed_demo", "--patients", "6", "--weeks", "3", "--no-train", stdout=StringIO())
    assert (
        client.post("/login/", {"username": "clinician", "password": "demo-clinician-pass"}).status_code
        == 302
    )  # type: ignore[attr-defined]
    html = client.get("/").content.decode()  # type: ignore[attr-defined]
    assert "syn-p" in html and "Synthetic demo data" in html
    north = Patient.objects.filter(care_team__name="North team")
    mine = client.get("/?scope=mine").context["page"]  # type: ignore[attr-defined]
    if north.exists():  # half of the North team's patients are the demo clinician's own
        assert len(mine) == (north.count() + 1) // 2
        assert all(p.named_clinician.username == "clinician" for p in mine)


def test_its_service_reports_what_it_wrote_and_what_a_reset_removed(model_store: Path) -> None:
    from monitor_site.alerts.tasks import alerts_notify_enqueue
    from monitor_site.demo.services import demo_clinic_seed
    from training.synthetic.clinic import DemoClinicArgs

    lines: list[str] = []
    first = demo_clinic_seed(
        args=DemoClinicArgs(patients=5, weeks=3), notify=alerts_notify_enqueue, train=False, say=lines.append
    )
    assert first.seeded and first.patients == 5 and first.sessions == ConversationSession.objects.count()
    assert first.questionnaires == Assessment.objects.count() and first.scored == 0
    again = demo_clinic_seed(
        args=DemoClinicArgs(patients=5, weeks=3), notify=alerts_notify_enqueue, train=False, say=lines.append
    )
    assert not again.seeded and again.patients == 5 and again.sessions == 0
    reset = demo_clinic_seed(
        args=DemoClinicArgs(patients=4, weeks=3), notify=alerts_notify_enqueue, reset=True, train=False
    )
    assert reset.removed == 5 and reset.patients == 4 and Patient.objects.count() == 4
    assert any("already seeded" in line for line in lines)


def test_it_refuses_a_clinic_too_small_to_train_on() -> None:
    from training.synthetic.clinic import DemoClinicArgs

    with pytest.raises(ValueError, match="at least 4 patients and 3 weeks"):
        DemoClinicArgs(patients=3)


def test_the_template_lookup_is_scored_on_the_windows_it_is_given(model_store: Path) -> None:
    from monitor_site.demo.services import template_lookup_report
    from monitor_site.patients.selectors import labeled_windows_from_assessments

    call_command("seed_demo", "--patients", "15", "--weeks", "8", "--no-train", stdout=StringIO())
    examples = labeled_windows_from_assessments()
    assert template_lookup_report(set()) is None
    report = template_lookup_report({e.window.id for e in examples})
    assert report is not None and report["n"] == len(examples)
    # the lookup knows the phrase bank: it tracks the questionnaires with no training at all
    assert report["pearson_r"] > 0.5


def test_seeding_emails_nobody_about_the_seeded_history(model_store: Path) -> None:
    """Crossings in the seeded history are weeks or months old: recorded, never e-mailed, not retried."""
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone

    from monitor_site.alerts.models import Alert, AlertNotification
    from monitor_site.alerts.services import alerts_due_for_notification

    call_command("seed_demo", "--patients", "12", "--weeks", "4", "--no-train", stdout=StringIO())
    call_command("seed_demo", "--patients", "12", "--weeks", "4", "--no-train", stdout=StringIO())
    alerts = Alert.objects.all()
    assert alerts.exists()  # the self-report rules on the latest questionnaires
    assert mail.outbox == []
    outcomes = set(AlertNotification.objects.values_list("outcome", flat=True))
    assert outcomes == {AlertNotification.Outcome.NOT_SENT}
    assert alerts_due_for_notification(now=timezone.now() + timedelta(days=1)) == []


def test_alerts_raised_while_the_history_is_scored_email_nobody(model_store: Path) -> None:
    """The promotion's re-scoring runs the usual tasks (eagerly in the demo): its alerts on the seeded
    history reach nobody, and the demo users have their addresses again afterwards."""
    from django.contrib.auth import get_user_model
    from django.core import mail

    from monitor_site.alerts.models import Alert, AlertNotification, AlertRule
    from monitor_site.alerts.selectors import alerts_undelivered_count
    from monitor_site.alerts.services import alert_notify
    from monitor_site.demo.services import demo_users_unreachable

    call_command("seed_demo", "--patients", "6", "--weeks", "3", "--no-train", stdout=StringIO())
    clinician = get_user_model().objects.get(username="clinician")
    assert clinician.email  # given after the first seed: later sessions reach the console
    patient = Patient.objects.filter(care_team__members=clinician).first()
    rule = AlertRule.objects.get(source="model", kind="threshold", threshold=10)
    with demo_users_unreachable():
        alert = Alert.objects.create(rule=rule, patient=patient, total=12, band="moderate")
        alert_notify(alert_id=alert.pk)
    assert mail.outbox == []
    assert alert.notifications.get().outcome == AlertNotification.Outcome.NO_RECIPIENT
    clinician.refresh_from_db()
    assert clinician.email == "clinician@demo.invalid"
    assert alerts_undelivered_count() == 0  # the team has addresses again: nothing "reached nobody"
