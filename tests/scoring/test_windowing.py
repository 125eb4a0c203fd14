from __future__ import annotations

from scoring.types import Conversation, Turn, Window
from scoring.windowing import Chunker, render_turn
from tests.tiny_models import minilm_tokenizer


def _chunker(max_tokens: int = 32) -> Chunker:
    return Chunker(minilm_tokenizer(), max_tokens=max_tokens, kind="encoder")


def test_it_tags_turns_with_their_role() -> None:
    assert render_turn(Turn("user", " I slept badly ")) == "[user] I slept badly"
    assert render_turn(Turn("assistant", "Oh no")) == "[assistant] Oh no"


def test_it_packs_turns_into_chunks_that_fit_the_backbone() -> None:
    turns = tuple(
        Turn("user" if i % 2 == 0 else "assistant", f"message number {i} about my week") for i in range(12)
    )
    window = Window(id="w", conversations=(Conversation(id="c", turns=turns),))
    chunks = _chunker(32).chunk_windows([window])[0]
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
