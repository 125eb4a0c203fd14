"""`python -m scoring predict` against broken input, broken artifacts and unusable output paths: one
line on stderr that says what to do, a non-zero exit, never a traceback, never a half-written file.
(tests/scoring/test_cli.py covers bad JSONL lines, duplicate ids and a missing input file or model.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scoring.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONVERSATION = json.dumps({"id": "a", "turns": [{"role": "user", "text": "I feel low"}]})


@pytest.fixture
def conversations(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text(CONVERSATION + "\n")
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scoring", "predict", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def _one_clear_line(stderr: str, message: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], stderr


def _edit_manifest(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def edit(artifact: Path) -> None:
        manifest = json.loads((artifact / "manifest.json").read_text())
        changed = change(manifest)
        (artifact / "manifest.json").write_text(changed if isinstance(changed, str) else json.dumps(changed))

    return edit


def _corrupt_weights(artifact: Path) -> None:
    (artifact / "members" / "m0" / "heads.safetensors").write_bytes(b"not a safetensors file")


# ---- broken artifacts ------------------------------------------------------------------------------
CORRUPTIONS = {
    "invalid-json": (
        _edit_manifest(lambda m: '{"format": 1, "version": '),
        "manifest.json is not valid JSON",
    ),
    "empty": (_edit_manifest(lambda m: ""), "manifest.json is not valid JSON"),
    "missing-key": (
        _edit_manifest(lambda m: {k: v for k, v in m.items() if k != "calibration"}),
        "lacks calibration",
    ),
    # Shape errors are caught when the manifest is read (scoring/artifact.py), naming the field.
    "backbone-not-object": (
        _edit_manifest(lambda m: {**m, "backbone": "artifact:backbone"}),
        "backbone must be an object",
    ),
    "empty-calibration": (
        _edit_manifest(lambda m: {**m, "calibration": {}}),
        "calibration must be an object",
    ),
    "bad-max-tokens": (
        _edit_manifest(lambda m: {**m, "max_tokens": "lots"}),
        "max_tokens must be a positive",
    ),
    "bad-pooling": (
        _edit_manifest(lambda m: {**m, "pooling": "median"}),
        "pooling must be attention or mean",
    ),
    "weights": (_corrupt_weights, "is malformed (SafetensorError"),
}


def _corrupted(tiny_artifact: Path, tmp_path: Path, name: str) -> Path:
    artifact = tmp_path / "model"
    shutil.copytree(tiny_artifact, artifact)
    CORRUPTIONS[name][0](artifact)
    return artifact


@pytest.mark.parametrize("name", ["invalid-json", "missing-key", "backbone-not-object"])
def test_the_command_explains_a_corrupted_artifact_in_one_line(
    tiny_artifact: Path, tmp_path: Path, conversations: Path, name: str
) -> None:
    artifact = _corrupted(tiny_artifact, tmp_path, name)
    out = tmp_path / "out.jsonl"
    proc = _run("--model", str(artifact), "--input", str(conversations), "--output", str(out))
    assert proc.returncode == 2
    _one_clear_line(proc.stderr, CORRUPTIONS[name][1])
    assert "retrain or restore the artifact" in proc.stderr
    assert not out.exists() and not (tmp_path / "out.jsonl.partial").exists()


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_it_explains_every_corrupted_artifact_in_one_line(
    tiny_artifact: Path, tmp_path: Path, conversations: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    artifact = _corrupted(tiny_artifact, tmp_path, name)
    out = tmp_path / "out.jsonl"
    assert (
        main(["predict", "--model", str(artifact), "--input", str(conversations), "--output", str(out)]) == 2
    )
    err = capsys.readouterr().err
    _one_clear_line(err, CORRUPTIONS[name][1])
    assert "retrain or restore the artifact" in err
    assert not out.exists()


def test_it_refuses_a_missing_output_directory_before_loading_any_model(
    tmp_path: Path, conversations: Path
) -> None:
    # the model does not exist either: the output path is checked first, in a fraction of a second
    out = tmp_path / "no-such-dir" / "out.jsonl"
    proc = _run("--model", str(tmp_path / "no-model"), "--input", str(conversations), "--output", str(out))
    assert proc.returncode == 2
    _one_clear_line(proc.stderr, f"output directory {out.parent} does not exist; create it")


# ---- empty and broken input --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no conversations in the file"),
        (b"\n  \n\t\n", "no conversations in the file"),
        (CONVERSATION.encode()[:-5], "line 1: invalid JSON"),
        (
            b'{"id": "a", "turns": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
            "line 1: JSON nested too deeply",
        ),
        (b'{"id": "a", "turns": [{"role": "user", "text": "\\ud800"}]}\n', "turns[0].text holds an unpaired"),
        (
            b'{"id": "\\udfff", "turns": [{"role": "user", "text": "x"}]}\n',
            "'id' holds an unpaired surrogate",
        ),
        (b'{"id": "a", "turns": [{"role": "user", "text": "caf\xe9"}]}\n', "not UTF-8 text"),
        (b"\x00\x01\x02\xff", "not UTF-8 text"),
        (b"[1, 2, 3]\n", "line 1: expected a JSON object"),
        (b'{"id": "a", "turns": [{"role": "user", "text": ["x"]}]}\n', "line 1: turns[0] must be"),
        (b'{"id": "a", "turns": [{"role": "user", "text": "   "}]}\n', "conversation 'a' has no text"),
    ],
    ids=[
        "zero-bytes",
        "only-whitespace",
        "truncated",
        "nested-too-deeply",
        "surrogate-text",
        "surrogate-id",
        "latin-1",
        "binary",
        "array",
        "text-not-string",
        "blank-text",
    ],
)
def test_it_explains_broken_input_in_one_line(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(content)
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(tiny_artifact), "--input", str(src), "--output", str(out)]) == 2
    _one_clear_line(capsys.readouterr().err, message)
    assert not out.exists()


def test_it_says_the_input_is_a_directory(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    assert (
        main(["predict", "--model", str(tiny_artifact), "--input", str(tmp_path), "--output", str(out)]) == 2
    )
    _one_clear_line(capsys.readouterr().err, "is a directory; pass the conversations .jsonl file")


# ---- unusable output -------------------------------------------------------------------------------
def test_it_refuses_an_output_directory_it_may_not_write_to(
    tiny_artifact: Path,
    tmp_path: Path,
    conversations: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: let the check see what an ordinary user would
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode)
        )
    try:
        argv = ["predict", "--model", str(tiny_artifact), "--input", str(conversations)]
        assert main([*argv, "--output", str(locked / "out.jsonl")]) == 2
    finally:
        locked.chmod(0o755)
    _one_clear_line(capsys.readouterr().err, f"cannot write to output directory {locked}")
    assert list(locked.iterdir()) == []


def test_it_refuses_an_output_path_that_is_a_directory(
    tiny_artifact: Path, tmp_path: Path, conversations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "predict",
        "--model",
        str(tiny_artifact),
        "--input",
        str(conversations),
        "--output",
        str(tmp_path),
    ]
    assert main(argv) == 2
    _one_clear_line(capsys.readouterr().err, "is a directory; give a file name")


def test_it_leaves_no_partial_file_when_scoring_fails_midway(
    tiny_artifact: Path, tmp_path: Path, conversations: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scoring.ensemble import Ensemble

    def out_of_memory(self: object, windows: object) -> object:
        raise MemoryError("simulated")

    monkeypatch.setattr(Ensemble, "predict", out_of_memory)
    out = tmp_path / "out.jsonl"
    with pytest.raises(MemoryError):
        main(["predict", "--model", str(tiny_artifact), "--input", str(conversations), "--output", str(out)])
    assert list(tmp_path.iterdir()) == [conversations]


# ---- bad options -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--batch-size", "0"], "--batch-size: must be at least 1"),
        (["--batch-size", "ten"], "--batch-size: 'ten' is not a whole number"),
        (["--device", "tpu"], "--device: 'tpu': use auto, cpu, cuda or cuda:N"),
    ],
)
def test_it_refuses_bad_options_with_a_usage_error(
    tmp_path: Path, conversations: Path, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    argv = ["predict", "--model", str(tmp_path), "--input", str(conversations), "--output", "o.jsonl"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, *option])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_it_says_when_cuda_is_asked_for_but_missing(
    tiny_artifact: Path,
    tmp_path: Path,
    conversations: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = ["predict", "--model", str(tiny_artifact), "--input", str(conversations)]
    assert main([*argv, "--output", str(tmp_path / "o.jsonl"), "--device", "cuda"]) == 2
    _one_clear_line(capsys.readouterr().err, "no CUDA GPU is available here; use --device cpu")


def test_sent_at_is_optional_read_when_given_and_named_when_bad() -> None:
    from scoring.cli import InputError, parse_line

    undated = parse_line(CONVERSATION, "line 1")
    assert undated.end is None and undated.conversations[0].turns[0].sent_at is None
    dated = parse_line(
        json.dumps(
            {
                "id": "d",
                "turns": [
                    {"role": "user", "text": "low", "sent_at": "2026-11-03T08:00:00Z"},
                    {"role": "assistant", "text": "ok", "sent_at": "2026-11-05T09:30:00+00:00"},
                ],
            }
        ),
        "line 1",
    )
    assert dated.conversations[0].turns[0].sent_at is not None
    assert (dated.start.isoformat(), dated.end.isoformat()) == (  # type: ignore[union-attr]
        "2026-11-03T08:00:00+00:00",
        "2026-11-05T09:30:00+00:00",
    )
    for bad in ("yesterday", 20261103, ""):
        line = json.dumps({"id": "b", "turns": [{"role": "user", "text": "x", "sent_at": bad}]})
        with pytest.raises(InputError, match=r"line 7: turns\[0\]\.sent_at must be an ISO-8601"):
            parse_line(line, "line 7")
    mixed = json.dumps(
        {
            "id": "m",
            "turns": [
                {"role": "user", "text": "x", "sent_at": "2026-11-03T08:00:00Z"},
                {"role": "user", "text": "y", "sent_at": "2026-11-03T09:00:00"},
            ],
        }
    )
    with pytest.raises(InputError, match="time zone"):
        parse_line(mixed, "line 2")
