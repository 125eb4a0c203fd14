"""Promotion rules: whether a newly trained model replaces the one in use.

- `promotion_decision`: a candidate against the active model, both scored on the same held-out test
  patients (with paired points: kept back only when worse beyond the noise of a patient-level bootstrap);
- `first_model_gate`: the first trained model against the LLM rater that scores during a cold start.

Both return (promote, the reason in words); the web app records the reason on the training run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.phq9 import CASENESS
from scoring.types import LabeledWindow
from training.metrics import auc, bootstrap_samples, paired_difference, regression_report


@dataclass(frozen=True)
class PairedPoints:
    """Both models' predicted totals on the same held-out windows, with each window's patient."""

    truth: list[float]
    candidate: list[float]
    active: list[float]
    groups: list[str]


def _mae_of(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.abs(predicted - truth).mean())


def _auc10_of(truth: np.ndarray, predicted: np.ndarray) -> float | None:
    return auc(truth >= CASENESS, predicted)


def promotion_decision(
    candidate: dict,
    active: dict | None,
    *,
    max_mae_increase: float = 0.0,
    max_auc_drop: float = 0.0,
    paired: PairedPoints | None = None,
    rounds: int = 1000,
    against: str = "active",
) -> tuple[bool, str]:
    """Should the candidate replace the active model? Both are scored on the same held-out test
    patients, whom neither trained on (the split is fixed by patient: training/splits.py).

    With `paired` points: keep the candidate only when it is worse beyond the noise, i.e. when the
    95% patient-level paired bootstrap interval of its MAE minus the active's lies wholly above
    `max_mae_increase`, or that of its AUC@10 minus the active's wholly below -`max_auc_drop`.
    Without them: the candidate's MAE and AUC@10 must not be worse (each within its tolerance).
    `against` names the model compared with in the decision text (the cold-start gate: "LLM rater")."""
    if active is None:
        return True, "no active model: the candidate is promoted"
    if paired is not None:
        truth = np.asarray(paired.truth, dtype=float)
        samples = bootstrap_samples(paired.groups, len(truth), rounds=rounds, seed=0)
        mae = paired_difference(
            _mae_of, truth, np.asarray(paired.candidate), np.asarray(paired.active), samples=samples
        )
        auc10 = paired_difference(
            _auc10_of, truth, np.asarray(paired.candidate), np.asarray(paired.active), samples=samples
        )
        worse_mae = mae["ci"] is not None and mae["ci"][0] > max_mae_increase
        worse_auc = auc10["ci"] is not None and auc10["ci"][1] < -max_auc_drop
        detail = (
            f"MAE {candidate['mae']:.3f} vs {against} {active['mae']:.3f} (difference {_signed(mae)}); "
            f"AUC@10 {_rounded(candidate.get('auc_at_10'))} vs {against} {_rounded(active.get('auc_at_10'))} "
            f"(difference {_signed(auc10)}); 95% intervals over {len(set(paired.groups))} held-out patients "
            f"resampled; kept only if worse beyond that noise (MAE by > {max_mae_increase:g}, AUC@10 by > "
            f"{max_auc_drop:g})"
        )
        if worse_mae or worse_auc:
            return False, f"kept as candidate: {detail}"
        return True, f"promoted: {detail}"
    mae_ok = candidate["mae"] <= active["mae"] + max_mae_increase
    c_auc, a_auc = candidate.get("auc_at_10"), active.get("auc_at_10")
    auc_ok = c_auc is None or a_auc is None or c_auc >= a_auc - max_auc_drop
    detail = (
        f"MAE {candidate['mae']:.3f} vs {against} {active['mae']:.3f}; "
        f"AUC@10 {_rounded(c_auc)} vs {against} {_rounded(a_auc)}"
    )
    if mae_ok and auc_ok:
        return True, f"promoted: {detail}"
    return False, f"kept as candidate: {detail}"


def _rounded(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _signed(difference: dict) -> str:
    value, ci = difference["value"], difference["ci"]
    if value is None:
        return "n/a"
    return f"{value:+.3f}" + ("" if ci is None else f", 95% CI {ci[0]:+.3f} to {ci[1]:+.3f}")


def first_model_gate(
    *,
    questionnaire_patients: int,
    min_patients: int,
    test: list[LabeledWindow],
    candidate: dict[str, float],
    rater: dict[str, float],
) -> tuple[bool, str]:
    """Whether the first trained model may replace the LLM rater: questionnaires from at least
    `min_patients` patients, and on the held-out test windows the rater could rate (`rater`: window id
    -> its total; `candidate`: window id -> the model's) an MAE no higher and an AUC at >= 10 no lower
    than the rater's. Without any window rated by both, the comparison cannot be made: not promoted."""
    if questionnaire_patients < min_patients:
        return False, (
            f"kept as candidate (first model): questionnaires from {questionnaire_patients} patient(s), "
            f"the first model needs {min_patients} (COLD_START_FIRST_MODEL_MIN_PATIENTS); the LLM rater "
            "goes on scoring"
        )
    shared = [e for e in test if e.window.id in rater and e.window.id in candidate]
    if not shared:
        return False, (
            "kept as candidate (first model): none of the held-out test windows could be rated by the LLM "
            "rater (no consented test patient), so the model cannot be shown to be at least as good; "
            "promote it in the admin if you accept it"
        )
    truth = [e.total for e in shared]
    groups = [e.patient for e in shared]
    model_metrics = regression_report(truth, [candidate[e.window.id] for e in shared])
    rater_metrics = regression_report(truth, [rater[e.window.id] for e in shared])
    promote, detail = promotion_decision(model_metrics, rater_metrics, against="LLM rater")
    n = len(set(groups))
    return promote, f"first model vs the LLM rater on {len(shared)} test windows of {n} patient(s): {detail}"
