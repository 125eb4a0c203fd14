"""Prediction intervals by split-conformal calibration on held-out residuals of the ensemble total.

One half-width for every score leaves the interval too wide for low scores and too narrow for high
ones (coverage held on average, not in each band). So the residuals are also grouped by the band of
the predicted total (Mondrian conformal): a band with at least MIN_PER_BAND calibration residuals gets
its own half-width; the others use the pooled one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scoring.phq9 import TOTAL_MAX, band_for

MIN_PER_BAND = 10  # calibration residuals a band needs for a half-width of its own


def _conformal_half_width(residuals: list[float], coverage: float) -> float:
    """The ceil((n+1)·coverage)-th smallest |residual| (the whole scale if there are too few)."""
    scores = sorted(abs(r) for r in residuals)
    k = math.ceil((len(scores) + 1) * coverage)
    return float(TOTAL_MAX) if k > len(scores) else scores[k - 1]


@dataclass(frozen=True)
class Calibration:
    method: str
    coverage: float  # target share of true totals inside the interval
    half_width: float  # points either side of the predicted total (pooled over bands)
    n: int  # residuals it was fitted on
    by_band: dict[str, float] = field(default_factory=dict)  # predicted band key -> its own half-width

    @classmethod
    def fit(
        cls, residuals: list[float], *, coverage: float = 0.8, predicted: list[float] | None = None
    ) -> Calibration:
        """Split-conformal on `residuals` (predicted - true); with `predicted` (the totals they belong
        to) also per predicted band where a band has enough of them."""
        if not 0 < coverage < 1:
            raise ValueError("coverage must lie strictly between 0 and 1")
        by_band: dict[str, float] = {}
        if predicted is not None:
            grouped: dict[str, list[float]] = {}
            for total, residual in zip(predicted, residuals, strict=True):
                grouped.setdefault(band_for(total).key, []).append(residual)
            by_band = {
                key: _conformal_half_width(values, coverage)
                for key, values in grouped.items()
                if len(values) >= MIN_PER_BAND
            }
        return cls(
            method="split-conformal by predicted band" if by_band else "split-conformal",
            coverage=coverage,
            half_width=_conformal_half_width(residuals, coverage),
            n=len(residuals),
            by_band=by_band,
        )

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
        )
