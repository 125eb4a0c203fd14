from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scoring.types import Conversation, Turn, Window
from scoring.windowing import Chunker, InputView, day_marker, patient_text, render_turn
from tests.tiny_models import minilm_tokenizer

BOTH = InputView(roles=("user", "assistant"))


def _chunker(max_tokens: int = 32, view: InputView | None = None) -> Chunker:
    return Chunker(minilm_tokenizer(), max_tokens=max_tokens, kind="encoder", view=view)


def test_it_tags_turns_with_their_role() -> None:
    assert render_turn(Turn("user", " I slept badly ")) == "[user] I slept badly"
    assert render_turn(Turn("assistant", "Oh no")) == "[assistant] Oh no"


def test_it_packs_turns_into_chunks_that_fit_the_backbone() -> None:
    turns = tuple(
        Turn("user" if i % 2 == 0 else "assistant", f"message number {i} about my week") for i in range(12)
    )
    window = Window(id="w", conversations=(Conversation(id="c", turns=turns),))
    chunks = _chunker(32, BOTH).chunk_windows([window])[0]
    assert len(chunks) > 1
    assert all(len(c) <= 32 for c in chunks)
    tokenizer = minilm_tokenizer()
    assert all(
        c.token_ids[0] == tokenizer.cls_token_id and c.token_ids[-1] == tokenizer.sep_token_id for c in chunks
    )
    # every turn lands in some chunk, in order
    assert [i for c in chunks for i in c.turn_indices] == list(range(12))


def test_it_splits_a_turn_longer_than_a_chunk() -> None:
    long = Turn("user", " ".join(["tired"] * 200))
    window = Window(id="w", conversations=(Conversation(id="c", turns=(long,)),))
    chunks = _chunker(32).chunk_windows([window])[0]
    assert len(chunks) >= 200 // 30
    assert all(len(c) <= 32 and c.turn_indices == (0,) for c in chunks)


def test_it_never_mixes_two_conversations_in_one_chunk() -> None:
    a = Conversation(id="a", turns=(Turn("user", "hello"),))
    b = Conversation(id="b", turns=(Turn("user", "goodbye"),))
    chunks = _chunker().chunk_windows([Window(id="w", conversations=(a, b))])[0]
    assert [c.conversation_id for c in chunks] == ["a", "b"]


def test_it_gives_the_same_chunk_key_in_overlapping_windows() -> None:
    a = Conversation(id="a", turns=(Turn("user", "I feel low"),))
    b = Conversation(id="b", turns=(Turn("user", "better today"),))
    first, second = _chunker().chunk_windows(
        [Window(id="1", conversations=(a,)), Window(id="2", conversations=(a, b))]
    )
    assert first[0].key == second[0].key
    assert second[0].key != second[1].key


def test_it_returns_no_chunks_for_an_empty_window() -> None:
    assert _chunker().chunk_windows([Window(id="w", conversations=())]) == [[]]


def _day(d: int, h: int = 9) -> datetime:
    return datetime(2026, 11, 1, h, tzinfo=UTC) + timedelta(days=d)


def test_by_default_it_reads_the_patients_turns_only_and_keeps_their_indices() -> None:
    turns = (
        Turn("user", "I slept badly"),
        Turn("assistant", "I hear you, tell me about your sleep"),
        Turn("user", "   "),
        Turn("user", "and I skipped lunch"),
    )
    window = Window(id="w", conversations=(Conversation(id="c", turns=turns),))
    chunks = _chunker(64).chunk_windows([window])[0]
    tokenizer = minilm_tokenizer()
    text = tokenizer.decode([i for c in chunks for i in c.token_ids], skip_special_tokens=True)
    assert "sleep" not in text.replace("slept", "")  # the assistant's words are not read
    assert [i for c in chunks for i in c.turn_indices] == [0, 3]  # evidence maps to the original turns
    assert patient_text(window) == "I slept badly\nand I skipped lunch"


def test_it_marks_each_new_day_once_when_turns_carry_sent_at() -> None:
    turns = (
        Turn("user", "rough night", _day(0, 8)),
        Turn("user", "still tired", _day(0, 20)),
        Turn("assistant", "noted", _day(2, 9)),
        Turn("user", "a bit better", _day(2, 10)),
    )
    conversation = Conversation(id="c", turns=turns)
    rendered = list(InputView().turns(conversation, window_end=_day(4, 12)))
    assert rendered == [
        (0, "[Sun, 4 days before] [user] rough night"),
        (1, "[user] still tired"),
        (3, "[Tue, 2 days before] [user] a bit better"),
    ]
    assert [t for _, t in InputView(day_markers=False).turns(conversation)][0] == "[user] rough night"
    undated = Conversation(id="u", turns=(Turn("user", "no dates here"),))
    assert list(InputView().turns(undated)) == [(0, "[user] no dates here")]


def test_an_artifact_without_an_input_view_reads_every_turn_as_before() -> None:
    legacy = InputView.from_manifest({"max_tokens": 64})
    assert legacy.roles == ("user", "assistant") and legacy.day_markers is False
    assert InputView.from_manifest({"input": {"turn_roles": ["user"], "day_markers": True}}) == InputView(
        day_format="absolute"
    )
    with pytest.raises(ValueError, match="subset"):
        InputView(roles=("patient",))


def _flood_window(n_conversations: int, turns_each: int, text: str = "I could not sleep again") -> Window:
    return Window(
        id="flood",
        conversations=tuple(
            Conversation(id=f"c{k}", turns=tuple(Turn("user", f"{text} {k}.{i}") for i in range(turns_each)))
            for k in range(n_conversations)
        ),
    )


def test_a_flooded_window_keeps_only_its_most_recent_text_with_the_cut_counted() -> None:
    from scoring.windowing import window_cut

    window = _flood_window(100, 10)  # 1,000 turns of ~27 characters
    first_kept, dropped = window_cut(window, max_chars=500)
    kept = sum(len(c.turns) - start for c, start in zip(window.conversations, first_kept, strict=True))
    assert kept + dropped == 1000 and 0 < kept <= 20
    assert first_kept[:90] == [10] * 90 and first_kept[-1] == 0  # the oldest conversations are left out
    chunker = Chunker(minilm_tokenizer(), max_tokens=32, kind="encoder", max_chars=500)
    chunks = chunker.chunk_windows([window])[0]
    assert {c.conversation_id for c in chunks} <= {f"c{k}" for k in range(97, 100)}
    last = [c for c in chunks if c.conversation_id == "c99"]
    assert [i for c in last for i in c.turn_indices] == list(range(10))  # original indices: evidence holds
    assert patient_text(window, max_chars=500).splitlines()[-1].endswith("99.9")
    assert "0.0" not in patient_text(window, max_chars=500)


def test_a_window_within_the_budget_is_read_whole() -> None:
    from scoring.windowing import window_cut

    window = _flood_window(3, 4)
    assert window_cut(window) == ([0, 0, 0], 0)
    one_huge = Window(id="w", conversations=(Conversation("c", (Turn("user", "x" * 100_000),)),))
    assert window_cut(one_huge, max_chars=10) == ([0], 0)  # the latest turn is always kept


def test_a_whole_window_view_reads_the_conversations_as_one_day_marked_sequence() -> None:
    day = datetime(2026, 3, 2, 9, tzinfo=UTC)
    a = Conversation(id="a", turns=(Turn("user", "slept badly", day), Turn("user", "no appetite", day)))
    b = Conversation(id="b", turns=(Turn("user", "a bit better", day + timedelta(days=1)),))
    view = InputView(whole_window=True)
    [chunks] = _chunker(64, view).chunk_windows([Window(id="w", conversations=(a, b))])
    assert len(chunks) == 1  # one sequence across both sessions
    assert chunks[0].spans == (("a", (0, 1)), ("b", (0,)))
    text = minilm_tokenizer().decode(chunks[0].token_ids)
    # each day marked, by weekday and days before the window's end (undated window: weekday only)
    assert "[ mon ]" in text and "[ tue ]" in text and "2026" not in text
    # beyond max_tokens it is chunked, still across conversations and in order
    small = _chunker(16, view).chunk_windows([Window(id="w", conversations=(a, b))])[0]
    assert len(small) > 1 and [s for c in small for s in c.spans][-1] == ("b", (0,))
    assert InputView.from_manifest({"input": view.to_dict()}).whole_window


def test_a_whole_window_model_scores_one_sequence_and_its_evidence_names_every_session(
    tmp_path: object,
) -> None:
    from pathlib import Path

    from scoring.ensemble import Ensemble
    from tests.conftest import make_examples
    from tests.tiny_models import tiny_qwen3_5
    from training.args import TrainArgs
    from training.finetune import train_ensemble

    args = TrainArgs(whole_window=True, max_tokens=256, members=1, epochs=2, lexical=False)
    result = train_ensemble(make_examples(12, groups=4), args, Path(str(tmp_path)), backbone=tiny_qwen3_5())
    day = datetime(2026, 3, 2, 9, tzinfo=UTC)
    a = Conversation(id="a", turns=(Turn("user", "slept badly again", day),))
    b = Conversation(id="b", turns=(Turn("user", "could not get up", day + timedelta(days=1)),))
    [score] = Ensemble.load(result.artifact_dir, device="cpu").predict([Window(id="w", conversations=(a, b))])
    assert score.n_chunks == 1 and {e.conversation_id for e in score.evidence} == {"a", "b"}
    with pytest.raises(ValueError, match="beyond the backbone's context"):
        train_ensemble(
            make_examples(12, groups=4),
            TrainArgs(whole_window=True, max_tokens=4096, members=1, epochs=1),
            Path(str(tmp_path)),
            backbone=tiny_qwen3_5(),
        )


def test_what_the_model_reads_of_dates_is_relative_to_the_window_end() -> None:
    """A model must not learn calendar dates (a time split's test windows are later than all it saw):
    the same text a week later reads the same, and no year, month or day of the month is read."""
    end = datetime(2026, 3, 14, 18, tzinfo=UTC)
    turns = (Turn("user", "slept badly", end - timedelta(days=3, hours=5)), Turn("user", "ok", end))
    windows = [
        Window(id=str(k), conversations=(Conversation(id="c", turns=tuple(
            Turn(t.role, t.text, t.sent_at + timedelta(weeks=k)) for t in turns  # type: ignore[operator]
        )),), start=end + timedelta(weeks=k, days=-14), end=end + timedelta(weeks=k))
        for k in (0, 1)
    ]  # fmt: skip
    chunker = _chunker(64)
    first, later = chunker.chunk_windows(windows)
    assert [c.key for c in first] == [c.key for c in later]  # a week on, the model reads the same text
    text = minilm_tokenizer().decode(first[0].token_ids, skip_special_tokens=True)
    assert text == "[ wed, 3 days before ] [ user ] slept badly [ sat, 0 days before ] [ user ] ok"
    assert day_marker(end - timedelta(days=1), window_end=end) == "[Fri, 1 day before]"
    assert day_marker(end, window_end=None) == "[Sat]"  # a window without an end: the weekday alone


def test_an_older_artifact_keeps_reading_calendar_dates_as_it_was_trained() -> None:
    """Artifacts trained before the relative format recorded no `day_format`: they read absolute dates,
    as in training; a new artifact records the relative format, and scoring reads it back."""
    old = InputView.from_manifest({"input": {"turn_roles": ["user"], "day_markers": True}})
    assert old.day_format == "absolute"
    sent = datetime(2026, 11, 3, 9, tzinfo=UTC)
    conversation = Conversation(id="c", turns=(Turn("user", "tired", sent),))
    assert list(old.turns(conversation, window_end=sent)) == [(0, "[Tue 2026-11-03] [user] tired")]
    new = InputView()
    assert new.to_dict()["day_format"] == "relative"
    assert InputView.from_manifest({"input": new.to_dict()}) == new
    with pytest.raises(ValueError, match="day_format"):
        InputView(day_format="calendar")
