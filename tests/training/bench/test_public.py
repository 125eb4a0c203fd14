from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_models import tiny_encoder
from training.__main__ import main
from training.bench.public import (
    DATASETS,
    PublicBenchArgs,
    apply_cut_points,
    band_metrics,
    format_report,
    labeled_windows,
    load_split,
    run,
    run_baseline,
    tune_cut_points,
)

# Made-up sentences, one pool per severity level (never text from the public sets).
PHRASES = {
    "minimum": [
        "Went hiking with my dog today.",
        "Work was fine and dinner was nice.",
        "Trying a new recipe.",
    ],
    "mild": ["A bit tired this week.", "Feeling somewhat flat lately.", "Sleep has been a little off."],
    "moderate": [
        "I feel down most days.",
        "I struggle to get out of bed.",
        "Nothing seems worth the effort.",
    ],
    "severe": [
        "I feel hopeless all the time.",
        "I cannot stop crying at night.",
        "Everything feels pointless.",
    ],
}


def write_split(folder: Path, split: str, n: int, *, header: str = "id,text,label") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    labels = list(PHRASES)
    with (folder / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header.split(","))
        for i in range(n):
            label = labels[i % len(labels)]
            text = f"{PHRASES[label][i % 3]} {PHRASES[label][(i + 1) % 3]}"
            writer.writerow([f"{split}-{i}", text, label])


def make_dataset(folder: Path, n: int = 16) -> Path:
    for split in ("train", "val", "test"):
        write_split(folder, split, n)
    return folder


def test_it_maps_labels_to_phq9_totals_inside_their_bands() -> None:
    spec = DATASETS["depseverity"]
    assert spec.targets == {"minimum": 2.0, "mild": 7.0, "moderate": 12.0, "severe": 20.0}
    assert spec.phq9_range("severe") == (15, 27) and spec.phq9_range("minimum") == (0, 4)
    assert spec.default_cut_points() == [4.5, 9.5, 14.5]
    for label in spec.labels:
        low, high = spec.phq9_range(label)
        assert low <= spec.targets[label] <= high
    depsign = DATASETS["depsign"]
    assert depsign.targets == {"not depression": 2.0, "moderate": 12.0, "severe": 20.0}
    assert depsign.default_cut_points() == [9.5, 14.5]


def test_it_turns_each_post_into_its_own_one_turn_window(tmp_path: Path) -> None:
    posts = load_split(make_dataset(tmp_path), DATASETS["depseverity"], "train")
    examples = labeled_windows(posts[:4], DATASETS["depseverity"])
    assert [e.total for e in examples] == [2.0, 7.0, 12.0, 20.0]
    assert [e.group for e in examples] == ["train-0", "train-1", "train-2", "train-3"]
    turns = examples[0].window.conversations[0].turns
    assert len(examples[0].window.conversations) == 1 and len(turns) == 1 and turns[0].role == "user"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "no dataset folder"),
        (lambda d: write_split(d, "val", 4), "train.csv is missing"),
        (lambda d: write_split(d, "train", 4, header="id,body,label"), "lacks the column"),
    ],
)
def test_it_explains_what_is_wrong_with_the_data_folder(tmp_path: Path, setup: object, message: str) -> None:
    folder = tmp_path / "depseverity"
    setup(folder)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        load_split(folder, DATASETS["depseverity"], "train")


def test_it_refuses_labels_outside_the_dataset(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    with pytest.raises(ValueError, match="unknown label 'minimum'.*not depression"):
        load_split(tmp_path, DATASETS["depsign"], "train")


def test_it_keeps_only_the_first_rows_with_a_limit(tmp_path: Path) -> None:
    posts = load_split(make_dataset(tmp_path), DATASETS["depseverity"], "test", limit=5)
    assert [p.id for p in posts] == [f"test-{i}" for i in range(5)]


def test_it_tunes_cut_points_that_separate_the_labels() -> None:
    spec = DATASETS["depseverity"]
    totals = np.array([1.0, 1.5, 3.0, 3.2, 6.0, 6.5, 9.0, 9.1])
    labels = ["minimum", "minimum", "mild", "mild", "moderate", "moderate", "severe", "severe"]
    cuts = tune_cut_points(totals, labels, spec)
    assert list(apply_cut_points(totals, cuts)) == [0, 0, 1, 1, 2, 2, 3, 3]
    metrics = band_metrics(totals, labels, spec, cuts)
    assert metrics["macro_f1"] == metrics["weighted_f1"] == metrics["accuracy"] == 1.0
    assert metrics["auc"] == 1.0 and metrics["confusion"][3] == [0, 0, 0, 2]


def test_it_leaves_the_auc_undefined_with_one_class() -> None:
    spec = DATASETS["depseverity"]
    metrics = band_metrics(np.array([1.0, 2.0]), ["minimum", "mild"], spec, spec.default_cut_points())
    assert metrics["auc"] is None and metrics["accuracy"] == 0.5


def test_it_fits_the_tfidf_ridge_baseline_on_train_and_tunes_it_on_val(tmp_path: Path) -> None:
    spec = DATASETS["depseverity"]
    make_dataset(tmp_path, n=24)
    posts = {split: load_split(tmp_path, spec, split) for split in ("train", "val", "test")}
    baseline = run_baseline(posts, spec)
    assert baseline["test"]["auc"] > 0.9 and baseline["test"]["macro_f1"] > 0.9
    assert baseline["alpha"] > 0 and len(baseline["cut_points"]) == 3


def test_it_reports_model_and_baseline_with_timings(tmp_path: Path) -> None:
    args = PublicBenchArgs(
        dataset="depseverity", data_dir=make_dataset(tmp_path / "data"), epochs=2, members=1, limit=12
    )
    report = run(args, backbone=tiny_encoder())
    assert report["splits"] == {"train": 12, "val": 12, "test": 12}
    assert "tuned on val" in report["protocol"] and "PHQ-9 15-27" in report["mapping"]
    for part in (report["model"], report["baseline"]):
        assert set(part["test"]) >= {"accuracy", "weighted_f1", "macro_f1", "auc", "f1_per_label"}
        assert part["test"]["n"] == 12 and len(part["cut_points"]) == 3
    assert set(report["seconds"]) == {"load", "baseline", "model_train", "model_predict", "total"}
    json.dumps(report)  # the CLI writes it as JSON
    assert "TF-IDF" in format_report(report)


def test_it_exits_2_with_one_error_line_when_the_data_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    code = main(["benchmark", "depsign", "--data-dir", str(tmp_path / "nowhere"), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists()
    assert err.startswith("error: no dataset folder") and "\n" not in err and "Traceback" not in err


def test_it_writes_the_json_report_from_the_command_line(tmp_path: Path) -> None:
    checkpoint = tmp_path / "tiny"
    tiny = tiny_encoder()
    tiny.module.save_pretrained(checkpoint)  # type: ignore[operator]
    tiny.tokenizer.save_pretrained(checkpoint)
    out = tmp_path / "out" / "report.json"
    argv = ["benchmark", "depseverity", "--data-dir", str(make_dataset(tmp_path / "data")), "--out", str(out)]
    code = main([*argv, "--backbone", str(checkpoint), "--epochs", "1", "--members", "1", "--limit", "8"])
    assert code == 0
    assert json.loads(out.read_text())["model"]["backbone"] == str(checkpoint)
