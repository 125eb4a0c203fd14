"""Patients, their care teams, and what the AI app sends us: sessions, messages, questionnaires."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from scoring.phq9 import TOTAL_MAX
from scoring.types import ROLES


class CareTeam(models.Model):
    name = models.CharField(max_length=120, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="care_teams", blank=True)
    llm_scoring = models.BooleanField(
        "cold start: LLM scoring",
        default=False,
        help_text="Until a trained model is promoted, rate this team's consented patients with the Claude "
        "labeller (redacted text is sent to Anthropic; each rating is paid for). Its scores are labelled "
        "as LLM ratings and say 'not yet validated here' until the clinic's questionnaires validate it.",
    )

    def __str__(self) -> str:
        return self.name


class IngestSource(models.Model):
    """An upstream app that pushes conversations; each has its own tokens and patient id space."""

    name = models.SlugField(max_length=64, unique=True)
    # null only for sources made before every source had a team: their tokens refuse every write.
    default_care_team = models.ForeignKey(
        CareTeam,
        null=True,
        on_delete=models.PROTECT,
        verbose_name="care team",
        help_text="The one care team of this source and its tokens: new patients join it, and the tokens "
        "write only to its patients. Moving it: manage.py move_ingest_source.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class IngestToken(models.Model):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once at creation."""

    source = models.ForeignKey(IngestSource, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(max_length=12, help_text="First characters, to tell tokens apart.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.source.name} {self.prefix}…"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @staticmethod
    def generate() -> str:
        return "phq_" + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Patient(models.Model):
    """Pseudonymous: we know the upstream app's id for the person, never their name."""

    source = models.ForeignKey(IngestSource, on_delete=models.PROTECT, related_name="patients")
    external_id = models.CharField(max_length=128)
    # null only for patients stored before every patient had a team; none is created without one.
    care_team = models.ForeignKey(CareTeam, null=True, on_delete=models.PROTECT, related_name="patients")
    named_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="named_patients",
        help_text="The care-team member who leads this patient's care (their 'My patients' list).",
    )
    is_synthetic = models.BooleanField(default=False, help_text="Generated demo data, not a person.")
    consent_external_processing = models.BooleanField(
        default=False,
        help_text="The patient allows their redacted messages to be labelled by an external model (Claude).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="patient_unique_per_source")
        ]

    def __str__(self) -> str:
        return self.external_id

    def clean(self) -> None:
        # A named clinician outside the care team could not even open the patient's page.
        team = self.care_team
        if self.named_clinician_id and not (
            team is not None and team.members.filter(pk=self.named_clinician_id).exists()
        ):
            raise ValidationError(
                {"named_clinician": "The named clinician must be a member of the patient's care team."}
            )


class ConversationSession(models.Model):
    source = models.ForeignKey(IngestSource, on_delete=models.PROTECT)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="sessions")
    external_id = models.CharField(max_length=128)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(
        help_text="Time of the last message: the end of the window it is scored at."
    )
    message_count = models.PositiveIntegerField()
    content_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the canonical body, for idempotent replays."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="session_unique_per_source")
        ]
        indexes = [models.Index(fields=["patient", "ended_at"])]

    def __str__(self) -> str:
        return self.external_id


class Message(models.Model):
    ROLE_CHOICES = [(r, r) for r in ROLES]

    session = models.ForeignKey(ConversationSession, on_delete=models.CASCADE, related_name="messages")
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)
    text = models.TextField()
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "position"], name="message_unique_position")
        ]
        ordering = ["session", "position"]

    def __str__(self) -> str:
        return f"{self.role} #{self.position}"


class Assessment(models.Model):
    """A PHQ-9 questionnaire the patient filled in: ground truth, self-report."""

    source = models.ForeignKey(IngestSource, on_delete=models.PROTECT)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="assessments")
    completed_at = models.DateTimeField()
    items = models.JSONField(help_text="9 integers 0..3, in questionnaire order.")
    total = models.PositiveSmallIntegerField()
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "completed_at"], name="assessment_unique_per_time"),
            models.CheckConstraint(
                condition=models.Q(total__lte=TOTAL_MAX), name="assessment_total_in_range"
            ),
        ]
        indexes = [models.Index(fields=["patient", "completed_at"])]

    def __str__(self) -> str:
        return f"PHQ-9 {self.total} ({self.completed_at:%Y-%m-%d})"


class ClinicianNote(models.Model):
    """A clinician's note on a patient: visible to the patient's care team, kept with author and time."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"note on {self.patient_id} ({self.created_at:%Y-%m-%d})"
