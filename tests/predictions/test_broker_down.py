"""The broker (Redis) down while sessions arrive: the API keeps accepting (sessions are committed in
PostgreSQL first) and the sweeper (score_pending, every 10 minutes) scores what was never enqueued."""

from __future__ import annotations

import logging

import pytest
from kombu.exceptions import OperationalError

from monitor_site.patients.models import ConversationSession
from monitor_site.predictions.models import Prediction
from monitor_site.predictions.services import predictions_score_pending
from tests.conftest import session_body


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
    assert predictions_score_pending() == 3  # the sweeper catches up
    assert Prediction.objects.count() == 3
