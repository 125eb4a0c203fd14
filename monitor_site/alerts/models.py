"""Alert rules (editable in the admin), the alerts they raise, and every notification sent.

An alert belongs to an *episode*: it opens when its rule's condition has held for `consecutive`
predictions in a row and the episode ends when the condition has failed for as many in a row. While
an episode lasts, the rule raises nothing more for that patient (no storms, no flapping at a line).
Clinicians acknowledge and resolve alerts independently of the episode.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from monitor_site.patients.models import Patient
from monitor_site.predictions.models import Prediction
from scoring.phq9 import ITEM_SELF_HARM, band_by_key


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "Total crosses a threshold upward"
        DETERIORATION = "deterioration", "Reliable deterioration above baseline"
        SELF_HARM = "self_harm", "Item 9 (thoughts of self-harm) flagged"
        NO_DATA = "no_data", "No session for a number of days"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    threshold = models.FloatField(
        default=10,
        help_text="threshold: the PHQ-9 total (e.g. 10); deterioration: points above baseline (6); "
        "self_harm: the model-inferred item 9 value (0.5 = rounds to 1, 'several days'); no_data: unused.",
    )
    consecutive = models.PositiveSmallIntegerField(
        default=2,
        help_text="Predictions in a row that must meet (or fail) the condition to open (or end) an "
        "episode: hysteresis, so a score hovering at a line does not flap.",
    )
    days = models.PositiveSmallIntegerField(default=7, help_text="no_data: days without a session.")
    urgent = models.BooleanField(default=False, help_text="Urgent alerts list first and re-notify.")
    renotify_after_hours = models.PositiveIntegerField(
        default=0, help_text="Re-send while unacknowledged, every this many hours (0 = never)."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "threshold"]

    def __str__(self) -> str:
        return self.name

    def is_met(self, prediction: Prediction, *, baseline: float | None) -> bool:
        """Whether one prediction meets the condition (not used for no_data, which has no prediction)."""
        if self.kind == self.Kind.THRESHOLD:
            return prediction.total >= self.threshold
        if self.kind == self.Kind.DETERIORATION:
            return baseline is not None and prediction.total - baseline >= self.threshold
        if self.kind == self.Kind.SELF_HARM:
            return float(prediction.items[ITEM_SELF_HARM]) >= self.threshold
        return False


class Alert(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="alerts")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="alerts")
    prediction = models.ForeignKey(
        Prediction, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    urgent = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # What the e-mail and the inbox show: numbers only, never conversation text.
    total = models.FloatField(null=True, blank=True, help_text="Model-inferred total that triggered it.")
    band = models.CharField(max_length=32, blank=True)
    self_harm_item = models.FloatField(null=True, blank=True)
    baseline = models.FloatField(null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    episode_ended_at = models.DateTimeField(
        null=True, blank=True, help_text="When the condition stopped holding; empty while it lasts."
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledge_note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolve_note = models.TextField(blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The episode guard: concurrent evaluations of the same patient cannot open two alerts.
            models.UniqueConstraint(
                fields=["rule", "patient"],
                condition=models.Q(episode_ended_at__isnull=True),
                name="alert_one_open_episode_per_rule",
            )
        ]
        indexes = [models.Index(fields=["patient", "status"]), models.Index(fields=["status", "urgent"])]
        ordering = ["-urgent", "-opened_at"]

    def __str__(self) -> str:
        return f"{self.rule.name} – {self.patient.external_id} ({self.status})"

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.RESOLVED

    def summary(self) -> str:
        """One line for inboxes and e-mails: numbers, band and rule only."""
        if self.rule.kind == AlertRule.Kind.NO_DATA:
            return f"no session for {self.rule.days} days"
        parts = [f"model-inferred PHQ-9 {self.total:.1f}" if self.total is not None else ""]
        if self.band:
            parts.append(f"({band_by_key(self.band).label.lower()})")
        if self.rule.kind == AlertRule.Kind.SELF_HARM and self.self_harm_item is not None:
            parts.append(f"· item 9 = {self.self_harm_item:.1f} of 3")
        if self.rule.kind == AlertRule.Kind.DETERIORATION and self.baseline is not None:
            parts.append(f"· baseline {self.baseline:.1f}")
        return " ".join(p for p in parts if p)


class AlertNotification(models.Model):
    """One e-mail attempt for an alert: every send is recorded, failures included (they are retried)."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (will retry)"
        NO_RECIPIENT = "no_recipient", "Nobody to send to"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    attempted_at = models.DateTimeField(default=timezone.now)
    recipients = models.JSONField(default=list)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    is_reminder = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True, help_text="The mail server's reply; no content.")

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"{self.outcome} {self.attempted_at:%Y-%m-%d %H:%M}"
