"""Prediction intervals by split-conformal calibration on held-out residuals of the ensemble total."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scoring.phq9 import TOTAL_MAX


@dataclass(frozen=True)
class Calibration:
    method: str
    coverage: float  # target share of true totals inside the interval
    half_width: float  # points either side of the predicted total
    n: int  # residuals it was fitted on

    @classmethod
    def fit(cls, residuals: list[float], *, coverage: float = 0.8) -> Calibration:
        """Split-conformal: the ceil((n+1)·coverage)-th smallest |residual| (whole scale if too few)."""
        if not 0 < coverage < 1:
            raise ValueError("coverage must lie strictly between 0 and 1")
        scores = sorted(abs(r) for r in residuals)
        k = math.ceil((len(scores) + 1) * coverage)
        half_width = float(TOTAL_MAX) if k > len(scores) else scores[k - 1]
        return cls(method="split-conformal", coverage=coverage, half_width=half_width, n=len(scores))

    def interval(self, total: float) -> tuple[float, float]:
        return max(0.0, total - self.half_width), min(float(TOTAL_MAX), total + self.half_width)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(
            method=str(data["method"]),
            coverage=float(data["coverage"]),
            half_width=float(data["half_width"]),
            n=int(data["n"]),
        )
