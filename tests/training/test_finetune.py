from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from scoring.artifact import read_manifest
from scoring.ensemble import Ensemble
from scoring.types import LabeledWindow
from tests.conftest import make_examples, make_window
from tests.tiny_models import tiny_encoder, tiny_qwen3_5
from training.args import TrainArgs
from training.finetune import train_ensemble
from training.metrics import regression_report
from training.splits import split_by_group


@pytest.mark.parametrize("mode", ["heads", "lora", "full"])
def test_it_trains_each_mode_on_an_encoder(mode: str, tmp_path: Path) -> None:
    args = TrainArgs(mode=mode, members=1, epochs=2, patience=2, batch_size=8)
    result = train_ensemble(make_examples(16, groups=4), args, tmp_path, backbone=tiny_encoder())
    member = result.artifact_dir / "members" / "m0"
    assert (member / "heads.safetensors").is_file()
    assert (member / "adapter" / "adapter_config.json").is_file() == (mode == "lora")
    assert (member / "backbone.safetensors").is_file() == (mode == "full")
    scores = Ensemble.load(result.artifact_dir, device="cpu").predict([make_window(0, 1.0)])
    assert 0 <= scores[0].total <= 27


def test_it_trains_lora_on_a_qwen3_5_decoder_with_explicit_targets(tmp_path: Path) -> None:
    args = TrainArgs(mode="lora", members=2, epochs=1, patience=1, batch_size=8, max_tokens=64)
    result = train_ensemble(make_examples(12, groups=4), args, tmp_path, backbone=tiny_qwen3_5())
    manifest = read_manifest(result.artifact_dir)
    assert manifest["backbone"]["kind"] == "decoder" and manifest["backbone"]["model_type"] == "qwen3_5_text"
    adapter = (result.artifact_dir / "members" / "m1" / "adapter" / "adapter_config.json").read_text()
    assert "q_proj" in adapter and "v_proj" in adapter
    assert len(Ensemble.load(result.artifact_dir, device="cpu").predict([make_window(1, 0.3)])) == 1


def test_it_learns_totals_when_only_totals_are_labelled(tmp_path: Path) -> None:
    examples = [
        LabeledWindow(window=e.window, total=e.total, items=None, group=e.group) for e in make_examples(24)
    ]
    result = train_ensemble(
        examples,
        TrainArgs(members=1, epochs=150, patience=150, learning_rate=1e-2, val_fraction=0.0),
        tmp_path,
        backbone=tiny_encoder(),
    )
    # fitted on totals alone: far below the 13.5 of the untrained midpoint guess for 0/9/18/27 targets
    assert result.metrics["mae"] < 8
    assert "item_mae" not in result.metrics


def test_it_leaves_nothing_behind_when_training_fails(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        train_ensemble(make_examples(1), TrainArgs(members=1), tmp_path, backbone=tiny_encoder())
    bad = make_examples(4)
    bad[0] = LabeledWindow(window=bad[0].window, total=1.0, items=None, group="x")
    object.__setattr__(bad[0], "total", float("nan"))  # a corrupt label that slipped past validation
    with pytest.raises(Exception):  # noqa: B017 - whatever the failure, no artifact may remain
        train_ensemble(
            bad, TrainArgs(members=1, epochs=1, balance_bands=True), tmp_path, backbone=tiny_encoder()
        )
    assert list(tmp_path.iterdir()) == []


def test_it_trains_without_the_lexical_member_when_too_few_windows_have_patient_text(
    tmp_path: Path,
) -> None:
    # A clinic's first questionnaires: only one of the training windows has anything the patient wrote.
    examples = make_examples(8, groups=4)
    for i, e in enumerate(examples[1:], start=1):
        silent = tuple(
            replace(c, turns=tuple(t for t in c.turns if t.role != "user")) for c in e.window.conversations
        )
        examples[i] = replace(e, window=replace(e.window, conversations=silent))
    result = train_ensemble(
        examples, TrainArgs(members=1, epochs=1, patience=1), tmp_path, backbone=tiny_encoder()
    )
    assert [m["name"] for m in result.manifest["members"]] == ["m0"]
    (skipped,) = result.manifest["skipped_members"]
    assert skipped["name"] == "lexical" and "at least 2 training windows" in skipped["reason"]
    assert not (result.artifact_dir / "members" / "lexical").exists()
    assert 0 <= Ensemble.load(result.artifact_dir, device="cpu").predict([make_window(0, 1.0)])[0].total <= 27


def test_it_reports_the_study_metrics() -> None:
    truth = [2, 4, 8, 11, 14, 18, 22, 25]
    pred = [3, 3, 7, 12, 13, 17, 21, 24]
    report = regression_report(truth, pred, intervals=[(p - 2, p + 2) for p in pred])
    assert report["mae"] == pytest.approx(1.0)
    assert report["auc_at_10"] == 1.0 and report["auc_by_threshold"]["24"] == 1.0
    assert set(report["auc_by_threshold"]) == {str(k) for k in range(3, 25)}
    assert report["interval_coverage"] == 1.0
    assert report["band_recall"]["minimal"] == 1.0
    assert regression_report([5, 5], [1, 2])["pearson_r"] is None


def test_it_loads_a_local_qwen3_5_checkpoint_by_path(tmp_path: Path) -> None:
    """A checkpoint directory on disk (as a real Qwen3.5 would be), referenced by path, loaded offline."""
    tiny = tiny_qwen3_5()
    checkpoint = tmp_path / "qwen3_5-tiny"
    tiny.module.config.pad_token_id = None  # as shipped: decoders often have no pad token
    tiny.module.save_pretrained(checkpoint)
    tiny.tokenizer.save_pretrained(checkpoint)
    args = TrainArgs(backbone=str(checkpoint), mode="heads", members=1, epochs=1, patience=1, max_tokens=64)
    result = train_ensemble(make_examples(8, groups=4), args, tmp_path / "store")
    manifest = read_manifest(result.artifact_dir)
    assert manifest["backbone"]["id"] == str(checkpoint) and manifest["backbone"]["kind"] == "decoder"
    assert not (result.artifact_dir / "backbone").exists()  # referenced, not copied
    ensemble = Ensemble.load(result.artifact_dir, device="cpu")
    assert ensemble.backbone.module.config.pad_token_id is not None
    assert len(ensemble.predict([make_window(2, 0.5)])) == 1


def test_it_takes_the_text_tower_of_a_multimodal_qwen3_5_checkpoint(tmp_path: Path) -> None:
    from transformers import AutoModel
    from transformers.models.qwen3_5.configuration_qwen3_5 import Qwen3_5Config

    from scoring.backbone import load_backbone

    tiny = tiny_qwen3_5()
    text = tiny.module.config.to_dict()
    vision = {
        "depth": 1,
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_heads": 2,
        "out_hidden_size": 32,
        "patch_size": 4,
        "num_position_embeddings": 16,
    }
    checkpoint = tmp_path / "qwen3_5-vl-tiny"
    AutoModel.from_config(Qwen3_5Config(text_config=text, vision_config=vision)).save_pretrained(checkpoint)
    tiny.tokenizer.save_pretrained(checkpoint)
    backbone = load_backbone(str(checkpoint))
    assert backbone.kind == "decoder" and backbone.model_type == "qwen3_5_text"
    assert type(backbone.module).__name__ == "Qwen3_5TextModel"  # the vision tower is not kept
    assert backbone.module.config.pad_token_id is not None


def test_it_leaves_out_extra_windows_of_validation_patients(tmp_path: Path) -> None:
    from tests.conftest import make_window
    from training.finetune import MemberSet

    examples = make_examples(24, groups=8)
    args = TrainArgs(members=1, epochs=2, patience=2, val_fraction=0.25)
    _, val_idx = split_by_group(examples, val_fraction=args.val_fraction, seed=args.seed)
    val_group = examples[val_idx[0]].group
    extra = tuple(
        LabeledWindow(window=make_window(300 + i, 0.5), total=9.0, group=group)
        for i, group in enumerate([val_group, val_group, "someone-else"])
    )
    result = train_ensemble(
        examples, args, tmp_path, backbone=tiny_encoder(), member_sets=[MemberSet("pseudo", extra)]
    )
    member = result.manifest["members"][0]
    assert member["extra_windows"] == 1 and member["extra_windows_of_validation_patients_left_out"] == 2


def test_it_early_stops_and_calibrates_on_different_patients(tmp_path: Path) -> None:
    from training.splits import split_validation

    examples = make_examples(24, groups=8)
    _, val_idx = split_by_group(examples, val_fraction=0.5, seed=13)
    stop, calibrate = split_validation(examples, val_idx)
    assert stop and calibrate and sorted(stop + calibrate) == sorted(val_idx)
    assert {examples[i].group for i in stop}.isdisjoint({examples[i].group for i in calibrate})
    one_patient = [i for i in val_idx if examples[i].group == examples[val_idx[0]].group]
    assert split_validation(examples, one_patient) == (one_patient, one_patient)

    result = train_ensemble(
        examples,
        TrainArgs(members=1, epochs=2, patience=2, val_fraction=0.5),
        tmp_path,
        backbone=tiny_encoder(),
    )
    data = result.manifest["training_data"]
    assert data["early_stopping_and_calibration_patients"] == "separate"
    assert data["early_stopping_windows"] + data["calibration_windows"] == data["validation_windows"]
    assert result.manifest["calibration"]["n"] == data["calibration_windows"] == result.metrics["n"]


def test_the_manifest_counts_the_assembled_windows(tiny_artifact: Path) -> None:
    from scoring.artifact import read_manifest

    members = read_manifest(tiny_artifact)["members"]
    assert all(m["assembled_windows"] > 0 for m in members if m["mode"] == "heads")
