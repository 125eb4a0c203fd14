"""Reads for alerts: what a clinician may see (their care teams' patients only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from monitor_site.alerts.models import Alert, AlertNotification, AlertRule
from monitor_site.patients.models import Assessment
from monitor_site.patients.selectors import patient_list_for_user
from scoring.phq9 import BAND_KEYS, CASENESS, ITEM_SELF_HARM, lowest_reaching

# Who needs someone now, in order: urgent (item 9 and any rule marked urgent, whatever the source),
# then the patients' own questionnaires, then the model's crossings; within each, the most severe
# first (the band of the alert's total), then the newest crossing.
INBOX_ORDER = ("-urgent", "-self_report_rank", "-severity", F("crossed_at").desc(nulls_last=True), "-pk")


def alerts_in_inbox_order(alerts: QuerySet[Alert]) -> QuerySet[Alert]:
    """`alerts` in the inbox's order (INBOX_ORDER): the inbox, the grouped inbox and the patient page."""
    severity = Case(
        *(When(band=key, then=Value(rank)) for rank, key in enumerate(BAND_KEYS)),
        default=Value(-1),
        output_field=IntegerField(),
    )
    self_report = Case(
        When(rule__source=AlertRule.Source.SELF_REPORT, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return alerts.annotate(severity=severity, self_report_rank=self_report).order_by(*INBOX_ORDER)


def _team_has_an_address() -> Exists:
    """Someone active on the alert's care team has an e-mail address now (one added since counts)."""
    members = get_user_model().objects.filter(care_teams=OuterRef("patient__care_team"), is_active=True)
    return Exists(members.exclude(email=""))


def alert_list_for_user(
    *,
    user: User,
    resolved: bool = False,
    patient_id: int | None = None,
    rule_id: int | None = None,
    team_id: int | None = None,
) -> QuerySet[Alert]:
    """Unresolved (default) or resolved alerts of the user's patients in the inbox's order
    (`alerts_in_inbox_order`); optionally of one patient, one rule or one care team."""
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
    # Nobody to send to: the care team had no one with an e-mail address, nothing was sent since, and
    # still nobody has one.
    tried = AlertNotification.objects.filter(alert=OuterRef("pk"))
    alerts = alerts.select_related("rule", "patient", "acknowledged_by", "resolved_by").annotate(
        undelivered=Exists(tried.filter(outcome=AlertNotification.Outcome.NO_RECIPIENT))
        & ~Exists(tried.filter(outcome=AlertNotification.Outcome.SENT))
        & ~_team_has_an_address()
    )
    return alerts_in_inbox_order(alerts)


@dataclass
class PatientAlerts:
    """One row of the inbox grouped by patient: the patient and their alerts, in the inbox's order."""

    patient_id: int
    external_id: str
    alerts: list[Alert]

    @property
    def urgent(self) -> int:
        return sum(a.urgent for a in self.alerts)


def alert_patient_order(alerts: QuerySet[Alert]) -> QuerySet:
    """The patients of these alerts (from `alerts_in_inbox_order`), one row each (patient id), in the
    order of their first alert: urgent, then self-report, then the most severe, then the newest
    crossing. What the grouped inbox pages over."""
    return (
        alerts.order_by()
        .values("patient_id")
        .annotate(
            n_urgent=Count("pk", filter=Q(urgent=True)),
            self_reported=Max("self_report_rank", filter=Q(urgent=False)),
            top=Max("severity"),
            newest=Max("crossed_at"),
        )
        .order_by(
            "-n_urgent",
            F("self_reported").desc(nulls_last=True),
            "-top",
            F("newest").desc(nulls_last=True),
            "patient_id",
        )
    )


def alerts_grouped(alerts: QuerySet[Alert], *, patient_ids: list[int]) -> list[PatientAlerts]:
    """These patients' alerts among `alerts`, one group per patient, in the order of `patient_ids`."""
    groups = {pk: PatientAlerts(pk, "", []) for pk in patient_ids}
    for alert in alerts.filter(patient_id__in=patient_ids):
        group = groups[alert.patient_id]
        group.external_id = alert.patient.external_id
        group.alerts.append(alert)
    return [groups[pk] for pk in patient_ids]


def alerts_reaching_nobody(alerts: QuerySet[Alert]) -> QuerySet[Alert]:
    """Those of `alerts` that reached nobody and still reach nobody: no one on the care team had an
    e-mail address when it was sent, nothing was sent since, and nobody has one now."""
    tried = AlertNotification.objects.filter(alert=OuterRef("pk"))
    return (
        alerts.filter(Exists(tried.filter(outcome=AlertNotification.Outcome.NO_RECIPIENT)))
        .exclude(Exists(tried.filter(outcome=AlertNotification.Outcome.SENT)))
        .exclude(_team_has_an_address())
    )


def alerts_undelivered_count() -> int:
    """Unresolved alerts that still reach nobody (`alerts_reaching_nobody`): the admin index shows the
    number, with a link to them."""
    return alerts_reaching_nobody(Alert.objects.exclude(status=Alert.Status.RESOLVED)).count()


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


@dataclass(frozen=True)
class InboxHealth:
    """Whether the inbox is the list of patients who need someone now (`manage.py alert_inbox_health`)."""

    open_alerts: int  # unresolved
    urgent_open: int
    patients_above_a_line: int  # latest model-inferred total or latest questionnaire at or above 10
    ended_past_quiet: int  # unresolved, not acknowledged, condition ended more than the quiet period ago
    duplicates: int  # unresolved alerts beyond the first for one patient and rule (or ladder of lines)
    emails_sent: int

    @property
    def ok(self) -> bool:
        within = self.open_alerts <= self.patients_above_a_line + self.urgent_open
        return within and self.ended_past_quiet == 0 and self.duplicates == 0


def alert_inbox_health(*, now: datetime | None = None) -> InboxHealth:
    from django.conf import settings
    from django.utils import timezone

    from monitor_site.patients.models import Patient

    now = now or timezone.now()
    unresolved = Alert.objects.exclude(status=Alert.Status.RESOLVED)
    line = lowest_reaching(CASENESS)
    latest_answer = Assessment.objects.filter(patient=OuterRef("pk")).order_by("-completed_at")
    above = Patient.objects.annotate(answer=Subquery(latest_answer.values("total")[:1])).filter(
        Q(summary__latest_total__gte=line) | Q(answer__gte=CASENESS)
    )
    quiet = settings.ALERT_CLOSE_AFTER_QUIET_DAYS
    ended = unresolved.filter(status=Alert.Status.OPEN, urgent=False)
    ended = ended.exclude(rule__kind=AlertRule.Kind.SELF_HARM)
    keys = unresolved.values("patient_id", "episode_key").annotate(n=Count("pk")).filter(n__gt=1)
    return InboxHealth(
        open_alerts=unresolved.count(),
        urgent_open=unresolved.filter(urgent=True).count(),
        patients_above_a_line=above.count(),
        ended_past_quiet=(
            ended.filter(episode_ended_at__lte=now - timedelta(days=quiet)).count() if quiet > 0 else 0
        ),
        duplicates=sum(row["n"] - 1 for row in keys),
        emails_sent=AlertNotification.objects.filter(outcome=AlertNotification.Outcome.SENT).count(),
    )
