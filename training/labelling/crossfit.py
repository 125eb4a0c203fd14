"""Out-of-fold re-labelling: a window is re-scored only by a model that never trained on it.

Stage 2 re-labels the pseudo-labelled windows with an intermediate model. Scoring a window with a
model trained on that very window hands the model its own answer back; instead the windows are split
into folds by patient, and each fold is scored by a model trained on ground truth and the other
folds (K-fold cross-fitting).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol

from scoring.types import LabeledWindow, Window


class _Scorer(Protocol):
    def predict(self, windows: list[Window]) -> Sequence[object]: ...


def fold_of(group: str, folds: int) -> int:
    """A patient's fold, fixed by a hash of their id (all their windows in one fold)."""
    return int(hashlib.sha256(group.encode()).hexdigest(), 16) % folds


def cross_fitted_items(
    examples: list[LabeledWindow], *, folds: int, fit: Callable[[list[LabeledWindow]], _Scorer]
) -> list[tuple[float, ...]]:
    """Each example's item scores from a model `fit` on the examples outside its fold (and whatever
    `fit` adds itself, e.g. ground truth). With fewer patients than folds, as many folds as patients."""
    groups = sorted({e.group or e.window.id for e in examples})
    k = max(2, min(folds, len(groups)))
    fold = {g: fold_of(g, k) for g in groups}
    out: list[tuple[float, ...] | None] = [None] * len(examples)
    for f in range(k):
        held = [i for i, e in enumerate(examples) if fold[e.group or e.window.id] == f]
        if not held:
            continue
        model = fit([e for e in examples if fold[e.group or e.window.id] != f])
        scores = model.predict([examples[i].window for i in held])
        for i, score in zip(held, scores, strict=True):
            out[i] = tuple(score.items)  # type: ignore[attr-defined]
    assert all(items is not None for items in out)
    return [items for items in out if items is not None]
