from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_examples, make_window
from tests.tiny_models import tiny_encoder
from tests.training.fake_anthropic import fake_anthropic
from training.run_config import ConfigError, run_from_config


def _write_inputs(tmp_path: Path) -> Path:
    backbone = tiny_encoder()
    backbone.module.save_pretrained(tmp_path / "tiny")
    backbone.tokenizer.save_pretrained(tmp_path / "tiny")
    with (tmp_path / "gt.jsonl").open("w") as f:
        for e in make_examples(24, groups=8):
            turns = [{"role": t.role, "text": t.text} for t in e.window.conversations[0].turns]
            f.write(
                json.dumps({"id": e.window.id, "group": e.group, "turns": turns, "items": list(e.items)})
                + "\n"
            )
    with (tmp_path / "unlabeled.jsonl").open("w") as f:
        for i in range(4):
            w = make_window(200 + i, i / 4)
            turns = [{"role": t.role, "text": t.text} for t in w.conversations[0].turns]
            f.write(
                json.dumps({"id": w.id, "group": f"u{i}", "turns": turns, "consent_external": True}) + "\n"
            )
    config = tmp_path / "run.toml"
    config.write_text(
        '[data]\nground_truth = "gt.jsonl"\nunlabeled = "unlabeled.jsonl"\n'
        '[output]\nstore = "models"\n'
        '[train]\nbackbone = "tiny"\nepochs = 2\nmembers = 2\n'
        "[loop]\nrelabel_rounds = 1\n"
    )
    return config


def test_it_runs_the_loop_from_a_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # the relative backbone path resolves from here
    result, report = run_from_config(_write_inputs(tmp_path))
    assert (result.train.artifact_dir / "run_report.json").is_file()
    assert report["test_metrics"]["evaluated_on"].startswith(
        "held-out test patients (drawn by a hash of the patient's id"
    )
    assert any("stage 1 skipped" in line for line in report["log"])


def test_it_keeps_claude_labels_in_the_store_across_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    config = _write_inputs(tmp_path)
    with fake_anthropic() as fake:
        config.write_text(
            config.read_text() + f'[claude]\nmodel = "claude-test"\nbase_url = "{fake.base_url}"\n'
        )
        _, first = run_from_config(config)
        _, second = run_from_config(config)
    assert first["labeling"]["labelled"] == 4 and second["labeling"]["from_cache"] == 4
    assert len(fake.requests) == 4
    assert len((tmp_path / "models" / "pseudo_labels.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[data]\n", "needs ground_truth"),
        ('[data]\nground_truth = "none.jsonl"\n', "no such file"),
        ('[data]\nground_truth = "gt.jsonl"\n[train]\nepochz = 3\n', "unknown key(s) in [train]: epochz"),
        ("[data\n", "not valid TOML"),
    ],
)
def test_it_explains_a_bad_config(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "gt.jsonl").write_text(
        '{"id": "a", "group": "p1", "turns": [{"role": "user", "text": "hi"}], "total": 3}\n'
    )
    config = tmp_path / "run.toml"
    config.write_text(toml)
    with pytest.raises(
        ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        run_from_config(config)


def test_the_command_line_runs_the_loop_and_names_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.__main__ import main

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--config", str(_write_inputs(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "run_report.json" in out and '"test_metrics"' in out


def test_the_command_line_gives_one_error_line_for_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.__main__ import main

    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no such file" in err and len(err.strip().splitlines()) == 1


def test_ground_truth_turns_may_carry_sent_at(tmp_path: Path) -> None:
    from training.run_config import read_ground_truth

    path = tmp_path / "gt.jsonl"
    path.write_text(
        '{"id": "a", "group": "p1", "total": 3, "turns": '
        '[{"role": "user", "text": "hi", "sent_at": "2026-11-03T08:00:00Z"}]}\n'
        '{"id": "b", "group": "p2", "total": 5, "turns": [{"role": "user", "text": "hey"}]}\n'
    )
    dated, undated = read_ground_truth(path)
    assert dated.window.end is not None and dated.window.end.day == 3 and undated.window.end is None
    path.write_text(
        '{"id": "c", "group": "p3", "total": 3, '
        '"turns": [{"role": "user", "text": "hi", "sent_at": "soon"}]}\n'
    )
    with pytest.raises(ConfigError, match=r"line 1: conversation 0 turns\[0\]\.sent_at must be an ISO-8601"):
        read_ground_truth(path)


def test_ground_truth_without_a_patient_is_refused_rather_than_split_by_window(tmp_path: Path) -> None:
    from training.run_config import read_ground_truth

    path = tmp_path / "gt.jsonl"
    path.write_text('{"id": "a", "total": 3, "turns": [{"role": "user", "text": "hi"}]}\n')
    with pytest.raises(ConfigError, match=r"line 1: needs 'group' \(the patient"):
        read_ground_truth(path)
