"""Promotion rules: a candidate against the active model, the first model against the LLM rater."""

from __future__ import annotations

from scoring.types import LabeledWindow
from tests.conftest import make_window
from training.promotion import first_model_gate, promotion_decision


def test_it_promotes_only_a_model_that_is_not_worse() -> None:
    active = {"mae": 3.0, "auc_at_10": 0.85}
    assert promotion_decision({"mae": 2.9, "auc_at_10": 0.86}, active)[0]
    assert not promotion_decision({"mae": 3.1, "auc_at_10": 0.90}, active)[0]
    ok, reason = promotion_decision({"mae": 2.5, "auc_at_10": 0.80}, active)
    assert not ok and "kept as candidate" in reason
    assert promotion_decision(
        {"mae": 3.05, "auc_at_10": 0.84}, active, max_mae_increase=0.1, max_auc_drop=0.02
    )[0]
    assert promotion_decision({"mae": 9.0, "auc_at_10": None}, None)[0]


def test_it_keeps_a_candidate_only_when_it_is_worse_beyond_the_noise() -> None:
    import numpy as np

    from training.promotion import PairedPoints

    rng = np.random.default_rng(3)
    truth = rng.uniform(0, 27, 60)
    active = truth + rng.normal(0, 2.5, 60)
    groups = [f"p{i}" for i in range(60)]

    def decide(candidate: np.ndarray) -> tuple[bool, str]:
        metrics = {
            "mae": float(np.abs(candidate - truth).mean()),
            "auc_at_10": None,
        }
        active_metrics = {"mae": float(np.abs(active - truth).mean()), "auc_at_10": None}
        paired = PairedPoints(list(truth), list(candidate), list(active), groups)
        return promotion_decision(metrics, active_metrics, paired=paired, rounds=300)

    a_hair_worse = active + 0.05  # MAE differs by noise only: promoted
    ok, reason = decide(a_hair_worse)
    assert ok and "95% CI" in reason and "60 held-out patients" in reason
    clearly_worse = truth + 3 * np.sign(active - truth) + (active - truth)  # every error 3 points larger
    ok, reason = decide(clearly_worse)
    assert not ok and reason.startswith("kept as candidate")


def _test_windows(n_patients: int) -> list[LabeledWindow]:
    return [
        LabeledWindow(make_window(i, 0.5), total=float(4 * (i % 6)), group=f"patient-{i}")
        for i in range(n_patients)
    ]


def test_the_first_model_needs_enough_questionnaire_patients() -> None:
    test = _test_windows(6)
    truth = {e.window.id: e.total for e in test}
    ok, why = first_model_gate(
        questionnaire_patients=10, min_patients=30, test=test, candidate=truth, rater=truth
    )
    assert not ok and "questionnaires from 10 patient(s), the first model needs 30" in why


def test_the_first_model_must_be_at_least_as_good_as_the_rater_on_the_same_windows() -> None:
    test = _test_windows(6)
    truth = {e.window.id: e.total for e in test}
    off_by_3 = {k: v + 3 for k, v in truth.items()}
    ok, why = first_model_gate(
        questionnaire_patients=40, min_patients=30, test=test, candidate=truth, rater=off_by_3
    )
    assert ok and why.startswith("first model vs the LLM rater on 6 test windows of 6 patient(s): promoted")
    ok, why = first_model_gate(
        questionnaire_patients=40, min_patients=30, test=test, candidate=off_by_3, rater=truth
    )
    assert not ok and "kept as candidate" in why and "LLM rater" in why
    ok, why = first_model_gate(
        questionnaire_patients=40, min_patients=30, test=test, candidate=truth, rater={}
    )
    assert not ok and "cannot be shown to be at least as good" in why
