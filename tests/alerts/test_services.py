from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from monitor_site.alerts.models import Alert, AlertNotification, AlertRule
from monitor_site.alerts.services import (
    alert_acknowledge,
    alert_notify,
    alert_resolve,
    alerts_check_no_data,
    alerts_due_for_notification,
    alerts_evaluate,
    alerts_evaluate_self_report,
)
from monitor_site.alerts.tasks import alerts_housekeeping
from monitor_site.audit.models import AuditEvent
from tests.factories import (
    T0,
    CareTeamFactory,
    ModelVersionFactory,
    PatientFactory,
    PredictionFactory,
    SessionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
SECRET = "I keep thinking everyone would be better off without me"


@pytest.fixture
def patient() -> object:
    team = CareTeamFactory()
    team.members.add(UserFactory(email="dr.a@example.org"), UserFactory(email="nurse.b@example.org"))
    return PatientFactory(care_team=team, external_id="pt-0042")


@pytest.fixture
def version() -> object:
    return ModelVersionFactory()


def _scores(patient: object, version: object, totals: list[float], *, item9: float = 0.0) -> list[object]:
    """One scored session a day after the patient's last, from T0 (March 2026: long past, so that alerts
    on them come from delayed data whatever other tests created before)."""
    last = patient.sessions.order_by("-ended_at").first()  # type: ignore[attr-defined]
    at = (last.ended_at if last else T0) + timedelta(days=1)
    rows = []
    for total in totals:
        items = [total / 9] * 8 + [item9]
        rows.append(
            PredictionFactory(
                session__patient=patient,
                session__started_at=at - timedelta(minutes=10),
                session__ended_at=at,
                model_version=version,
                total=total,
                items=items,
            )
        )
        at += timedelta(days=1)
    return rows


def _rule(kind: str) -> AlertRule:
    return AlertRule.objects.get(
        kind=kind, source="model", **({"threshold": 10} if kind == "threshold" else {})
    )


def test_it_ships_the_default_rules() -> None:
    kinds = sorted(AlertRule.objects.values_list("kind", "threshold"))
    assert ("threshold", 10) in kinds and ("threshold", 15) in kinds and ("threshold", 20) in kinds
    assert AlertRule.objects.get(kind="self_harm", source="model").urgent
    assert AlertRule.objects.get(kind="self_harm", source="model").use_model_threshold
    assert AlertRule.objects.get(kind="deterioration").threshold == 6
    self_report = AlertRule.objects.filter(source="self_report")
    assert sorted(self_report.filter(kind="threshold").values_list("threshold", flat=True)) == [10, 15, 20]
    item9 = self_report.get(kind="self_harm")
    assert item9.urgent and item9.threshold == 1 and item9.consecutive == 1


def test_it_waits_for_consecutive_predictions_before_opening_a_threshold_alert(
    patient: object, version: object
) -> None:
    AlertRule.objects.exclude(kind="threshold", threshold=10).update(is_active=False)
    _scores(patient, version, [4, 4, 12])
    assert alerts_evaluate(patient_ids=[patient.pk]) == []  # one prediction above the line: not yet
    _scores(patient, version, [13])
    opened = alerts_evaluate(patient_ids=[patient.pk])
    assert len(opened) == 1 and opened[0].rule == _rule("threshold") and opened[0].total == 13


def test_it_does_not_flap_when_a_score_hovers_at_the_line(patient: object, version: object) -> None:
    AlertRule.objects.exclude(kind="threshold", threshold=10).update(is_active=False)
    for totals in ([11, 11], [9], [11], [9], [11], [11, 12]):
        _scores(patient, version, totals)
        alerts_evaluate(patient_ids=[patient.pk])
    assert Alert.objects.count() == 1  # one episode: it never fell below for 2 predictions in a row


def test_it_opens_nothing_new_until_the_condition_ended_and_crossed_again(
    patient: object, version: object
) -> None:
    AlertRule.objects.exclude(kind="threshold", threshold=10).update(is_active=False)
    _scores(patient, version, [12, 12])
    first = alerts_evaluate(patient_ids=[patient.pk])[0]
    _scores(patient, version, [13, 14])
    assert alerts_evaluate(patient_ids=[patient.pk]) == []  # the same episode goes on
    _scores(patient, version, [5, 5])
    assert alerts_evaluate(patient_ids=[patient.pk]) == []
    first.refresh_from_db()
    assert first.episode_ended_at is not None and first.status == Alert.Status.OPEN  # still needs a human
    _scores(patient, version, [14, 14])
    assert alerts_evaluate(patient_ids=[patient.pk]) == [first]  # crossed again: the same alert
    assert Alert.objects.count() == 1


def test_it_is_idempotent_when_evaluated_again(patient: object, version: object) -> None:
    _scores(patient, version, [16, 17])
    first = alerts_evaluate(patient_ids=[patient.pk])
    assert {a.rule.threshold for a in first if a.rule.kind == "threshold"} == {15}  # 10 folded into it
    assert alerts_evaluate(patient_ids=[patient.pk]) == []
    assert Alert.objects.count() == len(first)


def test_it_raises_an_urgent_alert_on_item_9_whatever_the_total(patient: object, version: object) -> None:
    _scores(patient, version, [2.0], item9=1.2)
    opened = alerts_evaluate(patient_ids=[patient.pk])
    assert [a.rule.kind for a in opened] == ["self_harm"]
    assert opened[0].urgent and opened[0].self_harm_item == pytest.approx(1.2)


def test_it_detects_reliable_deterioration_from_the_baseline(patient: object, version: object) -> None:
    AlertRule.objects.exclude(kind="deterioration").update(is_active=False)
    _scores(patient, version, [3, 3, 3])
    assert alerts_evaluate(patient_ids=[patient.pk]) == []
    # The baseline is the mean of the first 14 days (3.0); two predictions 6+ above it.
    later = patient.sessions.order_by("-ended_at").first().ended_at + timedelta(days=20)
    for i, total in enumerate([9.5, 10.0]):
        PredictionFactory(
            session=SessionFactory(patient=patient, started_at=later + timedelta(days=i)),
            model_version=version,
            total=total,
            items=[total / 9] * 8 + [0.0],
        )
    opened = alerts_evaluate(patient_ids=[patient.pk])
    assert len(opened) == 1 and opened[0].baseline == pytest.approx(3.0)


def test_it_raises_no_data_alerts_for_silent_patients_and_ends_them_on_a_new_session(
    patient: object, version: object
) -> None:
    SessionFactory(patient=patient, started_at=timezone.now() - timedelta(days=10))
    quiet = PatientFactory()  # no session ever: not under monitoring yet
    opened = alerts_check_no_data()
    assert [a.patient for a in opened] == [patient] and quiet.pk not in [a.patient_id for a in opened]
    assert alerts_check_no_data() == []  # one per episode
    PredictionFactory(
        session=SessionFactory(patient=patient, started_at=timezone.now()), model_version=version, total=1
    )
    alerts_evaluate(patient_ids=[patient.pk])
    assert Alert.objects.get(rule__kind="no_data").episode_ended_at is not None


def test_it_emails_the_care_team_without_conversation_text_or_names(
    patient: object, version: object, settings: object
) -> None:
    settings.SITE_URL = "https://monitor.example.org"  # type: ignore[attr-defined]
    from monitor_site.patients.models import Message

    (prediction,) = _scores(patient, version, [14.0], item9=2.0)
    Message.objects.create(
        session=prediction.session, position=0, role="user", text=SECRET, sent_at=timezone.now()
    )
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    alert_notify(alert_id=alert.pk)
    (email,) = mail.outbox
    assert sorted(email.to) == ["dr.a@example.org", "nurse.b@example.org"]
    assert "URGENT" in email.subject and "pt-0042" in email.subject
    assert f"https://monitor.example.org/patients/{patient.pk}/" in email.body
    assert "model-inferred" in email.body.lower() and "2.0 of 3" in email.body
    for text in (email.subject, email.body):
        assert SECRET not in text and "better off" not in text
    assert AlertNotification.objects.get().outcome == "sent"


@pytest.mark.faults
def test_it_records_a_refused_email_and_retries_it_later(
    patient: object, version: object, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    settings.ALERT_RETRY_MINUTES = 5  # type: ignore[attr-defined]
    AlertRule.objects.filter(kind="no_data").update(is_active=False)  # the factory's sessions are old
    _scores(patient, version, [2.0], item9=1.0)
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]

    def refuse(*args: object, **kwargs: object) -> None:
        raise smtplib.SMTPRecipientsRefused({"dr.a@example.org": (550, b"no")})

    monkeypatch.setattr("monitor_site.alerts.services.send_mail", refuse)
    assert alert_notify(alert_id=alert.pk).outcome == "failed"
    assert alerts_due_for_notification() == []  # too soon
    later = timezone.now() + timedelta(minutes=6)
    assert alerts_due_for_notification(now=later) == [(alert.pk, False)]
    monkeypatch.undo()
    AlertNotification.objects.update(attempted_at=timezone.now() - timedelta(minutes=6))
    alerts_housekeeping()
    assert len(mail.outbox) == 1
    assert list(AlertNotification.objects.order_by("attempted_at").values_list("outcome", flat=True)) == [
        "failed",
        "sent",
    ]


def test_it_reminds_about_unacknowledged_urgent_alerts_until_acknowledged(
    patient: object, version: object
) -> None:
    _scores(patient, version, [2.0], item9=1.0)
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    alert_notify(alert_id=alert.pk)
    hours = alert.rule.renotify_after_hours
    assert hours > 0
    later = timezone.now() + timedelta(hours=hours, minutes=1)
    assert alerts_due_for_notification(now=later) == [(alert.pk, True)]
    alert_acknowledge(alert=alert, user=UserFactory(), note="called the patient")
    assert alerts_due_for_notification(now=later) == []


def test_it_audits_acknowledge_and_resolve(patient: object, version: object) -> None:
    _scores(patient, version, [2.0], item9=1.0)
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    user = UserFactory()
    alert_acknowledge(alert=alert, user=user, note="seen")
    alert_resolve(alert=alert, user=user, note="safety plan in place")
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.acknowledge_note == "seen"
    actions = list(AuditEvent.objects.order_by("at").values_list("action", "actor_username", "patient_id"))
    assert actions == [
        ("alert.acknowledge", user.username, patient.pk),
        ("alert.resolve", user.username, patient.pk),
    ]


def test_it_evaluates_alerts_and_emails_when_real_scoring_stores_predictions(
    active_model: object, ingest: tuple, django_capture_on_commit_callbacks: object
) -> None:
    from monitor_site.patients.services.ingest import session_ingest
    from monitor_site.predictions.tasks import score_session

    team = ingest[0].source.default_care_team
    team.members.add(UserFactory(email="team@example.org"))
    AlertRule.objects.update(is_active=False)
    AlertRule.objects.create(name="anything scored", kind="threshold", threshold=0, consecutive=1)
    now = timezone.now()
    session = session_ingest(
        source=ingest[0].source,
        care_team=team,
        patient_external_id="p9",
        session_external_id="s9",
        started_at=now,
        messages=[{"role": "user", "text": SECRET, "sent_at": now}],
    ).obj
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        score_session(session.pk)  # scores, then enqueues evaluate_alerts, which enqueues the e-mail
    assert Alert.objects.filter(patient__external_id="p9").count() == 1
    assert len(mail.outbox) == 1 and SECRET not in mail.outbox[0].body


def _one_session(ingest: tuple, patient: str) -> object:
    from monitor_site.patients.services.ingest import session_ingest

    team = ingest[0].source.default_care_team
    team.members.add(UserFactory(email=f"{patient}-team@example.org"))
    AlertRule.objects.update(is_active=False)
    AlertRule.objects.create(name="anything scored", kind="threshold", threshold=0, consecutive=1)
    now = timezone.now()
    return session_ingest(
        source=ingest[0].source,
        care_team=team,
        patient_external_id=patient,
        session_external_id=f"s-{patient}",
        started_at=now,
        messages=[{"role": "user", "text": SECRET, "sent_at": now}],
    ).obj


@pytest.mark.django_db(transaction=True)
def test_it_evaluates_alerts_only_after_the_scoring_claim_commits(
    active_model: object, ingest: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alert work never holds the rows the scoring claim locks: it runs once the claim has committed."""
    from django.db import connection

    from monitor_site.alerts import tasks as alert_tasks
    from monitor_site.predictions.tasks import score_session

    session = _one_session(ingest, "p10")
    seen: list[tuple[list[int], bool]] = []

    def evaluate(*, patient_ids: list[int]) -> list[Alert]:
        seen.append((list(patient_ids), connection.in_atomic_block))
        return alerts_evaluate(patient_ids=patient_ids)

    monkeypatch.setattr(alert_tasks, "alerts_evaluate", evaluate)
    assert score_session(session.pk) == 1  # type: ignore[attr-defined]
    assert seen == [([session.patient_id], False)]  # type: ignore[attr-defined]
    assert Alert.objects.filter(patient_id=session.patient_id).count() == 1  # type: ignore[attr-defined]


def test_housekeeping_evaluates_what_a_lost_evaluation_task_left(
    active_model: object, ingest: tuple, django_capture_on_commit_callbacks: object
) -> None:
    """Predictions stored but their evaluate_alerts task lost (broker down, worker killed): the next
    alerts_housekeeping opens the alert and sends its e-mail."""
    from monitor_site.predictions.services.scoring import predictions_score_sessions

    session = _one_session(ingest, "p11")
    assert predictions_score_sessions(session_ids=[session.pk]).rows == 1  # type: ignore[attr-defined]
    assert not Alert.objects.exists()  # the service alone evaluates nothing
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        alerts_housekeeping()
    assert Alert.objects.filter(patient__external_id="p11").count() == 1
    assert len(mail.outbox) == 1 and SECRET not in mail.outbox[0].body


def test_after_a_backfill_alerts_follow_the_latest_state_and_say_the_data_came_late(
    patient: object, version: object, settings: object
) -> None:
    """A scoring backlog or backfill (the factory's sessions are in March 2026) opens the episode the
    patient's latest state calls for, marked delayed; crossings in between are history."""
    AlertRule.objects.exclude(kind="threshold", threshold=10, source="model").update(is_active=False)
    settings.ALERT_MAX_AGE_HOURS = 72  # type: ignore[attr-defined]
    _scores(patient, version, [12, 12, 3, 3])  # crossed and came back: nothing to open now
    assert alerts_evaluate(patient_ids=[patient.pk]) == []
    rows = _scores(patient, version, [12, 12])
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    assert alert.crossed_at == rows[-1].window_end and alert.is_delayed
    alert_notify(alert_id=alert.pk)
    assert "(delayed data)" in mail.outbox[0].subject and "comes from delayed data" in mail.outbox[0].body
    assert f"Crossing: {rows[-1].window_end:%Y-%m-%d}" in mail.outbox[0].body
    _scores(patient, version, [3, 3])
    alerts_evaluate(patient_ids=[patient.pk])
    alert.refresh_from_db()
    assert alert.episode_ended_at is not None


def test_a_score_that_rounds_to_the_line_meets_it(patient: object, version: object) -> None:
    AlertRule.objects.exclude(kind="threshold", threshold=15, source="model").update(is_active=False)
    _scores(patient, version, [14.44, 14.44])
    assert alerts_evaluate(patient_ids=[patient.pk]) == []  # shown 14.4, "moderate": below the line
    _scores(patient, version, [14.6, 14.5])
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    assert alert.band == "moderately_severe"  # the band and the rule agree


def test_the_patients_own_questionnaire_raises_self_report_alerts_at_once(patient: object) -> None:
    from monitor_site.patients.services.ingest import assessment_ingest

    def ingest(completed_at: object, items: list[int]) -> None:
        """What the ingest edge (api.views.assessment_create) does: store, then the self-report rules."""
        result = assessment_ingest(
            source=patient.source,  # type: ignore[attr-defined]
            care_team=patient.care_team,  # type: ignore[attr-defined]
            patient_external_id=patient.external_id,  # type: ignore[attr-defined]
            completed_at=completed_at,  # type: ignore[arg-type]
            items=items,
        )
        if result.created:
            alerts_evaluate_self_report(patient_ids=[result.obj.patient_id])

    AlertRule.objects.filter(source="model").update(is_active=False)
    completed = timezone.now() - timedelta(days=200)  # whatever its age
    with_item9 = [3, 3, 3, 2, 2, 3, 2, 2, 1]  # total 21, item 9 answered "several days"
    ingest(completed, with_item9)
    alerts = Alert.objects.filter(patient=patient).select_related("rule")
    assert sorted(a.rule.name for a in alerts) == sorted(
        [  # one alert at the highest line crossed (10 and 15 folded into it); item 9 apart, urgent
            "Self-report: PHQ-9 at or above 20 (severe)",
            "Self-report: item 9 (thoughts of self-harm) answered",
        ]
    )
    urgent = alerts.get(urgent=True)
    assert urgent.is_self_report and urgent.crossed_at == completed and urgent.self_harm_item == 1
    assert urgent.summary() == "self-reported PHQ-9 21 · item 9 answered 1 of 3"
    alert_notify(alert_id=urgent.pk)
    body = mail.outbox[0].body
    assert "the patient's own questionnaire (self-report)" in body and "Model-inferred" not in body
    assert f"Crossing: {completed:%Y-%m-%d}" in body and "Escalation: No escalation step is set" in body
    # an older questionnaire arriving late is not the current state: nothing new
    ingest(completed - timedelta(days=30), [0] * 9)
    assert Alert.objects.filter(patient=patient, episode_ended_at__isnull=True).count() == 2
    # a newer one below every line ends the episodes
    ingest(completed + timedelta(days=14), [0] * 9)
    assert Alert.objects.filter(patient=patient, episode_ended_at__isnull=True).count() == 0


def test_the_item9_rule_uses_the_models_recommended_threshold_unless_overridden(
    patient: object, settings: object
) -> None:
    from monitor_site.alerts.models import EscalationStep
    from tests.factories import AssessmentFactory

    AlertRule.objects.exclude(kind="self_harm", source="model").update(is_active=False)
    rule = AlertRule.objects.get(kind="self_harm", source="model")
    carded = ModelVersionFactory(manifest={"item9_flag": {"threshold": 0.8}})
    assert rule.effective_threshold(0.8) == (0.8, "recommended by the active model's card")
    _scores(patient, carded, [6.0], item9=0.7)
    assert alerts_evaluate(patient_ids=[patient.pk]) == []  # 0.7 < the card's 0.8
    rule.use_model_threshold = False  # an admin override: the rule's own 0.5
    rule.save()
    assert rule.effective_threshold(0.8) == (0.5, "the rule's own (admin override)")
    AssessmentFactory(patient=patient, items=[0] * 9, total=0)
    EscalationStep.objects.create(text="Call the duty clinician on 020 7946 0000.")
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    alert_notify(alert_id=alert.pk)
    body = mail.outbox[0].body
    assert "Latest self-reported item 9: 0 of 3 (questionnaire of" in body  # the contradiction, beside
    assert "Escalation: Call the duty clinician on 020 7946 0000." in body


@pytest.mark.faults
def test_a_mail_server_that_refuses_loses_no_alert(
    patient: object, version: object, settings: object
) -> None:
    """The real SMTP backend against a port where nothing listens, then a working backend."""
    import socket

    AlertRule.objects.filter(kind="no_data").update(is_active=False)
    with socket.socket() as s:  # a free port, closed again: connections to it are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # type: ignore[attr-defined]
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port  # type: ignore[attr-defined]
    settings.EMAIL_TIMEOUT = 2  # type: ignore[attr-defined]
    _scores(patient, version, [2.0], item9=1.0)
    alert = alerts_evaluate(patient_ids=[patient.pk])[0]
    assert alert_notify(alert_id=alert.pk).outcome == "failed"
    assert "refused" in AlertNotification.objects.get().error.lower()
    assert Alert.objects.filter(pk=alert.pk, status="open").exists()  # the alert itself stays
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # type: ignore[attr-defined]
    AlertNotification.objects.update(attempted_at=timezone.now() - timedelta(minutes=10))
    alerts_housekeeping()
    assert len(mail.outbox) == 1 and AlertNotification.objects.filter(outcome="sent").count() == 1


def test_a_confident_rule_needs_the_intervals_lower_bound_to_reach_the_line(
    patient: object, version: object
) -> None:
    AlertRule.objects.exclude(kind="threshold", threshold=10, source="model").update(is_active=False)
    rule = _rule("threshold")
    rule.crossing = "confident"
    rule.save()
    for total in (12.0, 12.0):
        PredictionFactory(session__patient=patient, model_version=version, total=total, interval_low=8.0)
    assert alerts_evaluate(patient_ids=[patient.pk]) == []
    for total in (13.0, 13.0):
        PredictionFactory(session__patient=patient, model_version=version, total=total, interval_low=9.5)
    assert len(alerts_evaluate(patient_ids=[patient.pk])) == 1


def test_the_admin_offers_no_deletion_of_alerts_rules_or_the_active_model(client: object) -> None:
    from monitor_site.modelops.models import ModelVersion

    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)  # type: ignore[attr-defined]
    rule = AlertRule.objects.first()
    assert rule is not None
    assert client.get(f"/admin/alerts/alertrule/{rule.pk}/delete/").status_code == 403  # type: ignore[attr-defined]
    active = ModelVersionFactory(status=ModelVersion.Status.ACTIVE)
    candidate = ModelVersionFactory(status=ModelVersion.Status.CANDIDATE)
    assert client.get(f"/admin/modelops/modelversion/{active.pk}/delete/").status_code == 403  # type: ignore[attr-defined]
    assert client.get(f"/admin/modelops/modelversion/{candidate.pk}/delete/").status_code == 200  # type: ignore[attr-defined]
