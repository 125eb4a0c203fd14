"""Scaling out: the same LoRA member trained by torchrun with 2 processes (FSDP on CPU, gloo) as by 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import make_examples
from tests.tiny_models import tiny_qwen3_5

ROOT = Path(__file__).resolve().parents[2]


def _run_dir(tmp_path: Path) -> Path:
    backbone = tiny_qwen3_5()
    backbone.module.save_pretrained(tmp_path / "backbone")
    backbone.tokenizer.save_pretrained(tmp_path / "backbone")
    with (tmp_path / "gt.jsonl").open("w") as out:
        for e in make_examples(16, groups=8):
            turns = [
                {"role": t.role, "text": t.text, "sent_at": t.sent_at.isoformat() if t.sent_at else None}
                for c in e.window.conversations
                for t in c.turns
            ]
            turns = [{k: v for k, v in t.items() if v is not None} for t in turns]
            out.write(
                json.dumps({"id": e.window.id, "group": e.group, "turns": turns, "items": list(e.items)})
                + "\n"
            )
    (tmp_path / "run.toml").write_text(
        '[data]\nground_truth = "gt.jsonl"\n\n[train]\nbackbone = "backbone"\nmode = "lora"\nsteps = 4\n'
        "batch_size = 5\nmax_tokens = 32\nlora_dropout = 0.0\ndropout = 0.0\neval_every = 2\npatience = 10\n"
        "micro_batch_tokens = 64\n"
    )
    return tmp_path


def _torchrun(run: Path, procs: int, out: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
        "-m", "training.distributed", "--config", str(run / "run.toml"), "--out", str(run / out),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow  # two torchrun processes
def test_two_fsdp_processes_train_the_same_member_as_one(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    _torchrun(run, 1, "one")
    _torchrun(run, 2, "two")
    one, two = (
        json.loads((run / "one" / "member.json").read_text()),
        json.loads((run / "two" / "member.json").read_text()),
    )
    assert (one["world_size"], two["world_size"]) == (1, 2)
    for name in ("heads.safetensors", "adapter/adapter_model.safetensors"):
        a, b = load_file(run / "one" / name), load_file(run / "two" / name)
        assert a and set(a) == set(b)
        for key in a:
            # Sums of gradients over ranks differ from one process's in float rounding only; Adam divides
            # by the gradient's magnitude, so a near-zero component can move by up to the learning rate.
            torch.testing.assert_close(b[key], a[key], rtol=1e-3, atol=1e-4, msg=f"{name}: {key}")
    adapter = json.loads((run / "two" / "adapter" / "adapter_config.json").read_text())
    assert any(t.endswith("in_proj_qkv") for t in adapter["target_modules"])  # every linear projection
    # what was trained moved away from its initialisation (LoRA B starts at zero)
    assert any(
        v.abs().sum() > 0
        for k, v in load_file(run / "two" / "adapter/adapter_model.safetensors").items()
        if "lora_B" in k
    )

    # The member becomes a scoring artifact, in one process.
    assemble = [sys.executable, "-m", "training.distributed", "--config", str(run / "run.toml"), "--assemble"]
    done = subprocess.run(
        [*assemble, str(run / "two")],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    artifact = Path(done.stdout.strip().splitlines()[-1])
    manifest = json.loads((artifact / "manifest.json").read_text())
    assert manifest["members"][0]["trained_on"].endswith("(training.distributed, 2 processes)")
    # evaluated on held-out test patients that no member trained on, as the learning loop does
    test_patients = set(manifest["test_set"]["patients"])
    assert test_patients and test_patients == set(two["test_patients"])
    assert test_patients.isdisjoint(manifest["trained_patients"])
    assert (
        manifest["metrics"]["n"] == len(manifest["test_set"]["windows"]) and "validation_metrics" in manifest
    )
    assert manifest["input"] == two["input"]
    from scoring.ensemble import Ensemble
    from tests.conftest import make_window

    assert len(Ensemble.load(artifact, device="cpu").predict([make_window(1, 0.5)])) == 1


def test_members_and_the_assembled_artifact_leave_the_held_out_test_patients_out(tmp_path: Path) -> None:
    from training.distributed import held_out_split

    examples = make_examples(40, groups=20)
    dev, test = held_out_split(examples, {"loop": {"test_fraction": 0.25, "split": "patient"}})
    assert 2 <= len({e.patient for e in test}) <= 8 and len(dev) + len(test) == 40  # a quarter, by hash
    assert {e.patient for e in dev}.isdisjoint({e.patient for e in test})


def test_assembling_refuses_a_member_trained_with_other_test_patients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.distributed import main

    run = tmp_path
    (run / "gt.jsonl").write_text(
        "".join(
            json.dumps({"id": e.window.id, "group": e.group, "turns": [{"role": "user", "text": "tired"}],
                        "items": list(e.items)}) + "\n"
            for e in make_examples(16, groups=8)
        )
    )  # fmt: skip
    (run / "run.toml").write_text('[data]\nground_truth = "gt.jsonl"\n\n[train]\nmode = "lora"\n')
    member = run / "member-m0"
    member.mkdir()
    (member / "member.json").write_text(json.dumps({"mode": "lora", "seed": 13, "test_patients": ["g0"]}))
    assert main(["--config", str(run / "run.toml"), "--assemble", str(member)]) == 2
    assert "other held-out test patients" in capsys.readouterr().err
