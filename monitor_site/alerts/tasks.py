"""Thin Celery tasks on the "default" queue: alert evaluation after scoring, e-mail and the periodic
alert housekeeping; and alerts_notify_enqueue, which the edges that evaluate rules call."""

from __future__ import annotations

from collections.abc import Iterable

from celery import shared_task

from monitor_site.alerts.models import Alert
from monitor_site.alerts.services import (
    alert_notify,
    alerts_check_no_data,
    alerts_close_quiet,
    alerts_due_for_notification,
    alerts_evaluate,
    alerts_evaluate_recent,
)
from monitor_site.celery import enqueue_on_commit


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def evaluate_alerts(patient_ids: list[int]) -> int:
    """The model rules on these patients' latest predictions, then an e-mail per alert opened.
    Enqueued by the scoring and rating tasks once their predictions are committed (never inside the
    claim that scoring holds); alerts_housekeeping catches up if this task is lost."""
    opened = alerts_evaluate(patient_ids=patient_ids)
    alerts_notify_enqueue(alerts=opened)
    return len(opened)


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def notify_alert(alert_id: int, reminder: bool = False) -> None:
    alert_notify(alert_id=alert_id, reminder=reminder)


def alerts_notify_enqueue(*, alerts: Iterable[Alert]) -> None:
    """One e-mail task per alert, queued once the alert is committed: what every edge that evaluates
    alert rules calls next."""
    for alert in alerts:
        enqueue_on_commit(notify_alert, alert.pk, fallback="alerts_housekeeping (every 5 minutes)")


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def alerts_housekeeping() -> int:
    """Alert evaluation missed since the last run, no-data alerts, ended alerts quiet long enough to
    close, retries of failed e-mails, reminders for unacknowledged urgent alerts."""
    alerts_notify_enqueue(alerts=alerts_evaluate_recent())
    alerts_notify_enqueue(alerts=alerts_check_no_data())
    alerts_close_quiet()
    due = alerts_due_for_notification()
    for alert_id, reminder in due:
        alert_notify(alert_id=alert_id, reminder=reminder)
    return len(due)
