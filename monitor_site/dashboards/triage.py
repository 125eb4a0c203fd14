"""Reads behind the triage list: the caseload overview on top and the filtered, sorted rows below.

Both read each patient's TrajectorySummary (kept current by scoring), so their cost does not grow with
the length of anyone's history; alert counts and last-session/questionnaire times are correlated
subqueries on indexed columns. Lines are compared with `scoring.phq9.lowest_reaching`, so a database
filter and the page's labels follow the one rounding rule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitor_site.alerts.models import Alert
from monitor_site.patients.models import Assessment, ConversationSession, Patient
from scoring.phq9 import BANDS, RELIABLE_CHANGE, lowest_reaching

SORTS: dict[str, tuple[str, list[Any]]] = {
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
CHANGE_FILTERS = {
    "worsening": "Reliably worse since baseline",
    "improving": "Reliably better since baseline",
    "stable": "No reliable change",
}


def _change_q(kind: str) -> Q:
    """Patients whose model-inferred change since baseline is `kind` (scoring.phq9.reliable_change)."""
    line = lowest_reaching(RELIABLE_CHANGE)
    change = "summary__change_since_baseline"
    if kind == "worsening":
        return Q(**{f"{change}__gte": line})
    if kind == "improving":
        return Q(**{f"{change}__lte": -line})
    return Q(**{f"{change}__gt": -line, f"{change}__lt": line})


def _overdue_since() -> Any:
    return timezone.now() - timedelta(days=settings.CASELOAD_OVERDUE_DAYS)


def _recent_session() -> Exists:
    return Exists(ConversationSession.objects.filter(patient=OuterRef("pk"), ended_at__gte=_overdue_since()))


def _urgent_open() -> Exists:
    return Exists(
        Alert.objects.filter(patient=OuterRef("pk"), urgent=True).exclude(status=Alert.Status.RESOLVED)
    )


# The overview is the same for every page, filter and sort of one scope, and its query visits every patient
# in scope (~30-50 ms at 5,000): kept this long per clinician and scope. The rows below it (urgent first)
# are always read live; only the counts on top may be this many seconds old.
OVERVIEW_CACHE_SECONDS = 20


def caseload_overview(patients: QuerySet[Patient], *, cache_key: str = "") -> dict[str, Any]:
    """One aggregate query over the patients in scope: how many per band (and not scored yet), how many
    reliably worse, better or unchanged since baseline, overdue (no session for CASELOAD_OVERDUE_DAYS)
    and with an open urgent alert. All model-inferred except the alert counts' self-report rules.
    `cache_key` names the scope (clinician and filters of scope): the counts are then kept for
    OVERVIEW_CACHE_SECONDS."""
    key = f"caseload-overview:{cache_key}" if cache_key else ""
    counts = cache.get(key) if key else None
    if counts is None:
        counts = _overview_counts(patients)
        if key:
            cache.set(key, counts, OVERVIEW_CACHE_SECONDS)
    return {
        "total": counts["total"],
        "unscored": counts["unscored"],
        "overdue": counts["overdue"],
        "overdue_days": settings.CASELOAD_OVERDUE_DAYS,
        "urgent": counts["urgent"],
        "bands": [(b, counts[f"band_{b.key}"]) for b in BANDS],
        "changes": [(k, label, counts[f"change_{k}"]) for k, label in CHANGE_FILTERS.items()],
    }


def _overview_counts(patients: QuerySet[Patient]) -> dict[str, int]:
    return patients.annotate(recent=_recent_session(), urgent_open=_urgent_open()).aggregate(
        total=Count("pk"),
        unscored=Count("pk", filter=Q(summary__isnull=True) | Q(summary__latest_total__isnull=True)),
        overdue=Count("pk", filter=Q(recent=False)),
        urgent=Count("pk", filter=Q(urgent_open=True)),
        **{f"band_{b.key}": Count("pk", filter=Q(summary__latest_band=b.key)) for b in BANDS},
        **{f"change_{k}": Count("pk", filter=_change_q(k)) for k in CHANGE_FILTERS},
    )


def _count(queryset: QuerySet) -> Coalesce:
    return Coalesce(
        Subquery(queryset.order_by().values("patient").annotate(n=Count("pk")).values("n")[:1]),
        Value(0),
        output_field=IntegerField(),
    )


def patients_for_triage(
    patients: QuerySet[Patient],
    *,
    query: str = "",
    band: str = "",
    alert: str = "",
    change: str = "",
    overdue: bool = False,
    sort: str = "urgency",
) -> QuerySet[Patient]:
    unresolved = Alert.objects.filter(patient=OuterRef("pk")).exclude(status=Alert.Status.RESOLVED)
    last_session = ConversationSession.objects.filter(patient=OuterRef("pk")).order_by("-ended_at")
    last_assessment = Assessment.objects.filter(patient=OuterRef("pk")).order_by("-completed_at")
    rows = (
        # Not the latest prediction: joining 5,000 rows to the prediction table before the sort cost ~85 ms
        # (random reads); the page's 50 intervals are read afterwards (predictions.selectors).
        patients.select_related("summary", "care_team", "named_clinician").annotate(
            open_alerts=_count(unresolved),
            urgent_alerts=_count(unresolved.filter(urgent=True)),
            last_session_at=Subquery(last_session.values("ended_at")[:1]),
            last_assessment_at=Subquery(last_assessment.values("completed_at")[:1]),
            last_assessment_total=Subquery(last_assessment.values("total")[:1]),
        )
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
    if change in CHANGE_FILTERS:
        rows = rows.filter(_change_q(change))
    if overdue:
        rows = rows.filter(~_recent_session())
    ordering = SORTS.get(sort, SORTS["urgency"])[1]
    return rows.order_by(*ordering, "pk")
