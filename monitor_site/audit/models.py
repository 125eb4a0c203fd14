"""AuditEvent: who saw or changed what, and when. Append-only; never holds conversation text."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        PATIENT_VIEW = "patient.view", "viewed a patient page"
        PATIENT_EXPORT = "patient.export", "exported a patient's trajectory"
        PATIENT_NOTE = "patient.note", "wrote a note on a patient"
        PREDICTION_FEEDBACK = "prediction.feedback", "agreed or disagreed with a prediction"
        ALERT_ACKNOWLEDGE = "alert.acknowledge", "acknowledged an alert"
        ALERT_RESOLVE = "alert.resolve", "resolved an alert"
        TRAINING_START = "training.start", "started a training run"
        MODEL_PROMOTE = "model.promote", "promoted a model version"
        MODEL_ROLLBACK = "model.rollback", "rolled back to a model version"
        PATIENT_ERASE = "patient.erase", "erased a patient (right to be forgotten)"
        ALERT_RULE_CHANGE = "alert_rule.change", "added or changed an alert rule"
        ADMIN_ACTION = "admin.action", "ran an admin action"
        ADMIN_VIEW = "admin.view", "read patient data in the admin"
        CARE_TEAM_LLM_SCORING = "care_team.llm_scoring", "switched a care team's cold-start LLM scoring"

    # SET_NULL with the username kept: the trail outlives the account.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_username = models.CharField(max_length=150, blank=True, help_text="Empty for the system.")
    action = models.CharField(max_length=32, choices=Action.choices)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # A plain id, not a foreign key: the event survives the patient's erasure, without its content.
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True, help_text="Ids, formats, decisions; never text.")
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["action", "at"])]

    def __str__(self) -> str:
        who = self.actor_username or "system"
        return f"{self.at:%Y-%m-%d %H:%M} {who} {self.action} {self.object_type}:{self.object_id}"
