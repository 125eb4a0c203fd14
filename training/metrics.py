"""Evaluation of predicted PHQ-9 totals (and items) against ground truth."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.stats import norm, rankdata
from scipy.stats import t as student_t

from scoring.phq9 import BANDS, band_for

AUC_THRESHOLDS = tuple(range(3, 25))
# Patients a 95% bootstrap interval needs: with fewer, the interval covers well under its level even
# widened (`python -m training benchmark loop` measures it), so none is stated.
MIN_CI_PATIENTS = 10


def _auc(y_true: np.ndarray, y_score: np.ndarray, threshold: int) -> float | None:
    """AUC of y_score for y_true >= threshold; None (undefined) with one class. By ranks (`auc`, equal
    to scikit-learn's roc_auc_score, ties counting half), fast enough for a bootstrap."""
    return auc(y_true >= threshold, y_score)


def _mae(t: np.ndarray, p: np.ndarray) -> float:
    return float(np.abs(p - t).mean())


def _rmse(t: np.ndarray, p: np.ndarray) -> float:
    return float(math.sqrt(((p - t) ** 2).mean()))


def _pearson(t: np.ndarray, p: np.ndarray) -> float | None:
    return float(np.corrcoef(t, p)[0, 1]) if len(t) > 1 and t.std() > 0 and p.std() > 0 else None


def regression_report(
    y_true: list[float],
    y_pred: list[float],
    *,
    intervals: list[tuple[float, float]] | None = None,
    items_true: list[tuple[float, ...] | None] | None = None,
    items_pred: list[tuple[float, ...]] | None = None,
    groups: list[str] | None = None,
    bootstrap_rounds: int = 1000,
    seed: int = 13,
) -> dict:
    """MAE, RMSE, Pearson r, AUC at >= 10 and at every threshold 3..24, per-band recall, per-item MAE,
    interval coverage. Undefined values (one class, constant input) are None, never a made-up number.
    With `groups` (the patient of each window), `ci` holds 95% patient-level bootstrap intervals of
    MAE, RMSE, r and AUC@10 (None where too few resamples define the metric; withheld, with the reason,
    below MIN_CI_PATIENTS patients). The other thresholds' AUCs carry no interval."""
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    n = len(t)
    report: dict = {"n": n}
    if n == 0:
        return report
    report["mae"] = _mae(t, p)
    report["rmse"] = _rmse(t, p)
    report["pearson_r"] = _pearson(t, p)
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
    if groups is not None and n > 1:
        report["ci"] = _patient_intervals(t, p, groups, rounds=bootstrap_rounds, seed=seed)
    if intervals is not None:
        inside = [lo <= y <= hi for y, (lo, hi) in zip(t, intervals, strict=True)]
        report["interval_coverage"] = sum(inside) / n
        # Coverage within each true band: an interval can hold its target on average and fail where
        # it matters (the severe patients).
        report["interval_coverage_by_band"] = {
            band.key: (
                sum(ok for ok, b in zip(inside, true_bands, strict=True) if b == band.key)
                / sum(b == band.key for b in true_bands)
                if band.key in true_bands
                else None
            )
            for band in BANDS
        }
        report["interval_mean_width"] = float(np.mean([hi - lo for lo, hi in intervals]))
    if items_true is not None and items_pred is not None:
        pairs = [(a, b) for a, b in zip(items_true, items_pred, strict=True) if a is not None]
        if pairs:
            it = np.asarray([a for a, _ in pairs], dtype=float)
            ip = np.asarray([b for _, b in pairs], dtype=float)
            report["item_mae"] = [float(v) for v in np.abs(ip - it).mean(axis=0)]
    return report


def _patient_intervals(t: np.ndarray, p: np.ndarray, groups: list[str], *, rounds: int, seed: int) -> dict:
    """95% patient-bootstrap intervals of MAE, RMSE, r and AUC@10, widened for few patients (`widened`);
    withheld, with the reason, below MIN_CI_PATIENTS patients, where no interval holds its level."""
    patients = len(set(groups))
    ci: dict = {"level": 0.95, "resampled": "patients", "patients": patients}
    if patients < MIN_CI_PATIENTS:
        ci["withheld"] = (
            f"too few patients to say: {patients} patient(s), a 95% interval needs {MIN_CI_PATIENTS}"
        )
        return ci
    weights = bootstrap_weights(groups, len(t), rounds=rounds, seed=seed)
    resampled = {
        "mae": (_mae(t, p), weighted_mae(weights, t, p)),
        "rmse": (_rmse(t, p), weighted_rmse(weights, t, p)),
        "pearson_r": (_pearson(t, p), weighted_pearson(weights, t, p)),
        "auc_at_10": (_auc(t, p, 10), weighted_auc(weights, t >= 10, p)),
    }
    for name, (value, values) in resampled.items():
        ci[name] = widened(percentile_interval(values), value, patients, level=0.95)
    return ci


# ---- rank metrics with bootstrap intervals --------------------------------------------------------
# Resampling is by group (patient, or post where each post is its own author): every window of a drawn
# group comes along, so windows of one person never count as independent evidence.


def auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve: the share of (positive, negative) pairs the score ranks right, ties
    counting half (equal to scikit-learn's roc_auc_score); None with one class only. By binary search
    over the sorted negatives, fast enough for a bootstrap's thousands of calls."""
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=float)
    pos, neg = score[positive], np.sort(score[~positive])
    if len(pos) == 0 or len(neg) == 0:
        return None
    below = np.searchsorted(neg, pos, side="left")
    tied = np.searchsorted(neg, pos, side="right") - below
    return float((below.sum() + 0.5 * tied.sum()) / (len(pos) * len(neg)))


def spearman(ordinal: np.ndarray, score: np.ndarray) -> float | None:
    """Spearman's rho (Pearson on average ranks); None when either side is constant."""
    a, b = rankdata(ordinal), rankdata(score)
    if a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _group_index(groups: list[str] | None, n: int) -> list[np.ndarray]:
    if groups is None:
        return [np.array([i]) for i in range(n)]
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    return [np.array(v) for v in by_group.values()]


def _group_draws(
    groups: list[str] | None, n: int, *, rounds: int, seed: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each group's window indices, and (rounds, G) the groups each resample draws, with replacement."""
    members = _group_index(groups, n)
    rng = np.random.default_rng(seed)
    return members, rng.integers(0, len(members), size=(rounds, len(members)))


def bootstrap_samples(groups: list[str] | None, n: int, *, rounds: int, seed: int) -> list[np.ndarray]:
    """`rounds` index arrays, each drawing as many groups as there are, with replacement."""
    members, draws = _group_draws(groups, n, rounds=rounds, seed=seed)
    return [np.concatenate([members[j] for j in row]) for row in draws]


def bootstrap_weights(groups: list[str] | None, n: int, *, rounds: int, seed: int) -> np.ndarray:
    """The resamples of `bootstrap_samples` (same groups, seed and draws) as (rounds, n) weights: how
    often each window is drawn in each resample. The metrics below take them for all resamples at once
    (a vectorised bootstrap, so the loop benchmark's thousands of runs take minutes)."""
    members, draws = _group_draws(groups, n, rounds=rounds, seed=seed)
    g = len(members)
    flat = (np.arange(rounds)[:, None] * g + draws).ravel()
    counts = np.bincount(flat, minlength=rounds * g).reshape(rounds, g).astype(float)
    owner = np.empty(n, dtype=np.intp)
    for j, idx in enumerate(members):
        owner[idx] = j
    return counts[:, owner]


def weighted_mae(weights: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(R,) MAE on each resample."""
    return (weights @ np.abs(p - t)) / weights.sum(axis=1)


def weighted_rmse(weights: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.sqrt((weights @ (p - t) ** 2) / weights.sum(axis=1))


def weighted_pearson(weights: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(R,) Pearson r on each resample; NaN where either side is constant (as `_pearson`'s None)."""
    total = weights.sum(axis=1)
    mt, mp = (weights @ t) / total, (weights @ p) / total
    dt, dp = t[None, :] - mt[:, None], p[None, :] - mp[:, None]  # (R, n)
    vt, vp = (weights * dt**2).sum(axis=1), (weights * dp**2).sum(axis=1)
    cov = (weights * dt * dp).sum(axis=1)
    tiny = 1e-12 * np.maximum(1.0, total)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(vt * vp)
    return np.where((vt > tiny) & (vp > tiny), np.clip(r, -1.0, 1.0), np.nan)


def weighted_auc(weights: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """(R,) `auc` on each resample (ties counting half); NaN where a resample has one class only. The
    windows are sorted by score once; per resample, each distinct score's positive and negative weight
    and the negative weight below it give the pairs ranked right."""
    positive = np.asarray(positive, dtype=bool)
    order = np.argsort(score, kind="stable")
    sorted_score = np.asarray(score, dtype=float)[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    w = weights[:, order]
    pos = np.add.reduceat(w * positive[order], starts, axis=1)  # (R, U)
    neg = np.add.reduceat(w * ~positive[order], starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / pairs, np.nan)


def percentile_interval(values: np.ndarray, *, level: float = 0.95) -> list[float] | None:
    """`bootstrap_interval`'s rule on vectorised resample values (NaN: undefined on that resample)."""
    defined = values[~np.isnan(values)]
    if len(defined) < max(10, len(values) // 2):
        return None
    tail = (1 - level) / 2
    return [float(np.quantile(defined, tail)), float(np.quantile(defined, 1 - tail))]


def bootstrap_interval(
    metric: Callable[..., float | None],
    *arrays: np.ndarray,
    samples: list[np.ndarray],
    level: float = 0.95,
) -> list[float] | None:
    """Percentile interval of `metric(*arrays)` over the resamples (those where it is defined)."""
    values = [v for idx in samples if (v := metric(*(np.asarray(a)[idx] for a in arrays))) is not None]
    if len(values) < max(10, len(samples) // 2):
        return None
    tail = (1 - level) / 2
    return [float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))]


def widened(ci: list[float] | None, value: float | None, groups: int, *, level: float) -> list[float] | None:
    """A percentile bootstrap interval over `groups` resampled patients, widened around `value` by
    sqrt(n / (n - 1)) * t(n - 1) / z: the bootstrap's variance is too small by (n - 1) / n and a
    normal quantile too narrow for few patients (measured in training/bench/loop.py; ~1 at hundreds)."""
    if ci is None or value is None or groups < 2:
        return None if groups < 2 else ci
    q = 1 - (1 - level) / 2
    factor = math.sqrt(groups / (groups - 1)) * float(student_t.ppf(q, groups - 1) / norm.ppf(q))
    return [value - (value - ci[0]) * factor, value + (ci[1] - value) * factor]


def paired_difference(
    metric: Callable[..., float | None],
    truth: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    *,
    samples: list[np.ndarray],
    level: float = 0.95,
) -> dict:
    """metric(a) - metric(b) on the same windows, with a paired bootstrap interval (both scored on
    each resample), so the shared difficulty of the windows cancels out."""

    def difference(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> float | None:
        ma, mb = metric(t, a), metric(t, b)
        return None if ma is None or mb is None else ma - mb

    value = difference(np.asarray(truth), np.asarray(score_a), np.asarray(score_b))
    return {
        "value": value,
        "ci": bootstrap_interval(difference, truth, score_a, score_b, samples=samples, level=level),
    }


# ---- item 9 (thoughts of self-harm) ----------------------------------------------------------------
def item9_flag_report(true_item9: list[float], pred_item9: list[float], threshold: float) -> dict:
    """How a flag at `threshold` on the model-inferred item 9 finds the windows whose self-report item 9
    is >= 1: recall, precision (None where undefined), counts."""
    t = np.asarray(true_item9, dtype=float) >= 1
    flagged = np.asarray(pred_item9, dtype=float) >= threshold
    return {
        "threshold": threshold,
        "n": int(len(t)),
        "positives": int(t.sum()),
        "flagged": int(flagged.sum()),
        "recall": float((flagged & t).sum() / t.sum()) if t.any() else None,
        "precision": float((flagged & t).sum() / flagged.sum()) if flagged.any() else None,
    }


def item9_threshold(
    true_item9: list[float], pred_item9: list[float], *, recall: float = 0.9, min_positives: int = 10
) -> dict:
    """The highest flag threshold on the model-inferred item 9 that still finds at least `recall` of
    the windows whose self-report item 9 is >= 1 (fewer false alarms at the recall a clinic needs).
    `threshold` is None, with the reason, when fewer than `min_positives` windows here have item 9 >= 1:
    a threshold chosen on a handful of windows is noise (the alert rule then keeps its own default)."""
    true = np.asarray(true_item9, dtype=float)
    pred = np.asarray(pred_item9, dtype=float)
    positive = np.sort(pred[true >= 1])
    if len(positive) < min_positives:
        return {
            "threshold": None,
            "target_recall": recall,
            "n": int(len(true)),
            "positives": int(len(positive)),
            "reason": f"{len(positive)} window(s) with self-report item 9 >= 1; "
            f"at least {min_positives} needed",
        }
    # Flag at the k-th smallest positive score: every positive at or above it is found.
    k = int(math.floor((1 - recall) * len(positive) + 1e-9))
    threshold = round(float(positive[k]), 4)
    threshold = min(threshold, float(positive[k]))  # rounding must never drop a positive below the line
    return {"target_recall": recall, **item9_flag_report(list(true), list(pred), threshold)}
