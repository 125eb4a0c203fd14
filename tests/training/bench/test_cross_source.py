from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.tiny_models import tiny_encoder
from training.__main__ import main
from training.bench.cross_source import CrossSourceArgs, format_report, goal, run

# Made-up sentences by severity (never text from the public sets); each source labels them its own way.
LOW = ["Went hiking with my dog today.", "Work was fine and dinner was nice.", "Trying a new recipe."]
HIGH = ["I feel hopeless all the time.", "I cannot stop crying at night.", "Nothing seems worth it."]
SOURCES = {
    "depseverity": {"minimum": LOW, "mild": LOW[:2], "moderate": HIGH[1:], "severe": HIGH},
    "depsign": {"not depression": LOW, "moderate": HIGH[1:], "severe": HIGH},
    "dr": {"nd": LOW, "do": HIGH},
}


def make_sources(root: Path, n: int = 12) -> Path:
    for name, phrases in SOURCES.items():
        labels = list(phrases)
        (root / name).mkdir(parents=True)
        for split in ("train", "val", "test"):
            with (root / name / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["id", "text", "label"])
                for i in range(n):
                    label = labels[i % len(labels)]
                    pool = phrases[label]
                    writer.writerow(
                        [f"{name}-{split}-{i}", f"{pool[i % len(pool)]} {pool[(i + 1) % len(pool)]}", label]
                    )
    return root


def test_it_reports_every_pair_with_intervals_and_the_baseline(tmp_path: Path) -> None:
    args = CrossSourceArgs(data_dir=make_sources(tmp_path), epochs=2, members=1, bootstrap=50)
    report = run(args, backbone=tiny_encoder())
    pairs = {(p["train"], p["test"]): p for p in report["pairs"]}
    assert set(pairs) == {
        (t, s) for t in ("depseverity", "depsign") for s in ("depseverity", "depsign", "dr")
    }
    for (train, test), pair in pairs.items():
        assert pair["kind"] == ("in-domain" if train == test else "cross-source")
        for side in ("model", "baseline"):
            assert 0 <= pair[side]["auc"] <= 1 and len(pair[side]["auc_ci"]) == 2
            assert (pair[side]["spearman"] is None) == (test == "dr")  # DR's labels are binary
        assert pair["auc_difference"]["value"] == pytest.approx(
            pair["model"]["auc"] - pair["baseline"]["auc"]
        )
        # the same model at int8 beside fp32, on the same posts
        int8 = pair["model_int8"]
        assert 0 <= int8["auc"] <= 1 and int8["auc_change"] == pytest.approx(
            int8["auc"] - pair["model"]["auc"]
        )
        # each member kind alone, against the same baseline
        assert set(pair["members"]) == {"heads", "lexical"}
        for alone in pair["members"].values():
            assert alone["auc_difference"]["value"] == pytest.approx(alone["auc"] - pair["baseline"]["auc"])
    assert pairs[("depsign", "dr")]["baseline"]["auc"] > 0.9  # the words carry the label across sources
    assert set(report["in_domain_depseverity"]["model"]["test"]) >= {"weighted_f1", "macro_f1", "auc"}
    changes = [abs(p["model_int8"]["auc_change"]) for p in pairs.values()]
    assert report["goal"]["int8"]["worst_abs_auc_change"] == pytest.approx(max(changes))
    assert "model at int8" in format_report(report)
    assert report["goal"]["met"] in (True, False)
    json.dumps(report)
    assert "depsign -> dr" in format_report(report) and "lexical alone" in format_report(report)
    for source in report["sources"].values():
        assert set(source["model"]["blend"]["weights"]) == {"m0", "lexical"}


def test_its_goal_needs_a_mean_gain_no_loss_and_the_in_domain_figures() -> None:
    def pair(kind: str, diff: float) -> dict:
        return {"kind": kind, "auc_difference": {"value": diff}}

    in_domain = {"model": {"test": {"weighted_f1": 0.75, "macro_f1": 0.6, "auc": 0.93}}}
    assert goal([pair("cross-source", 0.06), pair("cross-source", 0.05), pair("in-domain", -0.5)], in_domain)[
        "met"
    ]
    assert not goal([pair("cross-source", 0.12), pair("cross-source", -0.02)], in_domain)["met"]
    assert not goal(
        [pair("cross-source", 0.06)], {"model": {"test": {**in_domain["model"]["test"], "auc": 0.9}}}
    )["met"]


def test_it_exits_2_with_one_error_line_when_a_source_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    code = main(["benchmark", "cross-source", "--data-dir", str(tmp_path), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists() and err.startswith("error: no dataset folder") and "\n" not in err


def test_with_several_seeds_it_reports_their_mean_and_spread(tmp_path: Path) -> None:
    args = CrossSourceArgs(data_dir=make_sources(tmp_path), epochs=2, members=1, bootstrap=20, seeds=2)
    report = run(args, backbone=tiny_encoder())
    assert [r["seed"] for r in report["seed_runs"]] == [13, 14]
    summary = report["seeds"]
    assert summary["n"] == 2 and len(summary["pairs"]) == 6
    for index, pair in enumerate(summary["pairs"]):
        aucs = [r["pairs"][index]["model"]["auc"] for r in report["seed_runs"]]
        assert pair["model_auc"]["mean"] == pytest.approx(sum(aucs) / 2)
        assert pair["model_auc"]["min"] == min(aucs) and pair["model_auc"]["max"] == max(aucs)
    gains = [p["auc_gain"]["mean"] for p in summary["pairs"] if p["kind"] == "cross-source"]
    assert summary["cross_source_mean_gain"] == pytest.approx(sum(gains) / len(gains))
    assert "over 2 seeds" in format_report(report)
    json.dumps(report)


def test_with_several_seeds_the_goal_is_judged_on_their_mean_not_on_the_first_seed() -> None:
    from training.bench.cross_source import seed_goal, seed_summary

    def pair(kind: str, diff: float, auc: float = 0.7) -> dict:
        return {
            "train": "a", "test": kind, "kind": kind, "auc_difference": {"value": diff},
            "model": {"auc": auc}, "baseline": {"auc": auc - diff},
        }  # fmt: skip

    in_domain = {"model": {"test": {"weighted_f1": 0.75, "macro_f1": 0.6, "auc": 0.93}}}
    reports = []
    for gains in ((0.08, 0.07), (0.01, 0.00)):  # the first seed meets the goal, the second does not
        pairs = [pair("cross-source", g) for g in gains]
        reports.append({"pairs": pairs, "goal": goal(pairs, in_domain)})
    assert reports[0]["goal"]["met"]
    summary = seed_summary(reports)
    judged = seed_goal(reports, summary)
    assert judged["cross_source"]["mean_auc_gain"] == pytest.approx(0.04) and not judged["met"]
    assert judged["judged_on"] == "the mean over 2 seeds"
    # a step of the model smaller than the seeds' spread of the mean gain is not a gain
    assert summary["cross_source_mean_gain_spread"] == pytest.approx(0.07)
