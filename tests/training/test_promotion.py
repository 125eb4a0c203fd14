"""Promotion rules: non-inferiority against the active model, the first model against the LLM rater,
and comparisons only on patients neither version trained on."""

from __future__ import annotations

import numpy as np

from scoring.types import LabeledWindow
from tests.conftest import make_window
from training.promotion import (
    PairedPoints,
    PromotionRule,
    first_model_gate,
    fresh_test_windows,
    promotion_decision,
)

RULE = PromotionRule(margin=0.05, min_patients=20)


def _paired(candidate_error_scale: float, *, patients: int = 40, noise: float = 0.0) -> PairedPoints:
    """Three windows a patient; the candidate's errors are the active's scaled, plus `noise`."""
    rng = np.random.default_rng(3)
    groups = [f"p{i // 3}" for i in range(3 * patients)]
    truth = rng.uniform(0, 27, 3 * patients)
    error = rng.normal(0, 4, 3 * patients)
    candidate = truth + candidate_error_scale * error + rng.normal(0, noise, 3 * patients)
    return PairedPoints(list(truth), list(candidate), list(truth + error), groups)


def test_it_promotes_only_when_the_upper_bound_of_the_difference_lies_below_the_margin() -> None:
    better = promotion_decision(paired=_paired(0.8), rule=RULE, rounds=300)
    assert better.promote and better.outcome == "promoted"
    assert better.numbers["mae_upper"] < better.numbers["margin"] == 0.05 * better.numbers["active_mae"]
    assert "upper bound" in better.text and "margin" in better.text
    assert "40 held-out patient(s)" in better.text
    worse = promotion_decision(paired=_paired(1.1), rule=RULE, rounds=300)
    assert not worse.promote and worse.outcome == "kept as candidate"
    assert worse.text.startswith("kept as candidate (the upper bound of its MAE difference is not below")


def test_the_burden_of_proof_is_on_the_candidate() -> None:
    # Truly 10% worse, but noisy: the old rule ("kept only if worse beyond the noise") promoted it, since
    # the 95% interval of the difference reached below 0.
    noisy_worse = _paired(1.1, patients=20, noise=3.0)
    decision = promotion_decision(paired=noisy_worse, rule=RULE, rounds=300)
    assert decision.numbers["mae_difference"] > 0
    assert not decision.promote and decision.numbers["mae_upper"] > decision.numbers["margin"]


def test_below_the_minimum_of_test_patients_an_admin_judges_with_the_numbers() -> None:
    decision = promotion_decision(paired=_paired(0.5, patients=6), rule=RULE, rounds=300)
    assert not decision.promote and decision.outcome == "for an admin to judge"
    assert "6 held-out test patient(s), fewer than the 20 (PROMOTION_MIN_TEST_PATIENTS)" in decision.text
    assert decision.numbers["patients"] == 6 and decision.numbers["mae_difference"] < 0
    nothing = promotion_decision(paired=None, rule=RULE)
    assert not nothing.promote and nothing.outcome == "for an admin to judge"
    assert promotion_decision(paired=None, rule=RULE, active_exists=False).promote


def test_a_lower_auc_beyond_the_noise_keeps_the_candidate_back() -> None:
    paired = _paired(1.0)
    truth, active = np.asarray(paired.truth), np.asarray(paired.active)
    # The same errors in size (the same MAE), each pushed towards the wrong side of the cut-off at 10.
    towards = truth + np.where(truth >= 10, -1, 1) * np.abs(active - truth)
    backwards = PairedPoints(paired.truth, list(towards), paired.active, paired.groups)
    decision = promotion_decision(paired=backwards, rule=RULE, rounds=300)
    assert decision.numbers["auc_interval"][1] < 0
    assert not decision.promote and "AUC@10 is lower beyond the noise" in decision.text


def _test_windows(n_patients: int, per_patient: int = 2) -> list[LabeledWindow]:
    return [
        LabeledWindow(
            make_window(i, 0.5), total=float(4 * (i % 6) + i % 3), group=f"patient-{i // per_patient}"
        )
        for i in range(n_patients * per_patient)
    ]


def test_the_first_model_needs_enough_questionnaire_patients() -> None:
    test = _test_windows(6)
    truth = {e.window.id: e.total for e in test}
    decision = first_model_gate(
        questionnaire_patients=10, min_patients=30, test=test, candidate=truth, rater=truth, rule=RULE
    )
    assert not decision.promote
    assert "questionnaires from 10 patient(s), the first model needs 30" in decision.text


def test_the_first_model_must_be_no_worse_than_the_rater_on_enough_shared_patients() -> None:
    test = _test_windows(24)
    truth = {e.window.id: e.total for e in test}
    off_by_3 = {k: v + 3 for k, v in truth.items()}
    rule = RULE
    ok = first_model_gate(
        questionnaire_patients=40, min_patients=30, test=test, candidate=truth, rater=off_by_3, rule=rule
    )
    assert ok.promote
    assert ok.text.startswith("first model vs the LLM rater on 48 test windows of 24 patient(s)")
    worse = first_model_gate(
        questionnaire_patients=40, min_patients=30, test=test, candidate=off_by_3, rater=truth, rule=rule
    )
    assert not worse.promote and "kept as candidate" in worse.text and "LLM rater" in worse.text
    # One shared window no longer decides: below the minimum of shared patients an admin judges.
    one = {test[0].window.id: truth[test[0].window.id] + 0.3}
    few = first_model_gate(
        questionnaire_patients=40, min_patients=30, test=test, candidate=truth, rater=one, rule=rule
    )
    assert not few.promote and few.outcome == "for an admin to judge"
    none = first_model_gate(
        questionnaire_patients=40, min_patients=30, test=test, candidate=truth, rater={}, rule=rule
    )
    assert not none.promote and "cannot be shown to be no worse" in none.text


def test_patients_the_active_model_trained_on_are_left_out_of_the_comparison() -> None:
    # Patient 3 had no questionnaire at the last run: their windows were pseudo-labelled and trained into
    # the active version. Now they answered one and are a held-out test patient of this run.
    test = _test_windows(4)
    active_manifest = {
        "trained_patients": ["patient-0", "patient-3", "patient-9"],
        "test_set": {"patients": ["patient-1"]},
    }
    fresh, note = fresh_test_windows(test, active_manifest)
    assert {e.patient for e in fresh} == {"patient-1", "patient-2"}
    assert "2 held-out test patient(s) neither version trained on (2 left out" in note
    assert "1 of them decided the active version's own promotion" in note
    older, note = fresh_test_windows(test, {})
    assert older == test and "does not list the patients it trained on" in note
