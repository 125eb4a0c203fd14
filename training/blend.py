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
# The blend is fitted on the early-stopping patients, the same ones that chose each member's epoch and
# the lexical member's alpha: on them every member looks better than it is, the one tuned hardest most.
# So the fitted kind weights are shrunk towards equal weights, as if that many more patients had found
# the kinds equal: with 20 early-stopping patients half the fitted departure from equal is kept. A
# chosen prior strength, not a measured one (there are no other patients to measure it on).
BLEND_SHRINK_PATIENTS = 20


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
    groups: list[str] | None = None,
    shrink_patients: int = 0,
) -> dict:
    """`predictions`: member name -> (N,) predicted totals on the fitting windows (empty: no validation
    patients, equal kind weights); `kinds`: member name -> kind. With `groups` (the patient of each
    window) and `shrink_patients`, the fitted kind weights are shrunk towards equal weights by
    P / (P + shrink_patients) for P patients (BLEND_SHRINK_PATIENTS). Returns the manifest's `blend`."""
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
        if groups is not None and shrink_patients > 0:
            patients = len(set(groups))
            kept = patients / (patients + shrink_patients)
            equal = np.full(len(kind_names), 1.0 / len(kind_names))
            result["fitted_by_kind"] = {
                k: round(float(w), 4) for k, w in zip(kind_names, kind_weights, strict=True)
            }
            kind_weights = kept * kind_weights + (1 - kept) * equal
            result["shrunk_towards_equal"] = {
                "patients": patients,
                "prior_patients": shrink_patients,
                "fitted_share": round(kept, 4),
                "why": "fitted on the patients that also chose the members' epochs and the lexical alpha",
            }
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
