"""After a retrain or a roll-back, the summary's latest is the active version's and a change since
baseline compares one version's scores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor_site.predictions.models import TrajectorySummary
from monitor_site.predictions.services.scoring import sessions_pending
from monitor_site.predictions.services.summaries import trajectory_summaries_refresh
from tests.factories import T0, ModelVersionFactory, PatientFactory, PredictionFactory, SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_versions() -> tuple[object, object, object, list[object]]:
    """Five sessions scored by the old version (7.8 at baseline, 18.5 last); the newer one re-scored
    the last two (21.4 where the old gave 18.5); then a roll-back made the old version active again."""
    patient = PatientFactory()
    old = ModelVersionFactory(version="old", status="active", promoted_at=timezone.now())
    new = ModelVersionFactory(version="new", status="retired", promoted_at=timezone.now())
    days = [0, 5, 20, 27, 34]  # the first two in the baseline period (the first 14 days)
    sessions = [SessionFactory(patient=patient, started_at=T0 + timedelta(days=d)) for d in days]
    for session, total in zip(sessions, [7.8, 7.8, 12.0, 15.0, 18.5], strict=True):
        PredictionFactory(session=session, model_version=old, total=total)
    for session, total in zip(sessions[3:], [17.0, 21.4], strict=True):
        PredictionFactory(session=session, model_version=new, total=total)
    return patient, old, new, sessions


def test_after_a_roll_back_the_latest_is_the_active_versions(two_versions: tuple) -> None:
    patient, old, new, _ = two_versions
    trajectory_summaries_refresh(patient_ids=[patient.pk])
    summary = TrajectorySummary.objects.get(pk=patient.pk)
    assert summary.latest_prediction.model_version == old and summary.latest_total == 18.5
    assert summary.change_since_baseline == pytest.approx(18.5 - 7.8)


def test_a_change_since_baseline_never_mixes_model_versions(two_versions: tuple) -> None:
    patient, old, new, _ = two_versions
    old.status, new.status = "retired", "active"
    old.save(), new.save()
    trajectory_summaries_refresh(patient_ids=[patient.pk])
    summary = TrajectorySummary.objects.get(pk=patient.pk)
    assert summary.latest_total == 21.4  # the active version's
    # The baseline windows have no score by "new": no comparison rather than +13.6 across versions.
    assert summary.baseline_total is None and summary.change_since_baseline is None


def test_a_promotion_rescores_the_baseline_windows_too(two_versions: tuple, settings: object) -> None:
    patient, old, new, sessions = two_versions
    trajectory_summaries_refresh(patient_ids=[patient.pk])
    settings.SCORING_RESCORE_DAYS = 1  # type: ignore[attr-defined] # the factory's sessions are old
    pending = sessions_pending(model_version=new)
    assert set(pending) >= {sessions[0].pk, sessions[1].pk}  # the first 14 days: the baseline
    far = SessionFactory(patient=patient, started_at=sessions[0].started_at + timedelta(days=40))
    PredictionFactory(session=far, model_version=old)
    trajectory_summaries_refresh(patient_ids=[patient.pk])
    assert far.pk not in sessions_pending(model_version=new)  # older than the horizon, past baseline
