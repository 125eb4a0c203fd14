"""Promotion rules: whether a newly trained model replaces the one in use.

- `promotion_decision`: a candidate against the active model, both scored on the same held-out test
  patients, neither trained on. **Non-inferiority**: the burden of proof is on the candidate. It is
  promoted only when the upper bound of its paired, patient-level MAE difference (candidate minus active,
  one-sided 95%, patient bootstrap widened for few patients) lies below the margin (`margin` times the
  active model's MAE on those patients), on at least
  `min_patients` test patients; with fewer, the run stays a candidate for an admin to judge, with the
  numbers. A candidate whose AUC@10 is lower beyond the noise is kept back too.
- `first_model_gate`: the first trained model against the LLM rater of a cold start, by the same rule on
  the test patients both scored.

Each returns a `Decision`: promote or not, the reason in words, and the numbers behind it (the run page
shows all three). `python -m training benchmark loop` measures how often this rule promotes a truly worse
or a truly better model at a clinic's size (training/bench/loop.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scoring.phq9 import CASENESS
from scoring.types import LabeledWindow
from training.metrics import (
    auc,
    bootstrap_weights,
    percentile_interval,
    weighted_auc,
    weighted_mae,
    widened,
)

LEVEL = 0.95  # one-sided level of the bound on the MAE difference (and on each end of AUC@10's)


@dataclass(frozen=True)
class PairedPoints:
    """Both models' predicted totals on the same held-out windows, with each window's patient."""

    truth: list[float]
    candidate: list[float]
    active: list[float]
    groups: list[str]


@dataclass(frozen=True)
class PromotionRule:
    """The rule's settings: PROMOTION_MAE_MARGIN, PROMOTION_MIN_TEST_PATIENTS, PROMOTION_MAX_AUC_DROP."""

    margin: float  # share of the active's MAE the upper bound of candidate - active must lie below
    min_patients: int  # test patients both scored; below it an admin judges
    max_auc_drop: float = 0.0  # kept back when AUC@10 is lower by more than this beyond the noise


@dataclass(frozen=True)
class Decision:
    promote: bool
    text: str
    numbers: dict = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """ "promoted", "kept as candidate" or "for an admin to judge" (too few test patients)."""
        return str(self.numbers.get("outcome", "promoted" if self.promote else "kept as candidate"))


def _mae_of(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.abs(predicted - truth).mean())


def _auc10_of(truth: np.ndarray, predicted: np.ndarray) -> float | None:
    return auc(truth >= CASENESS, predicted)


def paired_numbers(paired: PairedPoints, *, rounds: int = 1000, seed: int = 0) -> dict:
    """The paired, patient-level differences (candidate minus active) of MAE and AUC@10: each value, its
    one-sided 95% upper bound of the MAE's, the two-sided 90% interval of AUC@10's (None where the
    resamples cannot define them) and the patients they rest on."""
    truth = np.asarray(paired.truth, dtype=float)
    cand, act = np.asarray(paired.candidate, dtype=float), np.asarray(paired.active, dtype=float)
    patients = len(set(paired.groups))
    # Both models scored on each resample of patients (vectorised: the loop benchmark runs this thousands
    # of times), so the shared difficulty of the windows cancels out.
    # A two-sided interval at 1 - 2(1 - LEVEL) gives the one-sided bound at LEVEL on each side.
    two_sided = 1 - 2 * (1 - LEVEL)
    mae_value: float | None = None
    auc_value: float | None = None
    mae_raw: list[float] | None = None
    auc_raw: list[float] | None = None
    if len(truth):
        weights = bootstrap_weights(paired.groups, len(truth), rounds=rounds, seed=seed)
        mae_value = _mae_of(truth, cand) - _mae_of(truth, act)
        mae_raw = percentile_interval(
            weighted_mae(weights, truth, cand) - weighted_mae(weights, truth, act), level=two_sided
        )
        auc_c, auc_a = _auc10_of(truth, cand), _auc10_of(truth, act)
        auc_value = None if auc_c is None or auc_a is None else auc_c - auc_a
        positive = truth >= CASENESS
        auc_raw = percentile_interval(
            weighted_auc(weights, positive, cand) - weighted_auc(weights, positive, act), level=two_sided
        )
    mae_ci = widened(mae_raw, mae_value, patients, level=two_sided)
    auc_ci = widened(auc_raw, auc_value, patients, level=two_sided)
    return {
        "patients": patients,
        "windows": len(truth),
        "level": LEVEL,
        "candidate_mae": _mae_of(truth, cand) if len(truth) else None,
        "active_mae": _mae_of(truth, act) if len(truth) else None,
        "mae_difference": mae_value,
        "mae_upper": None if mae_ci is None else mae_ci[1],
        "auc_difference": auc_value,
        "auc_interval": auc_ci,  # two-sided 90%: each end a one-sided 95% bound
    }


def promotion_decision(
    *,
    paired: PairedPoints | None,
    rule: PromotionRule,
    active_exists: bool = True,
    rounds: int = 1000,
    against: str = "active",
) -> Decision:
    """Should the candidate replace the active model? (See the module's docstring.) `paired`: both
    models' totals on the test windows of patients neither trained on; `against` names the model compared
    with in the text ("LLM rater" for the cold-start gate)."""
    if not active_exists:
        return Decision(True, "no active model: the candidate is promoted", {"outcome": "promoted"})
    if paired is None or not paired.truth:
        return Decision(
            False,
            f"for an admin to judge: no held-out test patient was scored by both the candidate and the "
            f"{against}, so the candidate cannot be shown to be no worse",
            {"outcome": "for an admin to judge", "patients": 0, "min_patients": rule.min_patients},
        )
    numbers = paired_numbers(paired, rounds=rounds)
    margin = rule.margin * numbers["active_mae"]  # in MAE points
    numbers.update(margin_share=rule.margin, margin=margin, min_patients=rule.min_patients)
    numbers["max_auc_drop"] = rule.max_auc_drop
    upper, auc_ci = numbers["mae_upper"], numbers["auc_interval"]
    detail = (
        f"MAE {numbers['candidate_mae']:.3f} vs {against} {numbers['active_mae']:.3f}, difference "
        f"{numbers['mae_difference']:+.3f} (one-sided 95% upper bound {_rounded(upper, signed=True)}; "
        f"margin {margin:.3f} = {rule.margin:.0%} of the {against}'s MAE); "
        f"AUC@10 difference {_rounded(numbers['auc_difference'], signed=True)} "
        f"({_interval(auc_ci)}); {numbers['patients']} held-out patient(s), "
        f"{numbers['windows']} window(s), resampled by patient"
    )
    if numbers["patients"] < rule.min_patients:
        numbers["outcome"] = "for an admin to judge"
        return Decision(
            False,
            f"for an admin to judge: {numbers['patients']} held-out test patient(s), fewer than the "
            f"{rule.min_patients} (PROMOTION_MIN_TEST_PATIENTS) an automatic decision needs; {detail}",
            numbers,
        )
    # AUC@10 keeps a candidate back only when lower beyond the noise (its upper bound below -max_auc_drop).
    auc_clearly_worse = auc_ci is not None and auc_ci[1] < -rule.max_auc_drop
    if upper is not None and upper < margin and not auc_clearly_worse:
        numbers["outcome"] = "promoted"
        return Decision(True, f"promoted (no worse than the {against} within the margin): {detail}", numbers)
    numbers["outcome"] = "kept as candidate"
    mae_shown = upper is not None and upper < margin
    why = (
        "its AUC@10 is lower beyond the noise"
        if mae_shown
        else f"the upper bound of its MAE difference is not below the margin {margin:.3f}"
    )
    return Decision(False, f"kept as candidate ({why}): {detail}", numbers)


def _interval(ci: list[float] | None) -> str:
    return "no interval" if ci is None else f"90% interval {ci[0]:+.3f} to {ci[1]:+.3f}"


def _rounded(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def first_model_gate(
    *,
    questionnaire_patients: int,
    min_patients: int,
    test: list[LabeledWindow],
    candidate: dict[str, float],
    rater: dict[str, float],
    rule: PromotionRule,
    rounds: int = 1000,
) -> Decision:
    """Whether the first trained model may replace the LLM rater: questionnaires from at least
    `min_patients` patients, and on the held-out test windows the rater could rate (`rater`: window id
    -> its total, mapped by a map fitted without the test patients; `candidate`: window id -> the
    model's) the non-inferiority rule of `promotion_decision` (paired patient bootstrap, at least
    `rule.min_patients` shared test patients). Otherwise the model stays a candidate."""
    if questionnaire_patients < min_patients:
        return Decision(
            False,
            f"kept as candidate (first model): questionnaires from {questionnaire_patients} patient(s), "
            f"the first model needs {min_patients} (COLD_START_FIRST_MODEL_MIN_PATIENTS); the LLM rater "
            "goes on scoring",
            {"outcome": "kept as candidate", "questionnaire_patients": questionnaire_patients},
        )
    shared = [e for e in test if e.window.id in rater and e.window.id in candidate]
    paired = PairedPoints(
        truth=[e.total for e in shared],
        candidate=[candidate[e.window.id] for e in shared],
        active=[rater[e.window.id] for e in shared],
        groups=[e.patient for e in shared],
    )
    decision = promotion_decision(paired=paired, rule=rule, rounds=rounds, against="LLM rater")
    n = len({e.patient for e in shared})
    return Decision(
        decision.promote,
        f"first model vs the LLM rater on {len(shared)} test windows of {n} patient(s): {decision.text}",
        {**decision.numbers, "questionnaire_patients": questionnaire_patients},
    )


def fresh_test_windows(test: list[LabeledWindow], active_manifest: dict) -> tuple[list[LabeledWindow], str]:
    """The held-out test windows a candidate and the active model may be compared on: those of patients
    neither trained on (the candidate never trains on its test patients; the active model's manifest
    lists in `trained_patients` every patient whose text it trained on, labelled or pseudo-labelled; a
    patient pseudo-labelled at one run may answer a questionnaire and be tested at the next). Returns
    them and what the comparison rests on, in words for the run page."""
    trained = active_manifest.get("trained_patients")
    if trained is None:
        return test, (
            "all held-out test patients: the active version's artifact does not list the patients it "
            "trained on (made before versions recorded them)"
        )
    trained_set = set(trained)
    fresh = [e for e in test if e.patient not in trained_set]
    left_out = len({e.patient for e in test}) - len({e.patient for e in fresh})
    selected_on = set(active_manifest.get("test_set", {}).get("patients", [])) & {e.patient for e in fresh}
    note = f"{len({e.patient for e in fresh})} held-out test patient(s) neither version trained on"
    if left_out:
        note += f" ({left_out} left out: the active version trained on their text)"
    if selected_on:
        note += (
            f"; {len(selected_on)} of them decided the active version's own promotion, so its figures "
            "there are optimistic"
        )
    return fresh, note
