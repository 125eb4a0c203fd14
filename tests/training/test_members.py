"""What every ensemble member shares: target weights by band, and windows assembled from training
patients."""

from __future__ import annotations

import pytest

from tests.conftest import make_examples
from training.members import band_weights


def test_it_weights_rare_bands_up() -> None:
    examples = make_examples(8)
    common = [e for e in examples if e.total == 0] * 6
    rare = [e for e in examples if e.total == 27]
    weights = band_weights(common + rare)
    assert weights[-1] > weights[0]


def test_assembled_windows_come_from_training_patients_of_one_band_with_the_mean_label() -> None:
    from scoring.phq9 import band_for
    from scoring.windowing import Chunker
    from tests.tiny_models import minilm_tokenizer
    from training.members import assemble_windows
    from training.splits import split_by_group

    examples = make_examples(40, groups=10)
    chunked = Chunker(minilm_tokenizer(), max_tokens=32, kind="encoder").chunk_windows(
        [e.window for e in examples]
    )
    train_idx, val_idx = split_by_group(examples, val_fraction=0.3, seed=1)
    made, made_chunks = assemble_windows(examples, chunked, train_idx, per_window=0.5, max_chunks=6, seed=3)
    assert len(made) == round(0.5 * len(train_idx)) == len(made_chunks)
    by_id = {e.window.id: e for e in examples}
    val_ids = {examples[i].window.id for i in val_idx}
    val_keys = {c.key for i in val_idx for c in chunked[i]} - {c.key for i in train_idx for c in chunked[i]}
    for window, chunks in zip(made, made_chunks, strict=True):
        parts = [by_id[i] for i in window.meta["parts"]]
        assert 2 <= len(parts) <= 8 and not set(window.meta["parts"]) & val_ids  # no validation text
        assert not {c.key for c in chunks} & val_keys and 1 <= len(chunks) <= 6
        assert len({band_for(p.total).key for p in parts}) == 1
        assert window.total == pytest.approx(sum(p.total for p in parts) / len(parts))
        assert window.items is not None and window.group == "assembled"
    assert sum(len(c) > 1 for c in made_chunks) > len(made_chunks) / 2  # mostly multi-chunk
