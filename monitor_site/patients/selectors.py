"""Reads for patients: the 14-day windows scoring and training use, and what a clinician may see."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import QuerySet

from monitor_site.patients.models import Assessment, CareTeam, ConversationSession, Message, Patient
from scoring.types import Conversation, LabeledWindow, Turn, Window

WINDOW = timedelta(days=14)  # PHQ-9 asks about "the last 2 weeks"


def windows_for(requests: list[tuple[int, datetime, str]]) -> list[Window]:
    """Windows [end - 14 days, end] for (patient id, end, window id) requests, in one query.

    Turns are grouped by session in conversation order; a session only partly inside the window
    contributes the messages that are.
    """
    if not requests:
        return []
    patient_ids = {p for p, _, _ in requests}
    earliest = min(end for _, end, _ in requests) - WINDOW
    latest = max(end for _, end, _ in requests)
    rows = (
        Message.objects.filter(
            session__patient_id__in=patient_ids, sent_at__gte=earliest, sent_at__lte=latest
        )
        .order_by("session__patient_id", "sent_at", "session_id", "position")
        .values_list("session__patient_id", "session__external_id", "role", "text", "sent_at")
    )
    by_patient: dict[int, list[tuple]] = defaultdict(list)
    for patient_id, session_ext, role, text, sent_at in rows.iterator(chunk_size=5000):
        by_patient[patient_id].append((sent_at, session_ext, role, text))
    windows = []
    for patient_id, end, window_id in requests:
        messages = by_patient.get(patient_id, [])
        times = [m[0] for m in messages]
        lo, hi = bisect.bisect_left(times, end - WINDOW), bisect.bisect_right(times, end)
        sessions: dict[str, list[Turn]] = {}
        for sent_at, session_ext, role, text in messages[lo:hi]:
            sessions.setdefault(session_ext, []).append(Turn(role=role, text=text, sent_at=sent_at))
        windows.append(
            Window(
                id=window_id,
                conversations=tuple(Conversation(id=k, turns=tuple(v)) for k, v in sessions.items()),
                start=end - WINDOW,
                end=end,
            )
        )
    return windows


def labeled_windows_from_assessments(
    *, assessments: Iterable[Assessment] | None = None
) -> list[LabeledWindow]:
    """Each ground-truth questionnaire paired with the patient's messages in the 14 days before it.

    Questionnaires with no message in their window carry no signal and are left out.
    """
    rows = list(
        assessments
        if assessments is not None
        else Assessment.objects.select_related("patient").order_by("patient_id", "completed_at")
    )
    windows = windows_for([(a.patient_id, a.completed_at, f"assessment-{a.pk}") for a in rows])
    return [
        LabeledWindow(
            window=w,
            total=float(a.total),
            items=tuple(float(v) for v in a.items),
            group=f"patient-{a.patient_id}",
            source="ground_truth",
            # Whether Claude may see it (to validate its labels against the questionnaire), and what the
            # app knows to redact.
            meta={
                "consent_external": a.patient.consent_external_processing,
                "names": [a.patient.external_id],
            },
        )
        for a, w in zip(rows, windows, strict=True)
        if w.conversations
    ]


def patient_list_for_user(*, user: User) -> QuerySet[Patient]:
    """Patients of the user's care teams only; nobody sees a patient outside their teams."""
    # A subquery, not a join on the membership table: no duplicate rows, so no DISTINCT over the wide,
    # annotated rows of the triage list (that DISTINCT cost ~250 ms at 5,000 patients).
    return Patient.objects.filter(care_team__in=CareTeam.objects.filter(members=user).values("pk"))


def patient_get_for_user(*, user: User, patient_id: int) -> Patient | None:
    return patient_list_for_user(user=user).select_related("care_team").filter(pk=patient_id).first()


def unlabeled_window_requests(*, since: datetime, limit: int) -> list[tuple[int, datetime, bool]]:
    """(patient id, window end, consent) for windows with no questionnaire: per patient, windows ending
    at a session, at least 14 days apart and at least 14 days from any questionnaire (so they never
    overlap ground truth), newest first across the clinic, at most `limit`."""
    assessments: dict[int, list[datetime]] = defaultdict(list)
    for patient_id, completed_at in Assessment.objects.values_list("patient_id", "completed_at"):
        assessments[patient_id].append(completed_at)
    sessions = (
        ConversationSession.objects.filter(ended_at__gte=since)
        .order_by("patient_id", "-ended_at")
        .values_list("patient_id", "ended_at", "patient__consent_external_processing")
    )
    picked: list[tuple[int, datetime, bool]] = []
    last: dict[int, datetime] = {}
    for patient_id, end, consent in sessions.iterator(chunk_size=5000):
        if patient_id in last and last[patient_id] - end < WINDOW:
            continue
        if any(abs(end - t) < WINDOW for t in assessments.get(patient_id, ())):
            continue
        last[patient_id] = end
        picked.append((patient_id, end, consent))
    picked.sort(key=lambda r: r[1], reverse=True)
    return picked[:limit]
