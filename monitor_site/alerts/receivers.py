"""Evaluates alert rules whenever predictions (model rules) or questionnaires (self-report rules) are
stored; each new alert e-mails its care team once the transaction commits."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from monitor_site.alerts.services import alerts_evaluate, alerts_evaluate_self_report
from monitor_site.alerts.tasks import notify_alert
from monitor_site.celery import enqueue_on_commit
from monitor_site.patients.signals import assessments_ingested
from monitor_site.predictions.signals import predictions_stored


@receiver(predictions_stored, dispatch_uid="alerts_on_predictions_stored")
def evaluate_alerts(sender: Any, *, patient_ids: list[int], **kwargs: Any) -> None:
    for alert in alerts_evaluate(patient_ids=patient_ids):
        enqueue_on_commit(notify_alert, alert.pk, fallback="alerts_housekeeping (every 5 minutes)")


@receiver(assessments_ingested, dispatch_uid="alerts_on_assessments_ingested")
def evaluate_self_report_alerts(sender: Any, *, patient_ids: list[int], **kwargs: Any) -> None:
    for alert in alerts_evaluate_self_report(patient_ids=patient_ids):
        enqueue_on_commit(notify_alert, alert.pk, fallback="alerts_housekeeping (every 5 minutes)")
