from __future__ import annotations

import numpy as np
import pytest

from training.metrics import auc, bootstrap_interval, bootstrap_samples, paired_difference, spearman


def test_auc_counts_pairs_ranked_right_and_ties_as_half() -> None:
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ranked right
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert auc(np.array([1, 1]), np.array([0.1, 0.2])) is None


def test_spearman_is_pearson_on_ranks() -> None:
    # ranks (1, 2, 3, 4) vs (1, 3, 2, 4): 1 - 6 * 2 / (4 * 15) = 0.8
    assert spearman(np.array([0, 1, 2, 3]), np.array([10.0, 30.0, 20.0, 40.0])) == pytest.approx(0.8)
    assert spearman(np.array([1, 1, 1]), np.array([1.0, 2.0, 3.0])) is None


def test_bootstrap_draws_whole_groups_and_is_seeded() -> None:
    groups = ["a", "a", "b", "c", "c", "c"]
    samples = bootstrap_samples(groups, 6, rounds=50, seed=1)
    for idx in samples:
        drawn = [groups[i] for i in idx]
        for g in set(drawn):  # every drawn group comes with all its windows, as often as it was drawn
            assert drawn.count(g) % groups.count(g) == 0
    again = bootstrap_samples(groups, 6, rounds=50, seed=1)
    assert all((a == b).all() for a, b in zip(samples, again, strict=True))


def test_the_interval_holds_the_estimate_and_the_paired_difference_of_equal_scores_is_zero() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 200)
    score = truth + rng.normal(0, 1, 200)
    samples = bootstrap_samples(None, 200, rounds=300, seed=2)
    low, high = bootstrap_interval(auc, truth, score, samples=samples)
    assert low < auc(truth, score) < high and high - low < 0.3
    same = paired_difference(auc, truth, score, score, samples=samples)
    assert same["value"] == 0 and same["ci"] == [0.0, 0.0]
    better = paired_difference(auc, truth, truth + rng.normal(0, 0.1, 200), score, samples=samples)
    assert better["value"] > 0 and better["ci"][0] > 0


def test_the_regression_report_resamples_patients_for_its_intervals() -> None:
    from training.metrics import regression_report

    truth = [0.0, 4.0, 8.0, 12.0, 16.0, 20.0] * 4
    pred = [t + d for t, d in zip(truth, [1.0, -2.0, 0.5, 3.0, -1.0, 2.0, 0.0, 4.0] * 3, strict=True)]
    groups = [f"p{i % 12}" for i in range(len(truth))]
    report = regression_report(truth, pred, groups=groups, bootstrap_rounds=300)
    ci = report["ci"]
    assert ci["patients"] == 12 and ci["resampled"] == "patients"
    assert ci["mae"][0] <= report["mae"] <= ci["mae"][1] and ci["rmse"][0] <= report["rmse"] <= ci["rmse"][1]
    assert "ci" not in regression_report(truth, pred)  # no patients given, no interval made up


def test_it_says_too_few_patients_rather_than_state_an_interval_that_falls_short() -> None:
    from training.metrics import MIN_CI_PATIENTS, regression_report

    n = MIN_CI_PATIENTS - 1
    truth = [float(i) for i in range(2 * n)]
    pred = [t + (1.0 if i % 3 else -2.0) for i, t in enumerate(truth)]
    groups = [f"p{i % n}" for i in range(2 * n)]
    ci = regression_report(truth, pred, groups=groups, bootstrap_rounds=100)["ci"]
    assert "mae" not in ci and ci["withheld"].startswith(f"too few patients to say: {n} patient(s)")


def test_a_bootstrap_interval_over_few_patients_is_widened() -> None:
    from training.metrics import widened

    assert widened([1.0, 3.0], 2.0, 10, level=0.95) == pytest.approx(
        [2.0 - 1.2166, 2.0 + 1.2166], abs=1e-3
    )  # sqrt(10/9) * t(9, .975) / z(.975) = 1.2166
    assert widened([1.0, 3.0], 2.0, 10_000, level=0.95) == pytest.approx([1.0, 3.0], abs=1e-3)


def test_the_item9_threshold_is_the_highest_that_keeps_the_recall() -> None:
    from training.metrics import item9_threshold

    # self-report item 9 >= 1 on the last five windows; their model scores 0.2, 0.6, 0.7, 0.9, 1.4
    true = [0, 0, 0, 0, 1, 1, 2, 1, 3]
    pred = [0.1, 0.3, 0.65, 0.05, 0.2, 0.6, 0.7, 0.9, 1.4]
    at_80 = item9_threshold(true, pred, recall=0.8, min_positives=5)  # may miss one of five: flag from 0.6
    assert at_80["threshold"] == 0.6 and at_80["recall"] == 0.8 and at_80["flagged"] == 5
    assert at_80["precision"] == pytest.approx(4 / 5)  # 0.65 is the one false alarm
    at_100 = item9_threshold(true, pred, recall=1.0, min_positives=5)
    assert at_100["threshold"] == 0.2 and at_100["recall"] == 1.0
    assert item9_threshold([0, 0], [0.4, 0.9])["threshold"] is None
    too_few = item9_threshold(true, pred, recall=0.8)  # 5 positives, 10 needed by default
    assert too_few["threshold"] is None and "at least 10 needed" in too_few["reason"]


def test_the_regression_report_gives_interval_coverage_within_each_true_band() -> None:
    from training.metrics import regression_report

    truth = [2.0, 3.0, 12.0, 13.0]  # two minimal, two moderate
    pred = [2.5, 2.5, 8.0, 12.5]
    intervals = [(1.0, 4.0), (1.0, 4.0), (6.0, 10.0), (11.0, 14.0)]  # the first moderate one is missed
    coverage = regression_report(truth, pred, intervals=intervals)["interval_coverage_by_band"]
    assert coverage["minimal"] == 1.0 and coverage["moderate"] == 0.5 and coverage["severe"] is None


def test_the_vectorised_bootstrap_gives_the_same_intervals_as_resampling_one_by_one() -> None:
    from training.metrics import (
        _mae,
        _pearson,
        bootstrap_weights,
        percentile_interval,
        weighted_auc,
        weighted_mae,
        weighted_pearson,
    )

    rng = np.random.default_rng(5)
    groups = [f"p{i % 17}" for i in range(60)]
    truth = np.round(rng.uniform(0, 27, 60))
    pred = np.round(np.clip(truth + rng.normal(0, 4, 60), 0, 27))  # whole points: ties in the AUC
    samples = bootstrap_samples(groups, 60, rounds=200, seed=3)
    weights = bootstrap_weights(groups, 60, rounds=200, seed=3)
    for metric, vectorised in (
        (_mae, weighted_mae),
        (_pearson, weighted_pearson),
        (lambda t, p: auc(t >= 10, p), lambda w, t, p: weighted_auc(w, t >= 10, p)),
    ):
        one_by_one = bootstrap_interval(metric, truth, pred, samples=samples)
        assert one_by_one is not None
        assert percentile_interval(vectorised(weights, truth, pred)) == pytest.approx(one_by_one)
    # a resample with one class has no AUC: NaN there, None in the loop
    lone = np.array([[1.0, 1.0, 0.0]])
    assert np.isnan(weighted_auc(lone, np.array([True, True, False]), np.array([1.0, 2.0, 3.0])))[0]
