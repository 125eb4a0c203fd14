"""`python -m training benchmark self-harm` on a made-up cssrs-like set and made-up hard cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.test_self_harm import write_cssrs
from training.__main__ import main
from training.bench.self_harm import SelfHarmBenchArgs, format_report, run
from training.self_harm_data import load_hard_cases

# Made-up conversations in the hard-case format (not the held-out set).
CASES = [
    {
        "id": "p1",
        "label": 1,
        "trap": "explicit",
        "turns": [{"role": "user", "text": "I want to kill myself."}],
    },
    {
        "id": "p2",
        "label": 1,
        "trap": "passive",
        "turns": [
            {"role": "assistant", "text": "How are you?"},
            {
                "role": "user",
                "text": "Everyone would be better off without me.",
                "sent_at": "2026-01-02T10:00:00",
            },
        ],
    },
    {
        "id": "n1",
        "label": 0,
        "trap": "idiom",
        "turns": [{"role": "user", "text": "This commute is killing me."}],
    },
    {
        "id": "n2",
        "label": 0,
        "trap": "other_person",
        "turns": [{"role": "user", "text": "My friend is suicidal."}],
    },
]


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    hard = tmp_path / "hard.jsonl"
    hard.write_text("\n".join(json.dumps(c) for c in CASES) + "\n", encoding="utf-8")
    return write_cssrs(tmp_path / "data"), hard


def test_it_reports_cssrs_beside_the_baseline_and_hard_cases_by_trap(inputs: tuple[Path, Path]) -> None:
    data, hard = inputs
    report = run(SelfHarmBenchArgs(data_dir=data, hard_cases=hard, dev_cases=hard, bootstrap=20))
    cssrs, cases = report["cssrs_test"], report["hard_cases"]
    assert (
        cssrs["users"] == 8 and cssrs["detector"]["auc"] is not None and cssrs["baseline"]["auc"] is not None
    )
    assert (cases["recall"], cases["precision"], cases["f1"]) == (1.0, 1.0, 1.0)
    assert [(r["label"], r["trap"], r["n"], r["fired"]) for r in cases["by_trap"]] == [
        (0, "idiom", 1, 0),
        (0, "other_person", 1, 0),
        (1, "explicit", 1, 1),
        (1, "passive", 1, 1),
    ]
    # the held-out set's report names no conversation (reading it cannot tune the detector to the set)
    assert report["dev_cases"]["conversations"] == 4 and "wrong_ids" not in json.dumps(cases)
    text = format_report(report)
    assert "not evidence of clinical validity" in text and "item 9" in text


def test_the_cli_writes_the_report(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    data, hard = inputs
    out = tmp_path / "var" / "self-harm.json"
    args = [
        "benchmark",
        "self-harm",
        "--data-dir",
        str(data),
        "--hard-cases",
        str(hard),
        "--dev-cases",
        str(hard),
    ]
    args += ["--bootstrap", "20"]
    assert main([*args, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["hard_cases"]["conversations"] == 4


def test_it_names_the_bad_line_of_a_hard_case_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "label": 1, "turns": [{"role": "robot", "text": "hi"}]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="bad.jsonl line 1"):
        load_hard_cases(bad)
