"""Reads behind the clinician pages that span apps: the triage list and a patient's engagement.

The triage list reads each patient's TrajectorySummary (kept current by scoring), so its cost does
not grow with the length of anyone's history; alert counts and last-session/questionnaire times are
correlated subqueries on indexed columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, TruncWeek

from monitor_site.alerts.models import Alert
from monitor_site.patients.models import Assessment, ConversationSession, Message, Patient

SORTS = {
    # key: (label, ordering); None sorts last whatever the direction.
    "urgency": (
        "Urgency",
        ["-urgent_alerts", "-open_alerts", F("summary__latest_total").desc(nulls_last=True)],
    ),
    "score": ("Latest score", [F("summary__latest_total").desc(nulls_last=True)]),
    "change": ("Change since baseline", [F("summary__change_since_baseline").desc(nulls_last=True)]),
    "last_session": ("Last session", [F("last_session_at").desc(nulls_last=True)]),
    "patient": ("Patient id", ["external_id"]),
}
ALERT_FILTERS = {"any": "With open alerts", "urgent": "With urgent alerts", "none": "Without alerts"}


def _count(queryset: QuerySet) -> Subquery:
    return Coalesce(
        Subquery(queryset.order_by().values("patient").annotate(n=Count("pk")).values("n")[:1]),
        Value(0),
        output_field=IntegerField(),
    )


def patients_for_triage(
    patients: QuerySet[Patient], *, query: str = "", band: str = "", alert: str = "", sort: str = "urgency"
) -> QuerySet[Patient]:
    unresolved = Alert.objects.filter(patient=OuterRef("pk")).exclude(status=Alert.Status.RESOLVED)
    last_session = ConversationSession.objects.filter(patient=OuterRef("pk")).order_by("-ended_at")
    last_assessment = Assessment.objects.filter(patient=OuterRef("pk")).order_by("-completed_at")
    rows = patients.select_related("summary", "care_team").annotate(
        open_alerts=_count(unresolved),
        urgent_alerts=_count(unresolved.filter(urgent=True)),
        last_session_at=Subquery(last_session.values("ended_at")[:1]),
        last_assessment_at=Subquery(last_assessment.values("completed_at")[:1]),
        last_assessment_total=Subquery(last_assessment.values("total")[:1]),
    )
    if query:
        rows = rows.filter(external_id__icontains=query)
    if band == "unscored":
        rows = rows.filter(Q(summary__isnull=True) | Q(summary__latest_total__isnull=True))
    elif band:
        rows = rows.filter(summary__latest_band=band)
    if alert == "any":
        rows = rows.filter(open_alerts__gt=0)
    elif alert == "urgent":
        rows = rows.filter(urgent_alerts__gt=0)
    elif alert == "none":
        rows = rows.filter(open_alerts=0)
    ordering = SORTS.get(sort, SORTS["urgency"])[1]
    return rows.order_by(*ordering, "pk")


@dataclass(frozen=True)
class EngagementWeek:
    week: datetime
    sessions: int
    user_turns: int


def engagement_by_week(*, patient: Patient) -> list[EngagementWeek]:
    """Sessions and user turns per calendar week (Monday start), oldest first; weeks with none omitted."""
    sessions = dict(
        ConversationSession.objects.filter(patient=patient)
        .annotate(week=TruncWeek("ended_at"))
        .values("week")
        .annotate(n=Count("pk"))
        .values_list("week", "n")
    )
    turns = dict(
        Message.objects.filter(session__patient=patient, role="user")
        .annotate(week=TruncWeek("session__ended_at"))
        .values("week")
        .annotate(n=Count("pk"))
        .values_list("week", "n")
    )
    return [EngagementWeek(w, sessions[w], turns.get(w, 0)) for w in sorted(sessions)]
