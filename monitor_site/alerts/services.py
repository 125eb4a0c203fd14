"""Alert evaluation, notification e-mails and clinician actions.

Evaluation is idempotent: it reads the patient's latest predictions and the open episodes, opens an
alert only where no episode is open (a partial unique constraint guards races) and ends episodes whose
condition has failed `consecutive` times in a row. E-mails carry the pseudonymous id, numbers, band,
rule and a link; never conversation text, never a name.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from monitor_site.alerts.models import Alert, AlertNotification, AlertRule
from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.patients.models import ConversationSession, Patient
from monitor_site.predictions.models import Prediction, TrajectorySummary

log = logging.getLogger(__name__)


def _open_alert(
    *, rule: AlertRule, patient_id: int, prediction: Prediction | None, baseline: float | None
) -> Alert | None:
    try:
        with transaction.atomic():  # a savepoint: losing the race to another worker is not an error
            return Alert.objects.create(
                rule=rule,
                patient_id=patient_id,
                prediction=prediction,
                urgent=rule.urgent,
                total=prediction.total if prediction else None,
                band=prediction.band if prediction else "",
                self_harm_item=prediction.self_harm_item if prediction else None,
                baseline=baseline,
            )
    except IntegrityError:
        return None


def alerts_evaluate(*, patient_ids: Iterable[int]) -> list[Alert]:
    """Evaluate every active prediction rule for these patients. Returns the alerts opened."""
    rules = [r for r in AlertRule.objects.filter(is_active=True) if r.kind != AlertRule.Kind.NO_DATA]
    no_data_rules = AlertRule.objects.filter(is_active=True, kind=AlertRule.Kind.NO_DATA)
    opened: list[Alert] = []
    max_age = timedelta(hours=settings.ALERT_MAX_AGE_HOURS) if settings.ALERT_MAX_AGE_HOURS else None
    for patient_id in sorted(set(patient_ids)):
        summary = TrajectorySummary.objects.filter(pk=patient_id).select_related("latest_prediction").first()
        if summary is None or summary.latest_prediction is None:
            continue
        latest = summary.latest_prediction
        # A new prediction means a new session: any "no data" episode is over.
        Alert.objects.filter(
            patient_id=patient_id, rule__in=no_data_rules, episode_ended_at__isnull=True
        ).filter(opened_at__lt=latest.window_end).update(episode_ended_at=timezone.now())
        if not rules:
            continue
        need = max(r.consecutive for r in rules)
        # The series of the model that made the latest prediction: versions are never mixed in a run.
        series = list(
            Prediction.objects.filter(
                patient_id=patient_id, model_version_id=latest.model_version_id
            ).order_by("-window_end")[:need]
        )
        episodes = {
            a.rule_id: a for a in Alert.objects.filter(patient_id=patient_id, episode_ended_at__isnull=True)
        }
        # A backfill or a rescoring of old sessions describes the past: it may end episodes but opens
        # none (no storm of alerts about weeks that are over).
        current = max_age is None or latest.window_end >= timezone.now() - max_age
        for rule in rules:
            recent = series[: max(rule.consecutive, 1)]
            if len(recent) < rule.consecutive:
                continue
            met = [rule.is_met(p, baseline=summary.baseline_total) for p in recent]
            if all(met) and rule.pk not in episodes and current:
                alert = _open_alert(
                    rule=rule, patient_id=patient_id, prediction=latest, baseline=summary.baseline_total
                )
                if alert is not None:
                    opened.append(alert)
            elif not any(met) and rule.pk in episodes:
                Alert.objects.filter(pk=episodes[rule.pk].pk).update(episode_ended_at=timezone.now())
    if opened:
        log.info("opened %d alert(s)", len(opened))  # ids and counts only: no patient content in logs
    return opened


def alerts_check_no_data(*, now: datetime | None = None) -> list[Alert]:
    """Open a "no data" alert for each monitored patient (a care team and at least one session) whose
    last session is older than the rule's days."""
    now = now or timezone.now()
    opened: list[Alert] = []
    for rule in AlertRule.objects.filter(is_active=True, kind=AlertRule.Kind.NO_DATA):
        cutoff = now - timedelta(days=rule.days)
        recent = ConversationSession.objects.filter(patient=OuterRef("pk"), ended_at__gte=cutoff)
        any_session = ConversationSession.objects.filter(patient=OuterRef("pk"))
        open_episode = Alert.objects.filter(patient=OuterRef("pk"), rule=rule, episode_ended_at__isnull=True)
        silent = (
            Patient.objects.filter(care_team__isnull=False)
            .filter(Exists(any_session), ~Exists(recent), ~Exists(open_episode))
            .values_list("pk", flat=True)
        )
        for patient_id in silent:
            alert = _open_alert(rule=rule, patient_id=patient_id, prediction=None, baseline=None)
            if alert is not None:
                opened.append(alert)
    return opened


def _recipients(alert: Alert) -> list[str]:
    team = alert.patient.care_team
    if team is None:
        return []
    users = get_user_model().objects.filter(care_teams=team, is_active=True).exclude(email="")
    return sorted({u.email for u in users})


def alert_notify(*, alert_id: int, reminder: bool = False) -> AlertNotification | None:
    """E-mail the patient's care team about one alert and record the attempt (sent or failed)."""
    alert = Alert.objects.select_related("rule", "patient__care_team").filter(pk=alert_id).first()
    if alert is None or alert.status == Alert.Status.RESOLVED:
        return None
    recipients = _recipients(alert)
    if not recipients:
        return AlertNotification.objects.create(
            alert=alert, outcome=AlertNotification.Outcome.NO_RECIPIENT, is_reminder=reminder
        )
    context = {
        "alert": alert,
        "reminder": reminder,
        "link": settings.SITE_URL.rstrip("/") + reverse("dashboards:patient_detail", args=[alert.patient_id]),
        "inbox": settings.SITE_URL.rstrip("/") + reverse("dashboards:alert_inbox"),
    }
    subject = " ".join(render_to_string("alerts/email_subject.txt", context).split())
    body = render_to_string("alerts/email_body.txt", context)
    try:
        send_mail(subject, body, None, recipients, fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("alert %d: e-mail failed, will retry: %s", alert.pk, type(exc).__name__)
        return AlertNotification.objects.create(
            alert=alert,
            recipients=recipients,
            outcome=AlertNotification.Outcome.FAILED,
            is_reminder=reminder,
            error=str(exc)[:300],
        )
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now())
    return AlertNotification.objects.create(
        alert=alert, recipients=recipients, outcome=AlertNotification.Outcome.SENT, is_reminder=reminder
    )


def alerts_due_for_notification(*, now: datetime | None = None) -> list[tuple[int, bool]]:
    """(alert id, is reminder) for: alerts never sent (the enqueued e-mail was lost) or whose sends all
    failed, last attempt older than ALERT_RETRY_MINUTES (a refusing mail server); and unacknowledged
    urgent alerts whose rule re-notifies and whose last send is older than its delay. An alert whose
    care team had nobody with an e-mail address is not retried (the admin shows it)."""
    now = now or timezone.now()
    done = AlertNotification.objects.filter(
        alert=OuterRef("pk"),
        outcome__in=[AlertNotification.Outcome.SENT, AlertNotification.Outcome.NO_RECIPIENT],
    )
    retry_before = now - timedelta(minutes=settings.ALERT_RETRY_MINUTES)
    unsent = (
        Alert.objects.exclude(status=Alert.Status.RESOLVED)
        .filter(~Exists(done))
        .annotate(last_try=Max("notifications__attempted_at"), tries=Count("notifications"))
        .filter(Q(last_try__lt=retry_before) | Q(tries=0, opened_at__lt=retry_before))
        .values_list("pk", flat=True)
    )
    due = [(pk, False) for pk in unsent]
    for alert in Alert.objects.filter(
        status=Alert.Status.OPEN,
        urgent=True,
        rule__renotify_after_hours__gt=0,
        last_notified_at__isnull=False,
    ).select_related("rule"):
        assert alert.last_notified_at is not None
        if alert.last_notified_at <= now - timedelta(hours=alert.rule.renotify_after_hours):
            due.append((alert.pk, True))
    return due


def alert_acknowledge(*, alert: Alert, user: User, note: str = "") -> Alert:
    if alert.status == Alert.Status.OPEN:
        alert.status = Alert.Status.ACKNOWLEDGED
        alert.acknowledged_by = user
        alert.acknowledged_at = timezone.now()
        alert.acknowledge_note = note.strip()
        alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "acknowledge_note"])
        audit_record(
            actor=user, action=AuditEvent.Action.ALERT_ACKNOWLEDGE, obj=alert, patient_id=alert.patient_id
        )
    return alert


def alert_resolve(*, alert: Alert, user: User, note: str = "") -> Alert:
    if alert.status != Alert.Status.RESOLVED:
        now = timezone.now()
        if alert.acknowledged_at is None:  # resolving implies having seen it
            alert.acknowledged_by, alert.acknowledged_at = user, now
        alert.status = Alert.Status.RESOLVED
        alert.resolved_by = user
        alert.resolved_at = now
        alert.resolve_note = note.strip()
        alert.save()
        audit_record(
            actor=user, action=AuditEvent.Action.ALERT_RESOLVE, obj=alert, patient_id=alert.patient_id
        )
    return alert
