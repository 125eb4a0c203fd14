"""The registry of trained model artifacts; exactly one is active at a time."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"
        # Not a trained artifact: the Claude labeller used as the scorer during a cold start
        # (training/labelling/rater.py). Never promoted; its metrics hold its validation against
        # questionnaires.
        RATER = "rater", "LLM rater (cold start)"

    version = models.CharField(
        max_length=64,
        unique=True,
        help_text="The name of the model's folder in the model store (MODEL_STORE_DIR).",
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


class PseudoLabel(models.Model):
    """A label bought from an external model, kept so that no window is ever paid for twice."""

    window_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the redacted text sent, prompt and model."
    )
    # Whose window it was: erasing a patient erases the labels (their evidence quotes their words).
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.CASCADE, related_name="pseudo_labels"
    )
    model = models.CharField(max_length=100)
    source = models.CharField(max_length=32, default="claude")
    items = models.JSONField()
    evidence = models.JSONField(default=list)
    confidence = models.FloatField()
    usable = models.JSONField(
        default=list, help_text="Per item: rated and its quotes found in the patient's turns (empty: all)."
    )
    invalid_quotes = models.PositiveSmallIntegerField(
        default=0, help_text="Items whose quotes were not in the patient's turns (not used)."
    )
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["window_hash", "model"], name="pseudo_label_once")]
        verbose_name = "Claude label (pseudo-label)"
        verbose_name_plural = "Claude labels (pseudo-labels)"

    def __str__(self) -> str:
        return f"{self.model} {self.window_hash[:10]}"


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for a labelling batch"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(
        max_length=16,
        default="admin",
        help_text="Who started it: an admin ('Retrain now'), the weekly schedule, or a shell command.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="training_runs",
    )
    stage = models.CharField(max_length=32, blank=True)
    progress = models.FloatField(default=0.0, help_text="How far the whole run has got, 0 to 1.")
    counts = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    config = models.JSONField(default=dict, blank=True)
    report = models.JSONField(
        default=dict, blank=True, help_text="How the new model did on held-out test patients."
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    decision = models.TextField(blank=True, help_text="Why the new version was or was not promoted.")
    label_batch_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The batch of Claude labels this run waits for (Anthropic's Message Batches, half price); "
        "the run picks it up when it has ended.",
    )
    # True while queued or running, NULL afterwards (NULLs never collide in a unique index).
    active_slot = models.BooleanField(null=True, default=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Only one run at a time: a second request fails on this index instead of racing.
            models.UniqueConstraint(fields=["active_slot"], name="one_active_training_run")
        ]

    def __str__(self) -> str:
        return f"Training run #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
