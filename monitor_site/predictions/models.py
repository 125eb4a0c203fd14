"""Model-inferred PHQ-9 scores. Never a questionnaire answer: every row names the model that made it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from monitor_site.modelops.models import ModelVersion
from monitor_site.patients.models import ConversationSession, Patient
from scoring.bands import ITEM_SELF_HARM, band_by_key


class Prediction(models.Model):
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
    n_sessions = models.PositiveIntegerField()
    n_user_turns = models.PositiveIntegerField()
    n_tokens = models.PositiveIntegerField()
    evidence = models.JSONField(default=list, help_text="Per item, the chunks that most informed it.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "model_version"], name="prediction_once_per_model")
        ]
        indexes = [models.Index(fields=["patient", "window_end"])]

    def __str__(self) -> str:
        return f"{self.total:.1f} (model-inferred, {self.model_version_id})"

    @property
    def band_label(self) -> str:
        return band_by_key(self.band).label

    @property
    def self_harm_item(self) -> float:
        return float(self.items[ITEM_SELF_HARM])
