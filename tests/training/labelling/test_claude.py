from __future__ import annotations

from collections.abc import Iterator

import pytest

from scoring.types import Conversation, Turn, Window
from tests.training.fake_anthropic import FakeAnthropic, client_for, fake_anthropic, tool_message
from training.labelling.cache import MemoryCache
from training.labelling.claude import ClaudeLabeler, LabelerConfig
from training.labelling.prompt import LabelRequest
from training.redaction import redact


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with fake_anthropic() as server:
        yield server


def _request(i: int, text: str = "I can't sleep and I feel worthless", consent: bool = True) -> LabelRequest:
    turns = (Turn("user", text), Turn("assistant", f"That sounds hard. Tell me more about day {i}."))
    return LabelRequest(Window(id=f"w{i}", conversations=(Conversation(id=f"c{i}", turns=turns),)), consent)


def _labeler(fake: FakeAnthropic, cache: MemoryCache | None = None, **config: object) -> ClaudeLabeler:
    sleeps: list[float] = []
    labeler = ClaudeLabeler(
        client_for(fake, timeout=float(config.pop("timeout", 5.0))),  # type: ignore[arg-type]
        LabelerConfig(model="claude-test", backoff_seconds=0.5, **config),  # type: ignore[arg-type]
        cache or MemoryCache(),
        sleep=sleeps.append,
    )
    labeler.sleeps = sleeps  # type: ignore[attr-defined]
    return labeler


def test_it_parses_structured_labels(fake: FakeAnthropic) -> None:
    fake.ok([0, 1, 2, 3, 0, 1, 2, 3, 0], input_tokens=120, output_tokens=60)
    report = _labeler(fake).label([_request(1)])
    label = report.labels["w1"]
    assert label.items == (0, 1, 2, 3, 0, 1, 2, 3, 0) and label.total == 12
    assert label.evidence[3] == "I can't sleep and I feel worthless" and label.model == "claude-test"
    assert label.confidence == 1.0 and label.usable == (True,) * 9  # all rated, quotes verified, one sample
    assert (report.labelled, report.input_tokens, report.output_tokens) == (1, 120, 60)
    sent = fake.requests[0]
    assert sent["model"] == "claude-test" and sent["tool_choice"] == {"type": "tool", "name": "record_phq9"}
    assert sent["tools"][0]["input_schema"]["properties"]["items"]["minItems"] == 9


def test_it_retries_a_rate_limit_then_succeeds(fake: FakeAnthropic) -> None:
    fake.status(429, {"retry-after": "3"})
    fake.status(529)
    fake.ok([1] * 9)
    labeler = _labeler(fake)
    report = labeler.label([_request(1)])
    assert report.labelled == 1 and report.retries == 2 and not report.failed
    assert labeler.sleeps == [3.0, 1.0]  # type: ignore[attr-defined] # Retry-After first, then backoff


def test_it_gives_up_on_endless_server_errors_and_goes_on(fake: FakeAnthropic) -> None:
    for _ in range(3):
        fake.status(500)
    fake.ok([2] * 9)
    report = _labeler(fake, max_retries=2).label([_request(1), _request(2)])
    assert "gave up after 3 attempts: HTTP 500" in report.failed["w1"]
    assert report.labels["w2"].items == (2,) * 9
    assert report.counts()["failed"] == 1 and report.labelled == 1


def test_it_retries_timeouts(fake: FakeAnthropic) -> None:
    fake.hang(2.0)
    fake.ok([1] * 9)
    report = _labeler(fake, timeout=0.5).label([_request(1)])
    assert report.labelled == 1 and report.retries == 1


def test_it_marks_malformed_tool_output_failed(fake: FakeAnthropic) -> None:
    fake.raw(tool_message([1] * 8))
    fake.raw(tool_message([1, 1, 1, 1, 5, 1, 1, 1, 1]))
    fake.raw(tool_message([1] * 9, name="something_else"))
    fake.raw({**tool_message([1] * 9), "content": [{"type": "text", "text": "I think about 12."}]})
    report = _labeler(fake).label([_request(i) for i in range(4)])
    assert report.labelled == 0 and len(report.failed) == 4
    assert (
        "expected 9 items" in report.failed["w0"] and "score must be an integer 0..3" in report.failed["w1"]
    )
    assert all(reason.startswith("malformed") for reason in report.failed.values())


def test_it_stops_cleanly_when_the_budget_is_spent(fake: FakeAnthropic) -> None:
    report = _labeler(fake, token_budget=250).label([_request(i) for i in range(5)])
    # each call costs 140 tokens: two calls pass 250, the rest are not sent
    assert report.labelled == 2 and report.not_sent == 3 and len(fake.requests) == 2
    assert "token budget of 250 reached" in report.stopped


def test_it_reuses_stored_labels_on_a_second_run(fake: FakeAnthropic) -> None:
    cache = MemoryCache()
    first = _labeler(fake, cache).label([_request(1), _request(2)])
    second = _labeler(fake, cache).label([_request(1), _request(2), _request(3)])
    assert first.labelled == 2 and second.from_cache == 2 and second.labelled == 1
    assert len(fake.requests) == 3  # never paid twice for the same window


def test_it_sends_only_redacted_text(fake: FakeAnthropic) -> None:
    text = (
        "my name is Sarah Jones, e-mail sarah.j@example.com, phone +44 7700 900123, "
        "see https://example.org/me, I told Dr Patel I feel hopeless"
    )
    _labeler(fake).label([LabelRequest(_request(1, text).window, True, names=("Jones",))])
    sent = fake.sent_texts[0]
    for planted in ("Sarah", "Jones", "sarah.j@example.com", "7700", "example.org", "Patel"):
        assert planted not in sent
    assert "[EMAIL]" in sent and "[PHONE]" in sent and "[URL]" in sent and "[NAME]" in sent
    assert "I feel hopeless" in sent  # the clinical content stays


def test_it_respects_consent(fake: FakeAnthropic) -> None:
    report = _labeler(fake).label([_request(1, consent=False), _request(2)])
    assert report.skipped_consent == 1 and list(report.labels) == ["w2"]
    assert len(fake.requests) == 1


def test_it_aborts_when_the_key_is_refused(fake: FakeAnthropic) -> None:
    fake.status(401)
    report = _labeler(fake).label([_request(1), _request(2)])
    assert "refused the key" in report.stopped and report.not_sent == 1 and len(fake.requests) == 1


@pytest.mark.parametrize(
    ("text", "planted"),
    [
        ("write to me at a.b-c@mail.co.uk", "a.b-c@mail.co.uk"),
        ("call 07700 900 123 tonight", "07700 900 123"),
        ("my number is (020) 7946-0018", "7946-0018"),
        ("I'm on www.myblog.net/posts", "myblog"),
        ("follow @sadgirl_22", "sadgirl_22"),
        ("NHS number 943 476 5919", "476 5919"),
        ("patient id 88442211", "88442211"),
        ("I live near SW1A 1AA", "SW1A 1AA"),
        ("call me Alex", "Alex"),
        ("Mrs Okafor was kind", "Okafor"),
    ],
)
def test_it_redacts_planted_identifiers(text: str, planted: str) -> None:
    assert planted not in redact(text)


def _dated_request(i: int, texts: list[str]) -> LabelRequest:
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    turns = tuple(
        Turn("user" if k % 2 == 0 else "assistant", t, sent_at=start + timedelta(days=k))
        for k, t in enumerate(texts)
    )
    conversation = Conversation(id=f"c{i}", turns=turns)
    return LabelRequest(Window.of(f"w{i}", (conversation,)), True)


def test_the_prompt_sends_the_items_verbatim_the_answer_options_and_dated_turns(fake: FakeAnthropic) -> None:
    from scoring.phq9 import ANSWER_OPTIONS, ITEM_QUESTIONS, QUESTION_STEM

    fake.ok([1] * 9)
    _labeler(fake).label([_dated_request(1, ["I sleep badly", "That sounds hard", "and I eat little"])])
    sent = fake.requests[0]
    system = sent["system"][0]["text"]
    assert QUESTION_STEM in system
    positions = [system.index(f"{i}. {q}") for i, q in enumerate(ITEM_QUESTIONS, start=1)]
    assert positions == sorted(positions)  # verbatim, in questionnaire order
    assert all(f"{score} = {wording} ({days} of the 14)" in system for score, wording, days in ANSWER_OPTIONS)
    assert "not mentioned is not the same as absent" in system
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}  # prompt caching
    text = sent["messages"][0]["content"]
    assert "[2026-03-01 Sun 09:00] patient: I sleep badly" in text
    assert "[2026-03-02 Mon 09:00] assistant: That sounds hard" in text
    assert "Rating date: 2026-03-03" in text


def test_not_assessable_items_are_prorated_and_too_many_leave_no_total(fake: FakeAnthropic) -> None:
    fake.ok([2, None, 2, 2, None, 2, 2, 2, 0])
    fake.ok([2, None, None, None, 2, 2, 2, 2, 0])
    labels = _labeler(fake).label([_request(1), _request(2)]).labels
    two_missing = labels["w1"]
    assert two_missing.has_total and two_missing.usable.count(False) == 2
    assert two_missing.items[1] == two_missing.items[4] == round(12 / 7, 4)  # the mean of the rated
    assert round(two_missing.total, 2) == round(12 * 9 / 7, 2)  # prorated over the 7 rated items
    assert two_missing.confidence == round(7 / 9, 4)
    assert not labels["w2"].has_total


def test_several_samples_give_a_median_label_whose_confidence_is_their_agreement(fake: FakeAnthropic) -> None:
    from tests.training.fake_anthropic import client_for
    from training.labelling.cache import MemoryCache
    from training.labelling.claude import ClaudeLabeler, LabelerConfig

    for scores in ([1] * 9, [1] * 9, [3] * 9):
        fake.ok(scores)
    labeler = ClaudeLabeler(client_for(fake), LabelerConfig(model="claude-test", samples=3), MemoryCache())
    label = labeler.label([_request(1)]).labels["w1"]
    assert label.items == (1.0,) * 9 and len(fake.requests) == 3
    assert 0 < label.confidence < 1  # one sample of three disagreed


def test_with_extended_thinking_the_tool_is_required_not_forced() -> None:
    from training.labelling.claude import LabelerConfig

    plain = LabelerConfig(model="m").request("text")
    thinking = LabelerConfig(model="m", thinking_budget=2048).request("text")
    assert plain["tool_choice"] == {"type": "tool", "name": "record_phq9"} and "thinking" not in plain
    assert thinking["tool_choice"] == {"type": "any"} and "temperature" not in thinking
    assert thinking["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert thinking["max_tokens"] > 2048
    with pytest.raises(ValueError, match="at least 1024"):
        LabelerConfig(thinking_budget=10)


def test_the_cache_keys_on_the_prompt_version_and_the_sampling() -> None:
    from training.labelling.claude import LabelerConfig
    from training.labelling.prompt import window_hash

    one, three = LabelerConfig(model="m"), LabelerConfig(model="m", samples=3)
    assert window_hash("text", one.variant) != window_hash("text", three.variant)
