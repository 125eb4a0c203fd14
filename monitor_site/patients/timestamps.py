"""The one range every stored time must lie in: sessions, their messages and questionnaires.

From INGEST_EARLIEST_DATE (default 2000-01-01: before it, a date is a sender's bug such as year 0001 or
1900, and a window `end - 14 days` near datetime.min cannot even be computed) to now plus
FUTURE_TOLERANCE (clock skew between the sending app and us). The API's serializers and the ingest
services ask the same function, so every writer is held to it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

FUTURE_TOLERANCE = timedelta(minutes=10)  # clock skew between the app and us


def earliest_accepted() -> datetime:
    return datetime.combine(settings.INGEST_EARLIEST_DATE, time.min, tzinfo=UTC)


def timestamp_problem(value: datetime) -> str | None:
    """Why `value` cannot be stored, or None when it lies in the accepted range."""
    if value < earliest_accepted():
        return (
            f"Lies before {settings.INGEST_EARLIEST_DATE:%Y-%m-%d}, the earliest date accepted "
            "(INGEST_EARLIEST_DATE); check the sending system's clock or date format."
        )
    if value > timezone.now() + FUTURE_TOLERANCE:
        return "Lies in the future."
    return None
