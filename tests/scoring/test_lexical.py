from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from scoring.lexical import ANALYZERS, LexicalError, LexicalMember
from scoring.phq9 import N_ITEMS
from scoring.types import Conversation, Turn, Window
from scoring.windowing import patient_text
from tests.conftest import make_examples


def _fit(n: int = 24) -> tuple[LexicalMember, list]:
    examples = make_examples(n)
    member = LexicalMember.fit(
        [e.window for e in examples],
        np.array([e.items for e in examples], dtype=np.float32),
        np.ones(len(examples)),
        roles=("user",),
        val_windows=[e.window for e in examples[:6]],
        val_totals=[e.total for e in examples[:6]],
    )
    return member, examples


def test_its_transform_is_tfidf_with_sublinear_tf_written_out() -> None:
    member, examples = _fit()
    texts = [patient_text(e.window) for e in examples]
    expected = []
    for spec in ANALYZERS:
        vectorizer = TfidfVectorizer(
            analyzer=spec["analyzer"],
            ngram_range=spec["ngram_range"],
            min_df=spec["min_df"],
            max_features=spec["max_features"],
            sublinear_tf=True,
            dtype=np.float32,
        ).fit(texts)
        expected.append(vectorizer.transform(texts))
    ours = member.features(texts).toarray()
    assert ours.shape == sp.hstack(expected).shape
    np.testing.assert_allclose(ours, sp.hstack(expected).toarray(), atol=1e-5)


def test_it_round_trips_through_json_and_safetensors_without_pickle(tmp_path: Path) -> None:
    member, examples = _fit()
    member.save(tmp_path / "lexical")
    assert sorted(p.name for p in (tmp_path / "lexical").iterdir()) == ["lexical.json", "lexical.safetensors"]
    loaded = LexicalMember.load(tmp_path / "lexical")
    windows = [e.window for e in examples]
    np.testing.assert_allclose(loaded.predict_items(windows), member.predict_items(windows), atol=1e-6)
    items = loaded.predict_items(windows)
    assert items.shape == (len(windows), N_ITEMS) and items.min() >= 0 and items.max() <= 3
    assert loaded.alpha in (0.3, 1.0, 3.0, 10.0)


def _window(*turns: Turn) -> Window:
    return Window("w", (Conversation("c", turns),))


def test_it_ranks_sad_text_above_fine_text() -> None:
    member, _ = _fit()
    sad = _window(Turn("user", "I feel hopeless and empty. I can't sleep"))
    fine = _window(Turn("user", "Dinner with friends was lovely"))
    totals = member.predict_items([sad, fine]).sum(-1)
    assert totals[0] > totals[1]


def test_it_never_reads_the_assistants_words() -> None:
    member, _ = _fit()
    user = Turn("user", "I had a good day at work.")
    plain = _window(user)
    with_reply = _window(user, Turn("assistant", "hopeless empty exhausted"))
    np.testing.assert_array_equal(member.predict_items([plain]), member.predict_items([with_reply]))


def test_it_refuses_a_damaged_member_with_a_clear_error(tmp_path: Path) -> None:
    member, _ = _fit()
    member.save(tmp_path / "m")
    with pytest.raises(LexicalError, match="missing"):
        LexicalMember.load(tmp_path / "nope")
    config = tmp_path / "m" / "lexical.json"
    config.write_text(config.read_text().replace('"terms": ["', '"terms": ["zzextra", "', 1))
    with pytest.raises(LexicalError, match="do not match"):
        LexicalMember.load(tmp_path / "m")
    config.write_text("{}")
    with pytest.raises(LexicalError, match="malformed"):
        LexicalMember.load(tmp_path / "m")


def test_it_needs_some_patient_text_to_learn_from() -> None:
    empty = _window(Turn("assistant", "hello"))
    with pytest.raises(LexicalError, match="at least 2"):
        LexicalMember.fit([empty, empty], np.zeros((2, N_ITEMS)), np.ones(2), roles=("user",))
