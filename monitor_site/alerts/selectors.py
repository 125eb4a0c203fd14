"""Reads for alerts: what a clinician may see (their care teams' patients only)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from monitor_site.alerts.models import Alert
from monitor_site.patients.selectors import patient_list_for_user


def alert_list_for_user(*, user: User, resolved: bool = False) -> QuerySet[Alert]:
    """Unresolved (default) or resolved alerts of the user's patients, urgent first, newest first."""
    alerts = Alert.objects.filter(patient__in=patient_list_for_user(user=user))
    alerts = (
        alerts.filter(status=Alert.Status.RESOLVED)
        if resolved
        else alerts.exclude(status=Alert.Status.RESOLVED)
    )
    return alerts.select_related("rule", "patient", "acknowledged_by", "resolved_by").order_by(
        "-urgent", "-opened_at"
    )


def alert_get_for_user(*, user: User, alert_id: int) -> Alert | None:
    return (
        Alert.objects.filter(pk=alert_id, patient__in=patient_list_for_user(user=user))
        .select_related("rule", "patient")
        .first()
    )
