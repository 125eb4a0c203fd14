"""Alert notification e-mails and clinician actions; evaluation is in `alerts.evaluation` (re-exported
here, where the edges import it from).

E-mails carry the pseudonymous id, numbers, band, rule and a link; never conversation text, never a
name.
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
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from monitor_site.alerts.evaluation import (
    alerts_check_no_data,
    alerts_close_quiet,
    alerts_evaluate,
    alerts_evaluate_recent,
    alerts_evaluate_self_report,
    model_item9_threshold,
)
from monitor_site.alerts.models import Alert, AlertNotification, EscalationStep
from monitor_site.alerts.selectors import latest_self_report
from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.patients.text import clinician_text

log = logging.getLogger(__name__)

__all__ = [  # evaluation lives in alerts.evaluation; the edges import it from here
    "NoteRequired",
    "alert_acknowledge",
    "alert_notify",
    "alert_resolve",
    "alerts_due_for_notification",
    "alerts_mark_not_sent",
    "alerts_check_no_data",
    "alerts_close_quiet",
    "alerts_evaluate",
    "alerts_evaluate_recent",
    "alerts_evaluate_self_report",
    "model_item9_threshold",
]


def _recipients(alert: Alert) -> list[str]:
    team = alert.patient.care_team
    if team is None:
        return []
    users = get_user_model().objects.filter(care_teams=team, is_active=True).exclude(email="")
    return sorted({u.email for u in users})


def alert_notify(*, alert_id: int, reminder: bool = False) -> AlertNotification | None:
    """E-mail the patient's care team about one alert and record the attempt (sent or failed)."""
    alert = (
        Alert.objects.select_related("rule", "patient__care_team", "prediction").filter(pk=alert_id).first()
    )
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
        "self_report": latest_self_report(patient_id=alert.patient_id),
        "escalation": EscalationStep.current_text(),
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


def alerts_mark_not_sent(*, alerts: Iterable[Alert]) -> None:
    """Record that these alerts get no e-mail: they were opened on seeded demo history (crossings
    months old are history, not news). Nothing retries them; the inbox shows them as usual."""
    AlertNotification.objects.bulk_create(
        AlertNotification(alert=alert, outcome=AlertNotification.Outcome.NOT_SENT) for alert in alerts
    )


def alerts_due_for_notification(*, now: datetime | None = None) -> list[tuple[int, bool]]:
    """(alert id, is reminder) for: alerts never sent (the enqueued e-mail was lost) or whose sends all
    failed, last attempt older than ALERT_RETRY_MINUTES (a refusing mail server); and unacknowledged
    urgent alerts whose rule re-notifies and whose last send is older than its delay. An alert whose
    care team had nobody with an e-mail address is not retried (the admin shows it)."""
    now = now or timezone.now()
    done = AlertNotification.objects.filter(
        alert=OuterRef("pk"),
        outcome__in=[
            AlertNotification.Outcome.SENT,
            AlertNotification.Outcome.NO_RECIPIENT,
            AlertNotification.Outcome.NOT_SENT,
        ],
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


ALERT_NOTE_MAX_CHARS = 2000


def alert_acknowledge(*, alert: Alert, user: User, note: str = "") -> Alert:
    """ValueError (naming the note) for a note that cannot be stored; nothing changes then."""
    note = clinician_text(note, max_chars=ALERT_NOTE_MAX_CHARS)
    if alert.status == Alert.Status.OPEN:
        alert.status = Alert.Status.ACKNOWLEDGED
        alert.acknowledged_by = user
        alert.acknowledged_at = timezone.now()
        alert.acknowledge_note = note.strip()
        alert.history_add(alert.acknowledged_at, f"acknowledged by {user.get_username()}")
        alert.save(
            update_fields=["status", "acknowledged_by", "acknowledged_at", "acknowledge_note", "history"]
        )
        audit_record(
            actor=user, action=AuditEvent.Action.ALERT_ACKNOWLEDGE, obj=alert, patient_id=alert.patient_id
        )
    return alert


class NoteRequired(ValueError):
    """Resolving an urgent alert needs a note saying what was done."""


def alert_resolve(*, alert: Alert, user: User, note: str = "") -> Alert:
    note = clinician_text(note, max_chars=ALERT_NOTE_MAX_CHARS)
    if alert.status != Alert.Status.RESOLVED and alert.urgent and not note:
        raise NoteRequired("note: resolving an urgent alert needs a note saying what was done")
    if alert.status != Alert.Status.RESOLVED:
        now = timezone.now()
        if alert.acknowledged_at is None:  # resolving implies having seen it
            alert.acknowledged_by, alert.acknowledged_at = user, now
        alert.status = Alert.Status.RESOLVED
        alert.resolved_by = user
        alert.resolved_at = now
        alert.resolve_note = note.strip()
        alert.history_add(now, f"resolved by {user.get_username()}")
        alert.save()
        audit_record(
            actor=user, action=AuditEvent.Action.ALERT_RESOLVE, obj=alert, patient_id=alert.patient_id
        )
    return alert
