"""Evaluation of predicted PHQ-9 totals (and items) against ground truth."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import roc_auc_score

from scoring.phq9 import BANDS, band_for

AUC_THRESHOLDS = tuple(range(3, 25))


def _auc(y_true: np.ndarray, y_score: np.ndarray, threshold: int) -> float | None:
    positive = y_true >= threshold
    if positive.all() or not positive.any():
        return None  # undefined with one class
    return float(roc_auc_score(positive, y_score))


def regression_report(
    y_true: list[float],
    y_pred: list[float],
    *,
    intervals: list[tuple[float, float]] | None = None,
    items_true: list[tuple[float, ...] | None] | None = None,
    items_pred: list[tuple[float, ...]] | None = None,
) -> dict:
    """MAE, RMSE, Pearson r, AUC at >= 10 and at every threshold 3..24, per-band recall, per-item MAE,
    interval coverage. Undefined values (one class, constant input) are None, never a made-up number."""
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    n = len(t)
    report: dict = {"n": n}
    if n == 0:
        return report
    err = p - t
    report["mae"] = float(np.abs(err).mean())
    report["rmse"] = float(math.sqrt((err**2).mean()))
    report["pearson_r"] = float(np.corrcoef(t, p)[0, 1]) if n > 1 and t.std() > 0 and p.std() > 0 else None
    report["auc_at_10"] = _auc(t, p, 10)
    report["auc_by_threshold"] = {str(k): _auc(t, p, k) for k in AUC_THRESHOLDS}
    true_bands = [band_for(v).key for v in t]
    pred_bands = [band_for(v).key for v in p]
    recall = {}
    for band in BANDS:
        idx = [i for i, b in enumerate(true_bands) if b == band.key]
        recall[band.key] = sum(pred_bands[i] == band.key for i in idx) / len(idx) if idx else None
    report["band_recall"] = recall
    report["band_accuracy"] = sum(a == b for a, b in zip(true_bands, pred_bands, strict=True)) / n
    if intervals is not None:
        inside = [lo <= y <= hi for y, (lo, hi) in zip(t, intervals, strict=True)]
        report["interval_coverage"] = sum(inside) / n
        report["interval_mean_width"] = float(np.mean([hi - lo for lo, hi in intervals]))
    if items_true is not None and items_pred is not None:
        pairs = [(a, b) for a, b in zip(items_true, items_pred, strict=True) if a is not None]
        if pairs:
            it = np.asarray([a for a, _ in pairs], dtype=float)
            ip = np.asarray([b for _, b in pairs], dtype=float)
            report["item_mae"] = [float(v) for v in np.abs(ip - it).mean(axis=0)]
    return report
