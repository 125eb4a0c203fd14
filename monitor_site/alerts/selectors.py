"""Reads for alerts: what a clinician may see (their care teams' patients only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import QuerySet

from monitor_site.alerts.models import Alert
from monitor_site.patients.models import Assessment
from monitor_site.patients.selectors import patient_list_for_user
from scoring.phq9 import ITEM_SELF_HARM


def alert_list_for_user(
    *,
    user: User,
    resolved: bool = False,
    patient_id: int | None = None,
    rule_id: int | None = None,
    team_id: int | None = None,
) -> QuerySet[Alert]:
    """Unresolved (default) or resolved alerts of the user's patients, urgent first, newest first;
    optionally of one patient, one rule or one care team."""
    alerts = Alert.objects.filter(patient__in=patient_list_for_user(user=user))
    if patient_id is not None:
        alerts = alerts.filter(patient_id=patient_id)
    if rule_id is not None:
        alerts = alerts.filter(rule_id=rule_id)
    if team_id is not None:
        alerts = alerts.filter(patient__care_team_id=team_id)
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


@dataclass(frozen=True)
class SelfReport:
    """The patient's latest questionnaire, shown beside every model item-9 flag."""

    total: int
    item9: int
    completed_at: datetime


def latest_self_report(*, patient_id: int) -> SelfReport | None:
    latest = Assessment.objects.filter(patient_id=patient_id).order_by("-completed_at").first()
    if latest is None:
        return None
    return SelfReport(
        total=latest.total, item9=int(latest.items[ITEM_SELF_HARM]), completed_at=latest.completed_at
    )


def latest_self_reports(*, patient_ids: list[int]) -> dict[int, SelfReport]:
    """patient id -> their latest questionnaire, in one query (shown beside model item-9 flags)."""
    out: dict[int, SelfReport] = {}
    rows = (
        Assessment.objects.filter(patient_id__in=patient_ids)
        .order_by("patient_id", "-completed_at")
        .values_list("patient_id", "total", "items", "completed_at")
    )
    for patient_id, total, items, completed_at in rows:
        if patient_id not in out:
            item9 = int(items[ITEM_SELF_HARM])
            out[patient_id] = SelfReport(total=total, item9=item9, completed_at=completed_at)
    return out
