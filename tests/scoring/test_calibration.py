"""Patient-level conformal intervals: they hold their level for a new patient, or say nothing."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.calibration import MIN_PATIENTS, Calibration


def _clustered(rng: np.random.Generator, patients: int, windows: int, icc: float) -> np.ndarray:
    """Residuals (patients, windows): `icc` of the variance is the patient's."""
    shared = rng.standard_normal((patients, 1)) * np.sqrt(icc)
    return 3.0 * (shared + rng.standard_normal((patients, windows)) * np.sqrt(1 - icc))


def _new_patient_coverage(*, by_patient: bool, patients: int, reps: int = 400) -> float:
    """Mean share of a new patient's windows inside the interval fitted on `patients` calibration
    patients of 6 windows each."""
    rng = np.random.default_rng(5)
    covered = []
    for _ in range(reps):
        calibration_set = _clustered(rng, patients, 6, icc=0.8)
        groups = [f"p{p}" for p in range(patients) for _ in range(6)] if by_patient else None
        cal = Calibration.fit(list(calibration_set.ravel()), coverage=0.8, groups=groups, min_patients=1)
        new_patients = _clustered(rng, 20, 6, icc=0.8)
        covered.append(float((np.abs(new_patients) <= cal.half_width).mean()))
    return float(np.mean(covered))


def test_its_interval_holds_its_level_for_a_new_patient_on_clustered_residuals() -> None:
    assert abs(_new_patient_coverage(by_patient=True, patients=MIN_PATIENTS) - 0.8) < 0.03
    assert abs(_new_patient_coverage(by_patient=True, patients=4) - 0.8) < 0.03
    # Counting a patient's windows as independent residuals falls short for a new patient (2 patients,
    # 12 windows, where a patient-level interval says "too few patients to say").
    assert _new_patient_coverage(by_patient=False, patients=2) < 0.77


def test_it_withholds_the_interval_below_the_minimum_of_patients() -> None:
    residuals = [float(r) for r in range(-20, 20)]
    few = Calibration.fit(residuals, coverage=0.8, groups=[f"p{i % 5}" for i in range(40)])
    assert not few.stated and few.half_width == 27.0 and few.patients == 5
    assert few.withheld.startswith("too few patients to say: 5 calibration patient(s)")
    assert few.interval(10.0) == (0.0, 27.0)
    enough = Calibration.fit(residuals, coverage=0.8, groups=[f"p{i % 8}" for i in range(40)])
    assert enough.stated and enough.half_width < 27.0 and enough.patients == 8
    assert Calibration.from_dict(few.to_dict()) == few


def test_one_residual_per_patient_is_split_conformal_interpolated() -> None:
    residuals = [1.0, -2.0, 3.0, -4.0, 0.5, 0.2, -0.1, 2.5, 1.5, 6.0]  # 10 patients, one each
    cal = Calibration.fit(residuals, coverage=0.8)
    # rank (10 + 1) * 0.8 = 8.8: between the 8th (3.0) and 9th (4.0) smallest |r|
    assert cal.half_width == pytest.approx(3.8)
