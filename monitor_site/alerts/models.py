"""Alert rules (editable in the admin), the alerts they raise, and every notification sent.

An alert belongs to an *episode*: it opens when its rule's condition has held for `consecutive`
predictions in a row and the episode ends when the condition has failed for as many in a row. While
an episode lasts, the rule raises nothing more for that patient (no storms, no flapping at a line).
The non-urgent threshold rules of one source are one ladder (`AlertRule.episode_key`): one alert at the
highest line crossed, which steps down to a lower line and says so. Clinicians acknowledge and resolve
alerts; an ended episode nobody took up closes itself after ALERT_CLOSE_AFTER_QUIET_DAYS (never an
urgent or item-9 one). Each alert keeps its `history`, one line per change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from monitor_site.alerts.rule_names import rule_name_problem, rule_suggested_name
from monitor_site.patients.models import Assessment, Patient
from monitor_site.predictions.models import Prediction
from scoring.phq9 import (
    CASENESS,
    ITEM_SELF_HARM,
    RELIABLE_CHANGE,
    SELF_HARM_FLAG,
    band_by_key,
    reaches,
    shown,
)


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "Total crosses a threshold upward"
        DETERIORATION = "deterioration", "Reliable deterioration above baseline"
        SELF_HARM = "self_harm", "Item 9 (thoughts of self-harm) flagged"
        NO_DATA = "no_data", "No session for a number of days"

    class Source(models.TextChoices):
        MODEL = "model", "Model-inferred (predictions)"
        SELF_REPORT = "self_report", "Self-report (questionnaires)"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(
        max_length=16,
        choices=Source.choices,
        default=Source.MODEL,
        help_text="What the rule reads: the model's scores of the patient's conversations, or the patient's "
        "own questionnaires (one questionnaire is enough: it is the patient's answer, so 'scores in a row' "
        "does not apply).",
    )
    threshold = models.FloatField(
        default=CASENESS,
        help_text=f"The line. A PHQ-9 line: the total (e.g. {CASENESS}). A deterioration: points above "
        f"the baseline ({RELIABLE_CHANGE} is reliable change). Item 9: the model's item-9 score "
        f"({SELF_HARM_FLAG} rounds to 1, 'several days'). The no-data rule does not use it.",
    )
    consecutive = models.PositiveSmallIntegerField(
        default=2,
        help_text="Scores in a row that must be over the line to open an alert (and back under it to end "
        "one), so a score hovering at a line does not open and close alerts over and over.",
    )
    days = models.PositiveSmallIntegerField(default=7, help_text="No-data rule: days without a session.")

    class Crossing(models.TextChoices):
        POINT = "point", "The point estimate reaches the line"
        CONFIDENT = "confident", "The interval's lower bound reaches the line (confident)"

    crossing = models.CharField(
        max_length=16,
        choices=Crossing.choices,
        default=Crossing.POINT,
        help_text="Lines and deterioration on model scores: what must reach the line, the score or the "
        "low end of its interval. The interval opens fewer alerts and misses more crossings the patients' "
        "questionnaires show (README: the measured trade-off). Questionnaires have no interval.",
    )
    use_model_threshold = models.BooleanField(
        default=False,
        help_text="Item-9 rule on model scores: use the item-9 line the active model's card recommends "
        "(chosen on validation patients to find 9 in 10 windows with a self-reported item 9 of 1 or more). "
        "The line above applies when the card has none or this is off.",
    )
    urgent = models.BooleanField(default=False, help_text="Urgent alerts list first and re-notify.")
    renotify_after_hours = models.PositiveIntegerField(
        default=0, help_text="Re-send while unacknowledged, every this many hours (0 = never)."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "threshold"]

    def __str__(self) -> str:
        return self.name

    def suggested_name(self) -> str:
        """The name the rule's own numbers give it (what `clean` suggests)."""
        return rule_suggested_name(self)

    def clean(self) -> None:
        """The name, which alerts and e-mails show, must say the rule's own numbers: a threshold rule
        edited from 20 to 19 cannot keep saying 20 (nor "severe")."""
        super().clean()
        problem = rule_name_problem(self)
        if problem:
            raise ValidationError({"name": problem})

    @property
    def folds(self) -> bool:
        """Whether the rule is a rung of its source's ladder of lines (a non-urgent threshold rule): a
        crossing of several rungs opens one alert, at the highest. Urgent rules (item 9 among them),
        deterioration and no-data rules never fold into another alert."""
        return self.kind == self.Kind.THRESHOLD and not self.urgent

    @property
    def episode_key(self) -> str:
        """What one patient has at most one open alert of: the ladder of its source, or this rule."""
        return f"lines:{self.source}" if self.folds else f"rule:{self.pk}"

    def is_met(
        self,
        scored: Prediction | Assessment,
        *,
        baseline: float | None,
        item9_threshold: float | None = None,
        model_item9_flags: bool = True,
    ) -> bool:
        """Whether one prediction (or questionnaire, for self-report rules) meets the condition (not used
        for no_data). `item9_threshold`: the threshold in force for a self_harm rule (see
        `effective_threshold`), else the rule's own. On a prediction a self_harm rule is met by the
        self-harm detector alone, or by the model's item 9 unless `model_item9_flags` is False (a model
        trained on totals only: its item values carry no item information)."""
        total = self.crossing_score(scored)
        if self.kind == self.Kind.THRESHOLD:
            return reaches(total, self.threshold)  # the band's rounding: 14.5 reaches 15
        if self.kind == self.Kind.DETERIORATION:
            return baseline is not None and reaches(total - baseline, self.threshold)
        if self.kind == self.Kind.SELF_HARM:
            if isinstance(scored, Prediction) and scored.risk_language:
                return True
            if isinstance(scored, Prediction) and not model_item9_flags:
                return False
            line = self.threshold if item9_threshold is None else item9_threshold
            return float(scored.items[ITEM_SELF_HARM]) >= line
        return False

    def crossing_score(self, scored: Prediction | Assessment) -> float:
        """The total compared with the line: a prediction's interval lower bound for a 'confident'
        rule, else the total (a questionnaire's is the patient's own answer). A cold-start LLM rating not
        yet validated here has no interval: its total is used, since surfacing beats silence."""
        if (
            self.crossing == self.Crossing.CONFIDENT
            and isinstance(scored, Prediction)
            and scored.validated_here
        ):
            return float(scored.interval_low)
        return float(scored.total)

    def effective_threshold(self, model_recommendation: float | None) -> tuple[float, str]:
        """(threshold in force, where it comes from) — shown wherever the rule is."""
        if self.kind == self.Kind.SELF_HARM and self.source == self.Source.MODEL and self.use_model_threshold:
            if model_recommendation is not None:
                return model_recommendation, "recommended by the active model's card"
            return self.threshold, "the rule's own (the active model's card recommends none)"
        return self.threshold, "the rule's own" + (
            " (admin override)" if self.kind == self.Kind.SELF_HARM else ""
        )


# What raised an item-9 flag, as alerts, e-mails and pages say it (scoring.item9.SOURCES).
ITEM9_SOURCE_LABELS = {
    "detector": "risk language in the patient's messages",
    "model": "the model-inferred item 9",
    "self-report": "the patient's own questionnaire",
}


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
    assessment = models.ForeignKey(
        Assessment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
        help_text="Self-report rules: the questionnaire that met the rule.",
    )
    crossed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the crossing happened: the window end of the prediction that completed the rule, "
        "or when the questionnaire was completed. 'Opened' is when it was processed.",
    )
    urgent = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # What the e-mail and the inbox show: numbers only, never conversation text.
    total = models.FloatField(
        null=True, blank=True, help_text="The total that triggered it: model-inferred, or self-reported."
    )
    band = models.CharField(max_length=32, blank=True)
    self_harm_item = models.FloatField(null=True, blank=True)
    item9_sources = models.JSONField(
        default=list,
        blank=True,
        help_text="Item-9 alerts: what raised the flag ('detector': risk language in the patient's "
        "messages; 'model': the model's item 9; 'self-report': the patient's own answer).",
    )
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
    episode_key = models.CharField(
        max_length=40,
        blank=True,
        help_text="Which episode the alert belongs to: the ladder of PHQ-9 lines of one source (model or "
        "questionnaire), or one rule that never folds into another. A patient has at most one live episode "
        "and one unresolved alert of each.",
    )
    folded_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="folded",
        help_text="Set while this alert is folded into another open alert of the patient at a higher line "
        "(at the same line, the patient's own questionnaire), or, for a reliable deterioration, at any line. "
        "It re-opens if that alert's condition ends first.",
    )
    history = models.JSONField(
        default=list,
        blank=True,
        help_text="What happened to the alert, oldest first, one line per change: numbers and lines only, "
        "never conversation text.",
    )

    class Meta:
        constraints = [
            # The episode guards: concurrent evaluations of the same patient cannot open two episodes,
            # and a patient never has two unresolved alerts for one rule (or one ladder of lines).
            models.UniqueConstraint(
                fields=["patient", "episode_key"],
                condition=models.Q(episode_ended_at__isnull=True),
                name="alert_one_live_episode_per_key",
            ),
            models.UniqueConstraint(
                fields=["patient", "episode_key"],
                condition=~models.Q(status="resolved"),
                name="alert_one_unresolved_alert_per_key",
            ),
        ]
        indexes = [models.Index(fields=["patient", "status"]), models.Index(fields=["status", "urgent"])]
        ordering = ["-urgent", "-opened_at"]

    def __str__(self) -> str:
        return f"{self.rule.name} – {self.patient.external_id} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.episode_key:  # bulk writers set it themselves
            self.episode_key = self.rule.episode_key
        super().save(*args, **kwargs)

    def history_add(self, at: datetime, text: str) -> None:
        """One line of the episode's history (numbers and lines only); the caller saves."""
        self.history = [*self.history, {"at": at.isoformat(), "text": text}]

    @property
    def history_lines(self) -> list[tuple[datetime, str]]:
        return [(datetime.fromisoformat(h["at"]), h["text"]) for h in self.history]

    @property
    def step_note(self) -> str:
        """The latest step up or down the ladder of lines, as the history says it ('' if none)."""
        steps = [(at, text) for at, text in self.history_lines if text.startswith("stepped ")]
        return f"{steps[-1][1][0].upper()}{steps[-1][1][1:]} ({steps[-1][0]:%d %b %Y})" if steps else ""

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.RESOLVED

    @property
    def is_self_report(self) -> bool:
        return self.rule.source == AlertRule.Source.SELF_REPORT

    @property
    def is_delayed(self) -> bool:
        """Opened on data older than ALERT_MAX_AGE_HOURS (a scoring backlog, a backfill, an old
        questionnaire): the e-mail and the inbox say so."""
        hours = settings.ALERT_MAX_AGE_HOURS
        return bool(hours and self.crossed_at and self.opened_at - self.crossed_at > timedelta(hours=hours))

    @property
    def item9_sources_label(self) -> str:
        """Why an item-9 flag was raised, in general terms (never the text that fired)."""
        return " and ".join(ITEM9_SOURCE_LABELS.get(s, s) for s in self.item9_sources)

    def summary(self) -> str:
        """One line for inboxes and e-mails: numbers, band and rule only."""
        if self.rule.kind == AlertRule.Kind.NO_DATA:
            return f"no session for {self.rule.days} days"
        if self.is_self_report:
            parts = [f"self-reported PHQ-9 {self.total:.0f}" if self.total is not None else ""]
            if self.rule.kind == AlertRule.Kind.SELF_HARM and self.self_harm_item is not None:
                parts.append(f"· item 9 answered {self.self_harm_item:.0f} of 3")
            return " ".join(p for p in parts if p)
        # shown(): the one-decimal number every band and line reads (f"{14.45:.1f}" would print 14.4)
        parts = [f"model-inferred PHQ-9 {shown(self.total):.1f}" if self.total is not None else ""]
        if self.band:
            parts.append(f"({band_by_key(self.band).label.lower()})")
        if self.rule.kind == AlertRule.Kind.SELF_HARM and self.self_harm_item is not None:
            parts.append(f"· item 9 = {self.self_harm_item:.1f} of 3")
        if self.item9_sources:
            parts.append(f"· flagged by {self.item9_sources_label}")
        if self.rule.kind == AlertRule.Kind.DETERIORATION and self.baseline is not None:
            parts.append(f"· baseline {self.baseline:.1f}")
        return " ".join(p for p in parts if p)


class AlertNotification(models.Model):
    """One e-mail attempt for an alert: every send is recorded, failures included (they are retried)."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (will retry)"
        NO_RECIPIENT = "no_recipient", "Nobody to send to"
        NOT_SENT = "not_sent", "Not sent: opened on seeded demo history, not news"

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


DEFAULT_ESCALATION = (
    "No escalation step is set for this clinic yet: an admin sets it in the admin (Alerts > Escalation "
    "step): whom to call, and the crisis line."
)


class EscalationStep(models.Model):
    """The clinic's escalation step for urgent alerts (whom to call, the crisis line), set by an admin;
    urgent e-mails and the urgent banner state it. One row; never conversation text."""

    text = models.TextField(
        help_text="Shown on urgent alerts, e.g. 'Call the duty clinician on 020 7946 0000 today; out of "
        "hours, the crisis line 0800 000 0000.' No patient information here."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "escalation step"

    def __str__(self) -> str:
        return self.text[:60]

    @classmethod
    def current_text(cls) -> str:
        row = cls.objects.order_by("-updated_at").first()
        return row.text if row and row.text.strip() else DEFAULT_ESCALATION
