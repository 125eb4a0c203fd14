"""Model-inferred PHQ-9 scores. Never a questionnaire answer: every row names the model that made it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from monitor_site.modelops.models import ModelVersion
from monitor_site.patients.models import ConversationSession, Patient
from scoring.phq9 import ITEM_SELF_HARM, METHOD_MODEL, band_by_key


class Prediction(models.Model):
    class Method(models.TextChoices):
        MODEL = "model", "Trained model"
        LLM = "llm", "LLM rating (cold start)"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="predictions")
    session = models.ForeignKey(ConversationSession, on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="predictions")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField(db_index=True)
    total = models.FloatField()
    items = models.JSONField(help_text="9 model-inferred item scores, 0..3 each.")
    interval_low = models.FloatField()
    interval_high = models.FloatField()
    band = models.CharField(max_length=32)
    method = models.CharField(
        max_length=8,
        choices=Method.choices,
        default=Method.MODEL,
        help_text="Who scored: a trained model, or the Claude labeller during a cold start (its prompt "
        "version is in the model version's name).",
    )
    validated_here = models.BooleanField(
        default=True,
        help_text="False for an LLM rating made before this clinic's questionnaires validated the rater: "
        "it has no interval (stored as the whole scale) and says 'not yet validated here'.",
    )
    n_sessions = models.PositiveIntegerField()
    n_user_turns = models.PositiveIntegerField()
    n_tokens = models.PositiveIntegerField()
    n_turns_left_out = models.PositiveIntegerField(
        default=0, help_text="The window's oldest turns beyond its text budget, not read by the model."
    )
    evidence = models.JSONField(default=list, help_text="Per item, the chunks that most informed it.")
    # Item 9 from the self-harm risk-language detector (scoring/self_harm.py), run on every scored window.
    risk_language = models.BooleanField(
        default=False, help_text="The self-harm risk-language detector fired on a patient sentence."
    )
    risk_score = models.FloatField(null=True, blank=True, help_text="The detector's window score, 0..1.")
    risk_evidence = models.JSONField(
        default=list,
        help_text="The sentences that fired, most recent first: session, turn, text, sent_at, score.",
    )
    detector_version = models.CharField(
        max_length=32, blank=True, db_index=True, help_text="The detector version that read this window."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "model_version"], name="prediction_once_per_model")
        ]
        indexes = [models.Index(fields=["patient", "window_end"])]

    def __str__(self) -> str:
        return f"{self.total:.1f} (model-inferred, {self.model_version_id})"

    @property
    def is_llm(self) -> bool:
        return self.method == self.Method.LLM

    @property
    def interval_label(self) -> str:
        """The interval as shown everywhere ("12.0–16.0"), or why there is none."""
        if not self.validated_here:
            return "not yet validated here"
        return f"{self.interval_low:.1f}–{self.interval_high:.1f}"

    @property
    def method_label(self) -> str:
        """What kind of estimate this is, as shown beside the score."""
        if self.is_llm:
            return "LLM-rated (Claude, not a trained model)"
        return METHOD_MODEL

    @property
    def band_label(self) -> str:
        return band_by_key(self.band).label

    @property
    def self_harm_item(self) -> float:
        return float(self.items[ITEM_SELF_HARM])

    @property
    def too_little_text(self) -> bool:
        """Whether the window held less patient text than ALERT_MIN_WINDOW_TOKENS: such a score is
        shown, marked, and never opens (or closes) an alert."""
        return self.n_tokens < settings.ALERT_MIN_WINDOW_TOKENS


class TrajectorySummary(models.Model):
    """Per patient, what the triage list sorts and filters on, kept current by the scoring service so
    the list costs a handful of queries whatever the history length. Model-inferred values only."""

    patient = models.OneToOneField(
        Patient, primary_key=True, on_delete=models.CASCADE, related_name="summary"
    )
    latest_prediction = models.ForeignKey(Prediction, null=True, on_delete=models.SET_NULL, related_name="+")
    latest_total = models.FloatField(null=True, db_index=True)
    latest_band = models.CharField(max_length=32, blank=True, db_index=True)
    latest_self_harm = models.FloatField(null=True)
    latest_risk_language = models.BooleanField(
        default=False, help_text="The self-harm detector fired on the latest prediction's window."
    )
    latest_at = models.DateTimeField(null=True)
    baseline_total = models.FloatField(
        null=True, help_text="Mean model-inferred total over the first 14 days of monitoring."
    )
    baseline_from = models.DateTimeField(
        null=True,
        help_text="Start of the baseline period (the first prediction's window end when first summarised); "
        "fixed, so that a late, earlier session never moves the baseline.",
    )
    change_since_baseline = models.FloatField(null=True)
    trend = models.JSONField(
        default=list, help_text="Weekly mean totals over the last 4 weeks, oldest first."
    )
    change_4_weeks = models.FloatField(
        null=True,
        help_text="Last weekly mean minus the first, over 4 weeks (as the sparkline draws it).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"summary of {self.patient_id}"


class PredictionFeedback(models.Model):
    """A clinician's agree/disagree on one prediction, kept as a signal for the next training run."""

    class Verdict(models.TextChoices):
        AGREE = "agree", "Agree"
        DISAGREE = "disagree", "Disagree"

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="feedback")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prediction_feedback"
    )
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prediction", "clinician"], name="feedback_once_per_clinician")
        ]

    def __str__(self) -> str:
        return f"{self.verdict} on prediction {self.prediction_id}"


class ScoringFailure(models.Model):
    """A session a model version could not score, and why: the sweeper marks it and goes on with the
    rest, so one bad row never stops scoring for everyone. Skipped by that version from then on; a
    new model version tries it again."""

    session = models.ForeignKey(ConversationSession, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500, help_text="The error's type and message (never text).")
    failed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "model_version"], name="scoring_failure_once_per_model"
            )
        ]

    def __str__(self) -> str:
        return f"session {self.session_id} not scored by {self.model_version_id}"
