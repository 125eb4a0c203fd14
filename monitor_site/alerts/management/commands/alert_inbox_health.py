"""`manage.py alert_inbox_health`: whether the inbox is the list of patients who need someone now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from monitor_site.alerts.selectors import alert_inbox_health


class Command(BaseCommand):
    help = (
        "Open alerts beside the patients above a line and the urgent ones; ended alerts left open past "
        "the quiet period; duplicate open alerts; e-mails sent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        h = alert_inbox_health()
        self.stdout.write(
            f"open alerts {h.open_alerts} (urgent {h.urgent_open}); patients above a line "
            f"{h.patients_above_a_line}; goal: open <= above + urgent = "
            f"{h.patients_above_a_line + h.urgent_open}\n"
            f"ended past the quiet period, still open: {h.ended_past_quiet}; duplicate open alerts: "
            f"{h.duplicates}; e-mails sent: {h.emails_sent}\n"
            f"{'goal met' if h.ok else 'goal NOT met'}"
        )
