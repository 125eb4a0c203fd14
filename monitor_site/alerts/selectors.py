"""Reads for alerts: what a clinician may see (their care teams' patients only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet

from monitor_site.alerts.models import Alert, AlertNotification, AlertRule
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
    # Nobody to send to: the care team had no one with an e-mail address, and nothing was sent since.
    tried = AlertNotification.objects.filter(alert=OuterRef("pk"))
    return (
        alerts.select_related("rule", "patient", "acknowledged_by", "resolved_by")
        .annotate(
            undelivered=Exists(tried.filter(outcome=AlertNotification.Outcome.NO_RECIPIENT))
            & ~Exists(tried.filter(outcome=AlertNotification.Outcome.SENT))
        )
        .order_by("-urgent", "-opened_at")
    )


@dataclass
class PatientAlerts:
    """One row of the inbox grouped by patient: the patient and their alerts, urgent first."""

    patient_id: int
    external_id: str
    alerts: list[Alert]

    @property
    def urgent(self) -> int:
        return sum(a.urgent for a in self.alerts)


def alert_patient_order(alerts: QuerySet[Alert]) -> QuerySet:
    """The patients of these alerts, one row each (patient id), those with urgent alerts first, then
    by their newest alert: what the grouped inbox pages over."""
    return (
        alerts.order_by()
        .values("patient_id")
        .annotate(n_urgent=Count("pk", filter=Q(urgent=True)), newest=Max("opened_at"))
        .order_by("-n_urgent", "-newest", "patient_id")
    )


def alerts_grouped(alerts: QuerySet[Alert], *, patient_ids: list[int]) -> list[PatientAlerts]:
    """These patients' alerts among `alerts`, one group per patient, in the order of `patient_ids`."""
    groups = {pk: PatientAlerts(pk, "", []) for pk in patient_ids}
    for alert in alerts.filter(patient_id__in=patient_ids):
        group = groups[alert.patient_id]
        group.external_id = alert.patient.external_id
        group.alerts.append(alert)
    return [groups[pk] for pk in patient_ids]


def alerts_undelivered_count() -> int:
    """Unresolved alerts that reached nobody (no one on the care team has an e-mail address): the admin
    index shows the number, with a link to them."""
    tried = AlertNotification.objects.filter(alert=OuterRef("pk"))
    return (
        Alert.objects.exclude(status=Alert.Status.RESOLVED)
        .filter(Exists(tried.filter(outcome=AlertNotification.Outcome.NO_RECIPIENT)))
        .exclude(Exists(tried.filter(outcome=AlertNotification.Outcome.SENT)))
        .count()
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


def item9_rule_in_force() -> AlertRule | None:
    """The active item-9 rule on predictions (kind self_harm, source model), the most sensitive when
    there are several; None: the rule is switched off and no model or risk-language flag opens an alert."""
    return (
        AlertRule.objects.filter(kind=AlertRule.Kind.SELF_HARM, source=AlertRule.Source.MODEL, is_active=True)
        .order_by("threshold", "pk")
        .first()
    )
