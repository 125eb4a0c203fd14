"""No single row can stop scoring: a session the model cannot score is marked failed with the reason,
and the sweeper and the per-session claim go on with the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor_site.patients.models import Message
from monitor_site.predictions.models import Prediction, ScoringFailure
from monitor_site.predictions.services.scoring import (
    predictions_score_pending,
    predictions_score_session_and_next,
)
from tests.factories import PatientFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _session_with_message(patient: object, when: datetime) -> object:
    session = SessionFactory(patient=patient, started_at=when, ended_at=when + timedelta(minutes=1))
    Message.objects.create(session=session, position=0, role="user", text="I slept badly again", sent_at=when)
    return session


@pytest.fixture
def poisoned_among_good() -> tuple[object, list[object]]:
    """A session dated year 1 (stored before dates were checked), first in every ordering, then good ones."""
    patient = PatientFactory()
    poisoned = _session_with_message(patient, datetime(1, 1, 1, tzinfo=UTC))
    good = [_session_with_message(PatientFactory(), datetime(2026, 3, day, tzinfo=UTC)) for day in (1, 2, 3)]
    return poisoned, good


def test_the_sweeper_marks_a_poisoned_session_failed_and_scores_the_rest(
    active_model: object, poisoned_among_good: tuple
) -> None:
    poisoned, good = poisoned_among_good
    assert predictions_score_pending().rows == 3
    assert set(Prediction.objects.values_list("session_id", flat=True)) == {s.pk for s in good}
    failure = ScoringFailure.objects.get()
    assert failure.session_id == poisoned.pk and failure.model_version_id == active_model.pk
    assert "OverflowError" in failure.reason
    assert predictions_score_pending().rows == 0  # not tried again by this version
    assert ScoringFailure.objects.count() == 1


def test_a_scoring_task_whose_batch_holds_a_poisoned_session_scores_the_others(
    active_model: object, poisoned_among_good: tuple
) -> None:
    poisoned, good = poisoned_among_good
    predictions_score_session_and_next(session_id=poisoned.pk)
    assert Prediction.objects.count() == 3 and ScoringFailure.objects.filter(session=poisoned).exists()
