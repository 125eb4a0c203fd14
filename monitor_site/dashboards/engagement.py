"""A patient's engagement: sessions and user turns per calendar week (the patient page's bar chart)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncWeek
from django.utils import timezone

from monitor_site.patients.models import ConversationSession, Message, Patient


@dataclass(frozen=True)
class EngagementWeek:
    week: datetime
    sessions: int
    user_turns: int


def engagement_by_week(*, patient: Patient, until: datetime | None = None) -> list[EngagementWeek]:
    """Sessions and user turns per calendar week (Monday start), oldest first, from the patient's first
    session to the week of `until` (default now). Weeks without a session are there as zero: a patient
    who stops talking is a signal, not a gap to skip."""
    sessions = dict(
        ConversationSession.objects.filter(patient=patient)
        .annotate(week=TruncWeek("ended_at"))
        .values("week")
        .annotate(n=Count("pk"))
        .values_list("week", "n")
    )
    if not sessions:
        return []
    turns = dict(
        Message.objects.filter(session__patient=patient, role="user")
        .annotate(week=TruncWeek("session__ended_at"))
        .values("week")
        .annotate(n=Count("pk"))
        .values_list("week", "n")
    )
    first = min(sessions)
    last = max(max(sessions), _week_start(until or timezone.now(), like=first))
    weeks, week = [], first
    while week <= last:
        weeks.append(EngagementWeek(week, sessions.get(week, 0), turns.get(week, 0)))
        week += timedelta(weeks=1)
    return weeks


def _week_start(moment: datetime, *, like: datetime) -> datetime:
    """Monday 00:00 of `moment`'s week, in the time zone TruncWeek gave `like`."""
    local = moment.astimezone(like.tzinfo) if like.tzinfo else moment
    return (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
