"""The registry of trained model artifacts; exactly one is active at a time."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    version = models.CharField(
        max_length=64, unique=True, help_text="Artifact directory name in MODEL_STORE_DIR."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    backbone = models.CharField(max_length=255)
    members = models.PositiveSmallIntegerField()
    manifest = models.JSONField()
    metrics = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="active"), name="one_active_model_version"
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.version} ({self.status})"

    @property
    def mae(self) -> float | None:
        return self.metrics.get("mae")

    @property
    def auc_at_10(self) -> float | None:
        return self.metrics.get("auc_at_10")
