"""Thin Celery tasks on the "default" queue: e-mail and the periodic alert housekeeping."""

from __future__ import annotations

from celery import shared_task

from monitor_site.alerts.services import alert_notify, alerts_check_no_data, alerts_due_for_notification


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def notify_alert(alert_id: int, reminder: bool = False) -> None:
    alert_notify(alert_id=alert_id, reminder=reminder)


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def alerts_housekeeping() -> int:
    """No-data alerts, retries of failed e-mails, reminders for unacknowledged urgent alerts."""
    for alert in alerts_check_no_data():
        notify_alert.delay_on_commit(alert.pk)
    due = alerts_due_for_notification()
    for alert_id, reminder in due:
        alert_notify(alert_id=alert_id, reminder=reminder)
    return len(due)
