"""The broker (Redis) down while sessions arrive: the API keeps accepting (sessions are committed in
PostgreSQL first) and the sweeper (score_pending, every 10 minutes) scores what was never enqueued."""

from __future__ import annotations

import logging

import pytest
from kombu.exceptions import OperationalError

from monitor_site.patients.models import ConversationSession
from monitor_site.predictions.models import Prediction
from monitor_site.predictions.services.scoring import predictions_score_pending
from tests.conftest import session_body

pytestmark = pytest.mark.faults


@pytest.mark.django_db(transaction=True)
def test_the_api_accepts_sessions_while_the_broker_is_down(
    api: object, active_model: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from monitor_site.predictions.tasks import score_session

    def broker_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(score_session, "apply_async", broker_down)
    with caplog.at_level(logging.WARNING):
        responses = [
            api.post("/api/v1/sessions", session_body(session_id=f"s{i}"), format="json")  # type: ignore[attr-defined]
            for i in range(3)
        ]
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert ConversationSession.objects.count() == 3 and Prediction.objects.count() == 0
    assert "could not enqueue" in caplog.text and "score_pending" in caplog.text
    monkeypatch.undo()
    assert predictions_score_pending().rows == 3  # the sweeper catches up
    assert Prediction.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_in_eager_mode_a_failed_scoring_answers_for_the_stored_session_and_catches_up(
    api: object, active_model: object, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    """The demo runs tasks inside the request: scoring that fails there (SQLite busy under concurrent
    requests) must not turn a stored session into a 503, and the session is scored a little later."""
    import time

    from django.db import OperationalError as DatabaseError

    from monitor_site.predictions import tasks

    def database_locked(**kwargs: object) -> int:
        raise DatabaseError("database is locked")

    settings.EAGER_CATCH_UP_SECONDS = 0.2  # type: ignore[attr-defined]
    monkeypatch.setattr(tasks, "predictions_score_session_and_next", database_locked)
    response = api.post("/api/v1/sessions", session_body(session_id="s-locked"), format="json")  # type: ignore[attr-defined]
    assert response.status_code == 201 and ConversationSession.objects.count() == 1
    deadline = time.monotonic() + 30
    while Prediction.objects.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Prediction.objects.count() == 1  # the background catch-up (score_pending) scored it
