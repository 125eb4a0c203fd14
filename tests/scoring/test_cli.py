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
        assert set(r) == {"id", "phq9_total", "items", "interval", "band", "model_version", "method"}
        assert len(r["items"]) == 9 and r["interval"][0] <= r["phq9_total"] <= r["interval"][1]
        assert r["method"] == "model-inferred" and r["model_version"] == tiny_artifact.name


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
