"""Calibration and the metrics written to the manifest (training/calibrate.py)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.conftest import make_examples
from training.calibrate import calibrate_and_evaluate


@dataclass
class _Score:
    total: float
    items: tuple[float, ...]


class _Predicts:
    """Scores each window 2 points above its self-report (a residual the training patients would give)."""

    def __init__(self, truth: dict[str, float]) -> None:
        self.truth = truth

    def predict(self, windows: list) -> list[_Score]:
        return [_Score(self.truth[w.id] + 2.0, ((self.truth[w.id] + 2.0) / 9,) * 9) for w in windows]


def test_without_held_out_calibration_patients_no_interval_is_stated_nor_called_split_conformal() -> None:
    """val_fraction 0: the only residuals are the training patients', which would make an interval far
    too narrow; none is stated, and the metrics say they are the training patients'."""
    examples = make_examples(24, groups=12)
    ensemble = _Predicts({e.window.id: e.total for e in examples})
    manifest: dict = {}
    metrics = calibrate_and_evaluate(ensemble, examples, manifest, coverage=0.8, held_out=False)  # type: ignore[arg-type]
    assert manifest["calibration"]["method"] == "withheld" and manifest["calibration"]["withheld"]
    assert "split-conformal" not in metrics["interval_method"] and metrics["interval_method"].startswith(
        "no interval"
    )
    assert metrics["evaluated_on"].startswith("training patients") and "interval_coverage" not in metrics
    held = calibrate_and_evaluate(ensemble, examples, {}, coverage=0.8, held_out=True)
    assert "patient-level split-conformal" in held["interval_method"]
