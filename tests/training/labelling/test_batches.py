"""Claude labels through the Message Batches API, against the local fake: create, poll, results,
expiry and partial failure, and a second pass that pays nothing for what the batch stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scoring.types import Conversation, Turn, Window
from tests.training.fake_anthropic import FakeAnthropic, client_for, fake_anthropic
from training.labelling.batches import batch_collect, batch_submit
from training.labelling.cache import MemoryCache
from training.labelling.claude import ClaudeLabeler, LabelerConfig
from training.labelling.prompt import LabelRequest, render_for_labelling, window_hash


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with fake_anthropic() as server:
        yield server


def _requests(n: int) -> list[LabelRequest]:
    turns = [(Turn("user", f"I can't sleep, night {i}"),) for i in range(n)]
    return [LabelRequest(Window(f"w{i}", (Conversation(f"c{i}", turns[i]),)), True) for i in range(n)]


def _labeler(fake: FakeAnthropic, **config: object) -> ClaudeLabeler:
    return ClaudeLabeler(client_for(fake), LabelerConfig(model="claude-test", **config), MemoryCache())  # type: ignore[arg-type]


def test_a_batch_is_created_polled_and_its_labels_stored(fake: FakeAnthropic) -> None:
    fake.batch_polls = 2  # still running at the first poll
    labeler = _labeler(fake)
    requests = _requests(3) + [LabelRequest(_requests(1)[0].window, False)]
    submitted = batch_submit(labeler, requests)
    assert submitted.batch_id and submitted.submitted == 3 and submitted.skipped_consent == 1
    assert fake.requests == []  # nothing sent one call at a time
    assert batch_collect(labeler, submitted.batch_id, requests) is None  # in progress
    collected = batch_collect(labeler, submitted.batch_id, requests)
    assert collected is not None and collected.labelled == 3 and not collected.failed
    # A later pass (one call at a time) finds every label stored: it pays nothing.
    again = labeler.label(requests)
    assert again.from_cache == 3 and again.labelled == 0 and fake.requests == []
    assert batch_submit(labeler, requests).batch_id == ""  # nothing left to send


def test_expired_and_errored_requests_are_counted_and_sent_again_later(fake: FakeAnthropic) -> None:
    labeler = _labeler(fake)
    requests = _requests(4)
    digests = [window_hash(render_for_labelling(r), labeler.config.variant) for r in requests]
    fake.batch_outcomes = {digests[0]: "expired", digests[1]: "errored"}
    batch = batch_submit(labeler, requests)
    collected = batch_collect(labeler, batch.batch_id, requests)
    assert collected is not None and collected.labelled == 2
    assert collected.failed == {digests[0]: "expired", digests[1]: "errored"}
    fake.batch_outcomes = {}
    retry = batch_submit(labeler, requests)
    assert retry.submitted == 2 and retry.from_cache == 2


def test_samples_in_a_batch_are_combined_per_window(fake: FakeAnthropic) -> None:
    labeler = _labeler(fake, samples=3)
    requests = _requests(2)
    batch = batch_submit(labeler, requests)
    assert len(fake.batches[batch.batch_id]["requests"]) == 6
    assert all(len(r["custom_id"]) <= 64 for r in fake.batches[batch.batch_id]["requests"])
    collected = batch_collect(labeler, batch.batch_id, requests)
    assert collected is not None and collected.labelled == 2
    assert labeler.label(requests).from_cache == 2
