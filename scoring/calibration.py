"""Prediction intervals by split-conformal calibration on held-out residuals of the ensemble total.

The interval must hold for a **new patient**, and one patient's windows are not independent evidence
(their residuals share the patient's way of writing). So the conformal quantile counts patients, not
windows: one residual per calibration patient, drawn at random (subsampling, as in Dunn, Wasserman &
Ramdas 2022 for two-layer hierarchical data), the |residual| at rank (P + 1) * coverage of the P drawn,
interpolated between neighbours so that the interval neither falls short nor overshoots its level; the
half-width is the median of that quantile over many seeded draws (with one window per patient: plain
split-conformal, interpolated). Below MIN_PATIENTS calibration patients no interval is stated ("too few
patients to say"; stored as the whole scale, 0-27).
`python -m training benchmark loop` measures the coverage on new patients (training/bench/loop.py).

One half-width for every score leaves the interval too wide for low scores and too narrow for high
ones (coverage held on average, not in each band). So the residuals are also grouped by the band of
the predicted total (Mondrian conformal): a band with residuals of at least MIN_PER_BAND patients gets
its own half-width; the others use the pooled one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scoring.phq9 import TOTAL_MAX, band_for

SUBSAMPLES = 200  # draws of one residual per patient (their quantiles' median is the half-width)
SUBSAMPLE_SEED = 0  # fixed: the same residuals give the same interval
MIN_PATIENTS = 6  # calibration patients an interval needs (the rank (P + 1) * 80% must exist: P >= 4)
MIN_PER_BAND = 10  # calibration patients a band needs for a half-width of its own
WITHHELD = "too few patients to say"


def _conformal_half_width(residuals: list[float], groups: list[str], coverage: float) -> float | None:
    """The conformal quantile of |residual| with one residual per patient (see the module's docstring):
    the median over SUBSAMPLES seeded draws of each patient's residual (their mean overshoots the level);
    None when there are too few patients for the rank (P + 1) * coverage to exist."""
    by_patient: dict[str, list[float]] = {}
    for g, r in zip(groups, residuals, strict=True):
        by_patient.setdefault(g, []).append(abs(r))
    patients = len(by_patient)
    rank = (patients + 1) * coverage  # 1-based, interpolated between neighbouring residuals
    if patients == 0 or rank > patients:
        return None
    pools = [np.asarray(v) for _, v in sorted(by_patient.items())]
    rng = np.random.default_rng(SUBSAMPLE_SEED)
    draws = 1 if all(len(p) == 1 for p in pools) else SUBSAMPLES
    drawn = np.sort(np.column_stack([p[rng.integers(len(p), size=draws)] for p in pools]), axis=1)  # (D, P)
    below = min(max(int(np.floor(rank)), 1), patients)  # 1-based rank of the residual at or below
    above = min(below + 1, patients)
    fraction = min(max(rank - below, 0.0), 1.0)
    widths = drawn[:, below - 1] + fraction * (drawn[:, above - 1] - drawn[:, below - 1])
    return float(np.median(widths))


@dataclass(frozen=True)
class Calibration:
    method: str
    coverage: float  # target share of a new patient's true totals inside the interval
    half_width: float  # points either side of the predicted total (pooled over bands)
    n: int  # residuals it was fitted on
    by_band: dict[str, float] = field(default_factory=dict)  # predicted band key -> its own half-width
    patients: int = 0  # calibration patients (0: an artifact from before intervals counted patients)
    withheld: str = ""  # why no interval is stated ("" when one is)

    @classmethod
    def fit(
        cls,
        residuals: list[float],
        *,
        coverage: float = 0.8,
        predicted: list[float] | None = None,
        groups: list[str] | None = None,
        min_patients: int = MIN_PATIENTS,
    ) -> Calibration:
        """Patient-level split-conformal on `residuals` (predicted - true) of the patients `groups`
        (each residual its own patient when None); with `predicted` (the totals they belong to) also
        per predicted band where a band has enough patients. Below `min_patients` patients the interval
        is withheld (the whole scale, with the reason)."""
        if not 0 < coverage < 1:
            raise ValueError("coverage must lie strictly between 0 and 1")
        if groups is None:
            groups = [f"residual-{i}" for i in range(len(residuals))]
        if len(groups) != len(residuals):
            raise ValueError("groups must name the patient of every residual")
        patients = len(set(groups))
        half_width = _conformal_half_width(residuals, groups, coverage)
        if patients < min_patients or half_width is None:
            why = f"{WITHHELD}: {patients} calibration patient(s), an interval needs {min_patients}"
            return cls.none(coverage=coverage, why=why, n=len(residuals), patients=patients)
        by_band: dict[str, float] = {}
        if predicted is not None:
            grouped: dict[str, tuple[list[float], list[str]]] = {}
            for total, residual, group in zip(predicted, residuals, groups, strict=True):
                values, owners = grouped.setdefault(band_for(total).key, ([], []))
                values.append(residual)
                owners.append(group)
            for key, (values, owners) in grouped.items():
                width = _conformal_half_width(values, owners, coverage)
                if len(set(owners)) >= MIN_PER_BAND and width is not None:
                    by_band[key] = width
        return cls(
            method="patient-level split-conformal" + (" by predicted band" if by_band else ""),
            coverage=coverage,
            half_width=half_width,
            n=len(residuals),
            by_band=by_band,
            patients=patients,
        )

    @classmethod
    def none(cls, *, coverage: float, why: str, n: int = 0, patients: int = 0) -> Calibration:
        """No interval stated (the whole scale), and `why`."""
        return cls(
            method="withheld",
            coverage=coverage,
            half_width=float(TOTAL_MAX),
            n=n,
            patients=patients,
            withheld=why,
        )

    @property
    def stated(self) -> bool:
        """Whether the interval states anything (not withheld for too few patients)."""
        return not self.withheld

    def interval(self, total: float) -> tuple[float, float]:
        half_width = (
            self.by_band.get(band_for(total).key, self.half_width) if self.by_band else self.half_width
        )
        return max(0.0, total - half_width), min(float(TOTAL_MAX), total + half_width)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "coverage": self.coverage,
            "half_width": self.half_width,
            "n": self.n,
            "by_band": dict(self.by_band),
            "patients": self.patients,
            "withheld": self.withheld,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(
            method=str(data["method"]),
            coverage=float(data["coverage"]),
            half_width=float(data["half_width"]),
            n=int(data["n"]),
            by_band={
                str(k): float(v) for k, v in (data.get("by_band") or {}).items()
            },  # older artifacts: none
            patients=int(data.get("patients", 0)),
            withheld=str(data.get("withheld", "")),
        )
