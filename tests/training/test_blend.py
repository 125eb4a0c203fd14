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


def test_a_blend_fitted_on_the_patients_that_chose_the_epochs_is_shrunk_towards_equal_weights() -> None:
    """The early-stopping patients chose each member's epoch and the lexical alpha: on them the weights
    fitted are optimistic, so they are shrunk by P / (P + BLEND_SHRINK_PATIENTS)."""
    from training.blend import BLEND_SHRINK_PATIENTS

    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 27, 60), rng.uniform(0, 27, 60)
    truth = 0.3 * a + 0.7 * b
    groups = [f"p{i % BLEND_SHRINK_PATIENTS}" for i in range(60)]  # as many patients as the prior
    blend = fit_blend(
        {"m0": a, "lexical": b},
        {"m0": "heads", "lexical": "lexical"},
        truth,
        fitted_on="early-stopping patients",
        groups=groups,
        shrink_patients=BLEND_SHRINK_PATIENTS,
    )
    assert blend["fitted_by_kind"] == {"heads": 0.3, "lexical": 0.7}
    assert blend["by_kind"] == pytest.approx({"heads": 0.4, "lexical": 0.6})  # half-way to equal
    assert blend["shrunk_towards_equal"]["fitted_share"] == 0.5


def test_the_ensemble_blend_is_shrunk_because_its_patients_also_early_stopped() -> None:
    import torch

    from tests.conftest import make_examples
    from training.calibrate import fit_member_blend

    stop = make_examples(12, groups=4)

    class _Members:
        def member_items(self, windows: list) -> dict:
            truth = torch.tensor([[e.total / 9] * 9 for e in stop])
            return {"m0": truth, "lexical": truth + 3.0}  # m0 is perfect on these patients

    members = [{"name": "m0", "mode": "heads"}, {"name": "lexical", "mode": "lexical"}]
    blend = fit_member_blend(_Members(), members, stop)  # type: ignore[arg-type]
    assert blend["fitted_by_kind"] == {"heads": 1.0, "lexical": 0.0}
    assert 0.5 < blend["by_kind"]["heads"] < 1.0 and blend["shrunk_towards_equal"]["patients"] == 4
