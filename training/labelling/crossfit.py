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
    groups = sorted({e.patient for e in examples})
    k = max(2, min(folds, len(groups)))
    fold = {g: fold_of(g, k) for g in groups}
    out: list[tuple[float, ...] | None] = [None] * len(examples)
    for f in range(k):
        held = [i for i, e in enumerate(examples) if fold[e.patient] == f]
        if not held:
            continue
        model = fit([e for e in examples if fold[e.patient] != f])
        scores = model.predict([examples[i].window for i in held])
        for i, score in zip(held, scores, strict=True):
            out[i] = tuple(score.items)  # type: ignore[attr-defined]
    assert all(items is not None for items in out)
    return [items for items in out if items is not None]


def relabelled(
    examples: list[LabeledWindow], predictions: list[tuple[float, ...]], *, blend: float, round_: int
) -> list[LabeledWindow]:
    """The examples with each item label moved towards the re-scored one: `blend` is the model's share
    (clipped to 0..3; a label with only a total counts as that total spread over the nine items)."""
    out = []
    for e, pred in zip(examples, predictions, strict=True):
        previous = e.items or tuple(e.total / 9 for _ in range(9))
        items = tuple(
            min(3.0, max(0.0, blend * p + (1 - blend) * q)) for p, q in zip(pred, previous, strict=True)
        )
        out.append(
            LabeledWindow(
                window=e.window,
                total=sum(items),
                items=items,
                group=e.group,
                weight=e.weight,
                source=f"relabel:{round_}",
                meta=e.meta,
            )
        )
    return out
