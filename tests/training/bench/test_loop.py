"""The learning loop's operating characteristics benchmark, at a tiny size (its full run: `make bench`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from django.conf import settings

from training.__main__ import main
from training.bench.loop import INTERVAL_EXTRA_REPS, LoopBenchArgs, run
from training.bench.loop_report import format_report


def test_it_reports_every_rate_per_clinic_size_with_its_standard_error(tmp_path: Path) -> None:
    out = tmp_path / "loop.json"
    code = main(
        ["benchmark", "loop", "--patients", "12,40", "--reps", "3", "--rounds", "50", "--pool", "60",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    assert [s["patients"] for s in report["sizes"]] == [12, 40]
    for size in report["sizes"]:
        assert size["reps"] == 3
        for key in ("worse_promoted_rate", "better_promoted_rate", "gate_picks_better_rate"):
            assert 0 <= size[key] <= 1 and size[key.replace("_rate", "_se")] is not None
        interval = size["coverage"]["prediction interval, new patients"]
        assert interval["stated"] == 0.8 and "observed" in interval
    small = report["sizes"][0]
    # 12 patients: 2 test patients, fewer than the rule's 20: nothing is promoted automatically, and no
    # bootstrap interval or prediction interval is stated (too few patients to say).
    assert small["worse_promoted_rate"] == 0 and small["better_promoted_rate"] == 0
    assert small["coverage"]["bootstrap CI of MAE (run page)"]["observed"] is None
    assert small["coverage"]["prediction interval, new patients"]["stated_in_share_of_runs"] == 0
    assert 0 < report["simulation"]["questionnaire_total_icc"] < 1
    assert "worse promoted" in format_report(report)
    for size in report["sizes"]:  # the largest standard error, and the rates at or above the goal named
        ses = [size[k] for k in ("worse_promoted_se", "better_promoted_se", "gate_picks_better_se")]
        assert size["max_se"] >= max(ses) and isinstance(size["se_above_goal"], list)
        assert size["interval_reps"] == size["reps"]  # no interval stated at these sizes: none added


def test_its_default_reps_keep_every_rates_standard_error_under_one_and_a_half_points() -> None:
    """A rate in [0, 1] over n clinics has a standard error of at most 0.5 / sqrt(n)."""
    from training.bench.loop_report import SE_GOAL

    assert SE_GOAL == 0.015 and 0.5 / math.sqrt(LoopBenchArgs().reps) < SE_GOAL


def test_a_candidate_truly_worse_is_promoted_as_often_as_the_rule_allows() -> None:
    """With the minimum of test patients lowered to what a 60-patient clinic has, the rule's own error
    rate shows: rarely a worse candidate, more often a better one."""
    args = LoopBenchArgs(patients="60", reps=30, rounds=100, pool=200, min_test_patients=10)
    size = run(args)["sizes"][0]
    assert size["worse_promoted_rate"] <= 0.1 < size["better_promoted_rate"]


def test_its_defaults_are_the_products_settings() -> None:
    args = LoopBenchArgs()
    assert args.margin == settings.PROMOTION_MAE_MARGIN
    assert args.min_test_patients == settings.PROMOTION_MIN_TEST_PATIENTS
    assert args.first_model_min_patients == settings.COLD_START_FIRST_MODEL_MIN_PATIENTS
    assert args.rater_min_pairs == settings.LLM_SCORING_MIN_VALIDATION_PAIRS


def test_bad_sizes_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="patients"):
        LoopBenchArgs(patients="30,abc")
    with pytest.raises(ValueError, match="patients"):
        LoopBenchArgs(patients="3")


def test_a_rarely_measured_interval_gets_interval_only_clinics_up_to_a_cap() -> None:
    """4 clinics of 100 patients cannot measure the prediction interval to 1.5 points: interval-only
    clinics are added, at most INTERVAL_EXTRA_REPS times the reps, and counted."""
    args = LoopBenchArgs(patients="100", reps=4, rounds=50, pool=300)
    size = run(args)["sizes"][0]
    assert size["coverage"]["prediction interval, new patients"]["observed"] is not None
    assert size["reps"] == 4 < size["interval_reps"] <= 4 * (1 + INTERVAL_EXTRA_REPS)
