"""The one statistics helper of the measuring tools: nearest-rank percentiles and medians."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable


def percentile(samples: Iterable[float], q: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least q% of the samples at or below it.
    NaN for no samples (a run that measured nothing reports that, not a crash)."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


def median(samples: Iterable[float]) -> float:
    values = list(samples)
    return statistics.median(values) if values else float("nan")
