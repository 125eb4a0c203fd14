from __future__ import annotations

import numpy as np
import pytest

from training.blend import fit_blend, simplex_grid


def test_the_grid_covers_the_simplex() -> None:
    grid = simplex_grid(3, steps=4)
    assert len(grid) == 15  # C(4 + 2, 2)
    assert np.allclose(grid.sum(1), 1.0) and grid.min() >= 0
    assert simplex_grid(1).tolist() == [[1.0]]


def test_it_recovers_the_weights_that_made_the_truth() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 27, 50), rng.uniform(0, 27, 50)
    truth = 0.3 * a + 0.7 * b
    blend = fit_blend(
        {"m0": a, "m1": a, "lexical": b},
        {"m0": "heads", "m1": "heads", "lexical": "lexical"},
        truth,
        fitted_on="x",
    )
    assert blend["by_kind"] == {"heads": 0.3, "lexical": 0.7}
    # members of one kind share its weight
    assert blend["weights"] == {"m0": 0.15, "m1": 0.15, "lexical": 0.7}
    assert blend["mae_blend"] == pytest.approx(0.0, abs=1e-6)
    assert blend["mae_by_kind"]["heads"] == pytest.approx(float(np.mean(np.abs(a - truth))), abs=1e-4)


def test_a_useless_member_gets_no_weight() -> None:
    rng = np.random.default_rng(1)
    truth = rng.uniform(0, 27, 80)
    noise = rng.uniform(0, 27, 80)
    blend = fit_blend(
        {"m0": truth + rng.normal(0, 1, 80), "lexical": noise},
        {"m0": "heads", "lexical": "lexical"},
        truth,
        fitted_on="x",
    )
    assert blend["by_kind"]["lexical"] <= 0.05


def test_without_validation_windows_the_kinds_weigh_the_same() -> None:
    blend = fit_blend({}, {"m0": "heads", "m1": "heads", "lexical": "lexical"}, np.zeros(0), fitted_on="none")
    assert blend["by_kind"] == {"heads": 0.5, "lexical": 0.5}
    assert blend["weights"] == {"m0": 0.25, "m1": 0.25, "lexical": 0.5}
    one_kind = fit_blend({"m0": np.ones(3)}, {"m0": "heads"}, np.ones(3), fitted_on="x")
    assert one_kind["weights"] == {"m0": 1.0} and "one member kind" in one_kind["fitted_on"]
