"""Blend weights of an ensemble's members: a constrained linear blend of member kinds.

Members of one kind (the transformer seeds, say) are averaged; the kinds get non-negative weights that
sum to 1, chosen on validation patients to minimise the squared error of the total over a grid of the
simplex (step 0.05). Few parameters on purpose: a handful of validation patients cannot support more,
and a convex blend of calibrated members stays on the 0..27 scale. Written to the manifest's `blend`
and applied by `scoring.ensemble.Ensemble.predict`, which every entry point uses.
"""

from __future__ import annotations

import itertools

import numpy as np

GRID_STEPS = 20  # weights in multiples of 1/20


def simplex_grid(k: int, steps: int = GRID_STEPS) -> np.ndarray:
    """(M, k) every weight vector with entries in multiples of 1/steps summing to 1."""
    if k == 1:
        return np.ones((1, 1))
    rows = [
        (*cuts, steps - sum(cuts))
        for cuts in itertools.product(range(steps + 1), repeat=k - 1)
        if sum(cuts) <= steps
    ]
    return np.array(rows, dtype=float) / steps


def fit_blend(
    predictions: dict[str, np.ndarray],
    kinds: dict[str, str],
    truth: np.ndarray,
    *,
    fitted_on: str,
) -> dict:
    """`predictions`: member name -> (N,) predicted totals on the fitting windows (empty: no validation
    patients, equal kind weights); `kinds`: member name -> kind. Returns the manifest's `blend`."""
    kind_names = sorted(set(kinds.values()))
    by_kind_members = {k: sorted(n for n, kind in kinds.items() if kind == k) for k in kind_names}
    result: dict = {
        "fitted_on": fitted_on,
        "objective": "squared error of the total",
        "n_windows": len(truth),
    }
    if not predictions or len(truth) == 0 or len(kind_names) == 1:
        kind_weights = np.full(len(kind_names), 1.0 / len(kind_names))
        if len(kind_names) == 1:
            result["fitted_on"] = "one member kind: nothing to blend"
    else:
        per_kind = np.stack(
            [np.mean([predictions[n] for n in by_kind_members[k]], axis=0) for k in kind_names]
        )
        grid = simplex_grid(len(kind_names))
        errors = ((grid @ per_kind - truth[None, :]) ** 2).mean(axis=1)  # (M,)
        # Ties (flat error surfaces) go to the most even blend, not to the grid's first corner.
        evenness = -np.abs(grid - 1.0 / len(kind_names)).sum(axis=1)
        best = int(np.lexsort((-evenness, np.round(errors, 9)))[0])
        kind_weights = grid[best]
        result["mae_by_kind"] = {
            k: round(float(np.mean(np.abs(per_kind[i] - truth))), 4) for i, k in enumerate(kind_names)
        }
        result["mae_blend"] = round(float(np.mean(np.abs(kind_weights @ per_kind - truth))), 4)
    result["by_kind"] = {k: round(float(w), 4) for k, w in zip(kind_names, kind_weights, strict=True)}
    result["weights"] = {
        name: round(float(kind_weights[i]) / len(by_kind_members[k]), 6)
        for i, k in enumerate(kind_names)
        for name in by_kind_members[k]
    }
    return result
