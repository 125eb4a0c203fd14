from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scoring.artifact import set_active_pointer
from scoring.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _conv(conv_id: str, text: str) -> str:
    return json.dumps(
        {"id": conv_id, "turns": [{"role": "user", "text": text}, {"role": "assistant", "text": "ok"}]}
    )


def test_it_scores_a_jsonl_file(tiny_artifact: Path, tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", [_conv("a", "I feel hopeless"), _conv("b", "great week")])
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(tiny_artifact), "--input", str(src), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    for r in rows:
        assert set(r) == {
            "id",
            "phq9_total",
            "items",
            "interval",
            "band",
            "model_version",
            "method",
            "item9_flag",
            "item9_sources",
            "item9_evidence",
            "item9_model_validated",
            "detector_version",
        }
        assert len(r["items"]) == 9 and r["interval"][0] <= r["phq9_total"] <= r["interval"][1]
        assert r["method"] == "model-inferred" and r["model_version"] == tiny_artifact.name


def test_it_scores_at_the_precision_asked_for(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", [_conv("a", "I feel hopeless"), _conv("b", "great week")])
    base = ["predict", "--model", str(tiny_artifact), "--input", str(src), "--device", "cpu"]
    totals = {}
    for precision in ("fp32", "int8"):
        out = tmp_path / f"{precision}.jsonl"
        assert main([*base, "--output", str(out), "--precision", precision]) == 0
        assert capsys.readouterr().err.strip().endswith(f"{precision})")  # what the backbone really ran at
        totals[precision] = [json.loads(line)["phq9_total"] for line in out.read_text().splitlines()]
    assert totals["int8"] == pytest.approx(totals["fp32"], abs=0.25)  # of 0..27
    with pytest.raises(SystemExit) as refused:
        main([*base, "--output", str(tmp_path / "x.jsonl"), "--precision", "int4"])
    assert refused.value.code == 2 and "invalid choice: 'int4'" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_each_line_carries_the_item9_flag_with_the_sentences_that_fired(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    """The contract: item9_flag, item9_sources and item9_evidence (turn index into the line's turns, the
    sentence, sent_at when given), by the same code as the web app."""
    from scoring.self_harm import DETECTOR_VERSION

    risky = {
        "id": "r",
        "turns": [
            {"role": "assistant", "text": "How have the last two weeks been?"},
            {
                "role": "user",
                "text": "Work is fine. I keep thinking about killing myself.",
                "sent_at": "2026-12-01T10:00:00Z",
            },
        ],
    }
    src = _write(tmp_path / "in.jsonl", [json.dumps(risky), _conv("calm", "this commute is killing me lol")])
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(tiny_artifact), "--input", str(src), "--output", str(out)]) == 0
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["r"]["item9_flag"] is True and "detector" in rows["r"]["item9_sources"]
    evidence = rows["r"]["item9_evidence"][0]
    assert (
        evidence["turn"] == 1
        and "killing myself" in evidence["text"]
        and evidence["sent_at"].startswith("2026-12-01")
    )
    assert "detector" not in rows["calm"]["item9_sources"] and rows["calm"]["item9_evidence"] == []
    assert rows["r"]["detector_version"] == DETECTOR_VERSION


def test_it_resolves_the_active_model_from_the_store(tiny_artifact: Path, tmp_path: Path) -> None:
    set_active_pointer(tiny_artifact.parent, tiny_artifact.name)
    src = _write(tmp_path / "in.jsonl", [_conv("a", "hello")])
    out = tmp_path / "out.jsonl"
    args = ["predict", "--model", "active", "--model-store", str(tiny_artifact.parent)]
    assert main([*args, "--input", str(src), "--output", str(out)]) == 0
    assert json.loads(out.read_text())["model_version"] == tiny_artifact.name


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([_conv("a", "hi"), "{broken"], "line 2: invalid JSON"),
        ([json.dumps({"id": "a", "turns": []})], "line 1: conversation 'a' is empty"),
        ([json.dumps({"id": "a", "turns": [{"role": "robot", "text": "x"}]})], "line 1: turns[0] must be"),
        ([json.dumps({"turns": [{"role": "user", "text": "x"}]})], "line 1: 'id' must be"),
        ([_conv("a", "hi"), _conv("a", "again")], "line 2: id 'a' appears twice"),
        ([""], "no conversations"),
    ],
)
def test_it_names_the_bad_line(
    lines: list[str], message: str, tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(tiny_artifact), "--input", str(src), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


@pytest.mark.slow
def test_it_explains_a_missing_file_or_model_in_one_line(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", [_conv("a", "hi")])
    for argv, message in [
        (["--model", str(tmp_path), "--input", str(tmp_path / "none.jsonl")], "no such file"),
        (["--model", str(tmp_path / "nomodel"), "--input", str(src)], "does not exist"),
        (["--model", "active", "--model-store", str(tmp_path), "--input", str(src)], "no active model"),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "scoring", "predict", *argv, "--output", str(tmp_path / "o.jsonl")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
