from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from monitor_site.patients.models import ConversationSession, IngestSource
from monitor_site.patients.services.ingest import session_ingest
from monitor_site.predictions.models import Prediction
from monitor_site.predictions.services.scoring import predictions_score_pending, predictions_score_sessions
from monitor_site.predictions.tasks import score_session

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _session(source: IngestSource, ext: str, at: datetime, patient: str = "p1") -> ConversationSession:
    messages = [
        {"role": "user", "text": "I can't sleep and nothing feels worth doing", "sent_at": at},
        {"role": "assistant", "text": "That sounds hard.", "sent_at": at + timedelta(minutes=1)},
    ]
    return session_ingest(
        source=source,
        care_team=source.default_care_team,
        patient_external_id=patient,
        session_external_id=ext,
        started_at=at,
        messages=messages,
    ).obj


@pytest.fixture
def source(ingest: tuple) -> IngestSource:
    return ingest[0].source


def test_it_keeps_sessions_unscored_without_an_active_model(
    source: IngestSource, caplog: pytest.LogCaptureFixture, registered_model: object
) -> None:
    session = _session(source, "s1", T0)
    with caplog.at_level(logging.WARNING):
        assert score_session.delay(session.pk).get() == 0
    assert "no active model" in caplog.text
    assert Prediction.objects.count() == 0 and ConversationSession.objects.count() == 1


def test_it_catches_up_when_a_model_is_promoted(
    source: IngestSource, registered_model: object, django_capture_on_commit_callbacks: object
) -> None:
    from monitor_site.modelops.services.registry import model_version_promote

    sessions = [_session(source, f"s{i}", T0 + timedelta(days=i)) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        model_version_promote(model_version=registered_model)  # type: ignore[arg-type]
    assert Prediction.objects.count() == 3
    assert set(Prediction.objects.values_list("session_id", flat=True)) == {s.pk for s in sessions}


def test_it_stores_a_full_prediction_for_the_14_day_window(
    source: IngestSource, active_model: object
) -> None:
    old = _session(source, "old", T0 - timedelta(days=20))
    inside = _session(source, "inside", T0 - timedelta(days=10))
    now = _session(source, "now", T0)
    _session(source, "other", T0, patient="p2")
    predictions_score_sessions(session_ids=[now.pk])
    p = Prediction.objects.get(session=now)
    assert p.model_version == active_model and p.patient_id == now.patient_id
    assert p.window_end == now.ended_at and p.window_start == now.ended_at - timedelta(days=14)
    assert p.n_sessions == 2 and p.n_user_turns == 2  # "old" lies outside, "other" is another patient
    assert 0 <= p.total <= 27 and len(p.items) == 9
    assert p.total == pytest.approx(sum(p.items), abs=1e-2)
    assert p.interval_low <= p.total <= p.interval_high
    assert p.band in {"minimal", "mild", "moderate", "moderately_severe", "severe"}
    sessions_in_evidence = {e["session"] for item in p.evidence for e in item}
    assert sessions_in_evidence <= {inside.external_id, now.external_id}
    assert old.external_id not in sessions_in_evidence


def test_it_never_duplicates_on_replay(source: IngestSource, active_model: object) -> None:
    session = _session(source, "s1", T0)
    for _ in range(3):
        score_session.delay(session.pk)
    predictions_score_sessions(session_ids=[session.pk])
    predictions_score_pending()
    assert Prediction.objects.count() == 1


def test_it_scores_a_window_the_same_alone_or_in_a_batch(source: IngestSource, active_model: object) -> None:
    sessions = [_session(source, f"s{i}", T0 + timedelta(days=i), patient=f"p{i % 2}") for i in range(6)]
    predictions_score_pending(batch_size=4)
    batch = {p.session_id: p.total for p in Prediction.objects.all()}
    Prediction.objects.all().delete()
    for s in sessions:
        predictions_score_sessions(session_ids=[s.pk])
    alone = {p.session_id: p.total for p in Prediction.objects.all()}
    assert batch.keys() == alone.keys() and all(batch[k] == pytest.approx(alone[k], abs=1e-3) for k in batch)


def test_it_keeps_history_when_a_new_version_arrives(
    source: IngestSource,
    active_model: object,
    model_store: object,
    django_capture_on_commit_callbacks: object,
) -> None:
    from django.utils import timezone

    from monitor_site.modelops.models import ModelVersion
    from monitor_site.modelops.services.registry import model_version_promote
    from tests.conftest import register_copy

    first = _session(source, "old", T0)  # the patient's baseline period (first 14 days)
    old = _session(source, "middle", T0 + timedelta(days=30))  # neither baseline nor recent
    recent = _session(source, "recent", timezone.now() - timedelta(days=2))
    predictions_score_pending()
    v2 = register_copy(model_store, active_model.version, "v2")  # type: ignore[arg-type, attr-defined]
    new = _session(source, "new-old", T0 + timedelta(days=1))  # never scored: v2 scores it despite its age
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        model_version_promote(model_version=v2)

    def versions(session: ConversationSession) -> set[str]:
        return set(
            Prediction.objects.filter(session=session).values_list("model_version__version", flat=True)
        )

    assert versions(recent) == {active_model.version, "v2"}  # type: ignore[attr-defined]
    assert versions(old) == {active_model.version}  # type: ignore[attr-defined] # history is not rewritten
    # The baseline windows are re-scored: a change since baseline compares one version's scores.
    assert versions(first) == {active_model.version, "v2"}  # type: ignore[attr-defined]
    assert versions(new) == {"v2"}
    assert ModelVersion.objects.get(pk=active_model.pk).status == "retired"  # type: ignore[attr-defined]
    assert (model_store / "ACTIVE").read_text().strip() == "v2"  # type: ignore[operator]


@pytest.fixture(autouse=True)
def _no_claims_remembered() -> None:
    from monitor_site.predictions.services import scoring as services

    services._claimed_up_to.clear()


def test_its_task_scores_the_sessions_after_it_in_one_batch(
    source: IngestSource, active_model: object
) -> None:
    sessions = [_session(source, f"s{i}", T0 + timedelta(days=i), patient=f"p{i % 2}") for i in range(5)]
    assert score_session.delay(sessions[1].pk).get() == 4  # its own and the three after it
    scored = set(Prediction.objects.values_list("session_id", flat=True))
    assert scored == {s.pk for s in sessions[1:]}
    assert score_session.delay(sessions[3].pk).get() == 0  # taken by the batch already: a no-op
    assert score_session.delay(sessions[0].pk).get() == 1
    assert Prediction.objects.count() == 5


def test_its_batch_is_at_most_scoring_batch_windows(
    source: IngestSource, active_model: object, settings: object
) -> None:
    settings.SCORING_BATCH_WINDOWS = 2  # type: ignore[attr-defined]
    sessions = [_session(source, f"s{i}", T0 + timedelta(days=i)) for i in range(5)]
    assert score_session.delay(sessions[0].pk).get() == 2  # s0, s1
    assert score_session.delay(sessions[1].pk).get() == 2  # its own is taken: on after the last claim, s2, s3
    assert score_session.delay(sessions[2].pk).get() == 1  # s4
    assert score_session.delay(sessions[3].pk).get() == 0  # nothing left
    assert Prediction.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_it_leaves_sessions_another_worker_is_scoring_to_that_worker(
    source: IngestSource, active_model: object
) -> None:
    """Two workers on overlapping batches: the rows one has claimed are skipped by the other."""
    import psycopg
    from django.db import connection

    from monitor_site.predictions.services.scoring import predictions_score_session_and_next

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    sessions = [_session(source, f"s{i}", T0 + timedelta(days=i)) for i in range(4)]
    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    )
    try:
        with other.transaction():  # the other worker's claim on the third session
            table = ConversationSession._meta.db_table
            other.execute(f"SELECT id FROM {table} WHERE id = %s FOR NO KEY UPDATE", [sessions[2].pk])
            assert predictions_score_session_and_next(session_id=sessions[0].pk).rows == 3
            scored = set(Prediction.objects.values_list("session_id", flat=True))
            assert scored == {sessions[0].pk, sessions[1].pk, sessions[3].pk}
    finally:
        other.close()
    assert predictions_score_session_and_next(session_id=sessions[2].pk).rows == 1  # claim released
    assert Prediction.objects.count() == 4


def test_a_leftover_task_does_not_rescan_what_this_process_claimed(
    source: IngestSource, active_model: object
) -> None:
    """A backlog's leftover tasks start after the last claim: every one of them finds work while
    there is some, and none re-reads the rows already scored."""
    from monitor_site.predictions.services import scoring as services

    batch = 3
    sessions = [_session(source, f"s{i}", T0 + timedelta(hours=i)) for i in range(7)]
    assert services.predictions_score_session_and_next(session_id=sessions[0].pk, limit=batch).rows == 3
    assert services.predictions_score_session_and_next(session_id=sessions[1].pk, limit=batch).rows == 3
    assert services._claimed_up_to[active_model.pk] == sessions[5].pk  # type: ignore[attr-defined]
    assert services.predictions_score_session_and_next(session_id=sessions[2].pk, limit=batch).rows == 1
    assert services.predictions_score_session_and_next(session_id=sessions[3].pk, limit=batch).rows == 0
    assert Prediction.objects.count() == 7
