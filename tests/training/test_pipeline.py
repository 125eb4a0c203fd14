from __future__ import annotations

from pathlib import Path

import pytest

from scoring.artifact import read_manifest
from tests.conftest import make_examples, make_window
from tests.tiny_models import tiny_encoder
from tests.training.fake_anthropic import client_for, fake_anthropic
from training.args import LoopConfig, TrainArgs
from training.labelling.cache import MemoryCache
from training.labelling.claude import ClaudeLabeler, LabelerConfig
from training.pipeline import Unlabeled, run_learning_loop


def _config(**kwargs: object) -> LoopConfig:
    return LoopConfig(train=TrainArgs(members=2, epochs=3, patience=3), **kwargs)  # type: ignore[arg-type]


def _unlabeled(n: int = 6) -> list[Unlabeled]:
    return [
        Unlabeled(make_window(100 + i, i / n), group=f"u{i % 3}", consent_external=i != 0) for i in range(n)
    ]


def test_it_runs_the_whole_loop_with_claude_labels(tmp_path: Path) -> None:
    lines: list[str] = []
    with fake_anthropic() as fake:
        labeler = ClaudeLabeler(client_for(fake), LabelerConfig(model="claude-test"), MemoryCache())
        result = run_learning_loop(
            make_examples(24, groups=8),
            _unlabeled(),
            _config(relabel_rounds=2),
            tmp_path,
            labeler=labeler,
            backbone=tiny_encoder(),
            log_line=lines.append,
        )
    assert len(fake.requests) == 5  # the patient without consent is never sent
    assert result.labeling["labelled"] == 5 and result.labeling["skipped_consent"] == 1
    assert result.pseudo_windows == 5
    assert any("stage 2 round 2" in line for line in lines)
    manifest = read_manifest(result.train.artifact_dir)
    transformer = [m for m in manifest["members"] if m["mode"] != "lexical"]
    assert [m["trained_on"] for m in transformer] == ["ground_truth", "ground_truth+relabelled"]
    assert manifest["metrics"]["evaluated_on"].startswith("held-out test patients (time-ordered")
    assert manifest["test_set"]["patients"] == result.test_groups and result.test_groups
    assert "validation_metrics" in manifest and len(result.test_points) == result.test_metrics["n"]
    flag = manifest["item9_flag"]  # too few calibration windows with item 9 >= 1 to choose on
    assert flag["chosen_on"] == "calibration patients" and flag["threshold"] is None
    assert "needed" in flag["reason"] and "test" not in flag
    assert [p.name for p in tmp_path.iterdir()] == [result.train.version]  # intermediates cleaned up


def test_without_an_api_key_it_trains_on_questionnaires_only_by_default(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_learning_loop(
        make_examples(24, groups=8),
        _unlabeled(),
        _config(),
        tmp_path,
        backbone=tiny_encoder(),
        log_line=lines.append,
    )
    assert any("trained on questionnaires only" in line for line in lines)
    assert result.pseudo_windows == 0


def test_it_uses_its_own_pseudo_labels_without_an_api_key_when_asked(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_learning_loop(
        make_examples(24, groups=8),
        _unlabeled(),
        _config(relabel_rounds=1, self_labels=True),
        tmp_path,
        backbone=tiny_encoder(),
        log_line=lines.append,
    )
    assert any("stage 1 skipped: no Anthropic API key" in line for line in lines)
    assert result.pseudo_windows == 6 and result.labeling["labelled"] == 0


def test_it_needs_enough_patients_for_a_held_out_test(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 3 patients"):
        run_learning_loop(make_examples(4, groups=2), [], _config(), tmp_path, backbone=tiny_encoder())


def test_with_too_few_windows_for_the_lexical_member_it_trains_without_it_and_says_so(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    result = run_learning_loop(
        make_examples(3, groups=3), [], _config(), tmp_path, backbone=tiny_encoder(), log_line=lines.append
    )
    assert "lexical" not in [m["name"] for m in read_manifest(result.train.artifact_dir)["members"]]
    assert any(
        line.startswith("lexical member skipped, the ensemble is trained without it") for line in lines
    )


def test_it_never_trains_or_labels_a_held_out_test_patients_unlabeled_windows(tmp_path: Path) -> None:
    from training.splits import held_out_test_split, split_kind

    examples = make_examples(24, groups=8)
    _, test_idx = held_out_test_split(examples, fraction=0.2, kind=split_kind(examples, "auto"))
    test_groups = sorted({examples[i].group for i in test_idx})
    dev_group = next(e.group for e in examples if e.group not in test_groups)
    unlabeled = [
        Unlabeled(make_window(200 + i, 0.5), group=group, consent_external=True)
        for i, group in enumerate([*test_groups, *test_groups, dev_group])
    ]
    lines: list[str] = []
    with fake_anthropic() as fake:
        labeler = ClaudeLabeler(client_for(fake), LabelerConfig(model="claude-test"), MemoryCache())
        result = run_learning_loop(
            examples,
            unlabeled,
            _config(relabel_rounds=1),
            tmp_path,
            labeler=labeler,
            backbone=tiny_encoder(),
            log_line=lines.append,
        )
    assert len(fake.requests) == 1 and result.pseudo_windows == 1  # only the development patient's
    assert any(
        f"{2 * len(test_groups)} unlabeled windows of held-out test patients left out" in s for s in lines
    )


def test_it_recommends_an_item9_threshold_and_measures_it_on_test(tmp_path: Path) -> None:
    config = LoopConfig(train=TrainArgs(members=1, epochs=2, patience=2, val_fraction=0.5), relabel_rounds=0)
    result = run_learning_loop(make_examples(120, groups=40), [], config, tmp_path, backbone=tiny_encoder())
    flag = read_manifest(result.train.artifact_dir)["item9_flag"]
    assert flag["threshold"] is not None and flag["positives"] >= 10 and flag["recall"] >= 0.9
    assert flag["test"]["threshold"] == flag["threshold"] and flag["test"]["n"] == result.test_metrics["n"]


def test_a_lora_run_holds_exactly_one_backbone_for_the_whole_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intermediate models, cross-fitted re-labels, blend, calibration and the held-out evaluation all
    run on the one backbone the run loaded; every LoRA layer attached for them is detached again."""
    import scoring.ensemble
    import training.finetune
    import training.pipeline
    from scoring.backbone import load_backbone
    from tests.tiny_models import tiny_qwen3_5

    tiny = tiny_qwen3_5()
    tiny.module.save_pretrained(tmp_path / "qwen")
    tiny.tokenizer.save_pretrained(tmp_path / "qwen")
    loaded: list[object] = []

    def counting(*args: object, **kwargs: object) -> object:
        backbone = load_backbone(*args, **kwargs)  # type: ignore[arg-type]
        loaded.append(backbone)
        return backbone

    for module in (scoring.ensemble, training.finetune, training.pipeline):
        monkeypatch.setattr(module, "load_backbone", counting)
    train = TrainArgs(
        backbone=str(tmp_path / "qwen"),
        mode="lora",
        members=2,
        steps=2,
        patience=2,
        max_tokens=32,
        lexical=False,
    )
    result = run_learning_loop(
        make_examples(24, groups=8),
        _unlabeled(),
        LoopConfig(train=train, relabel_rounds=1, self_labels=True, relabel_folds=2),
        tmp_path / "store",
    )
    assert result.pseudo_windows == 6  # the intermediate models did label and re-label
    assert len(loaded) == 1
    backbone = loaded[0].module  # type: ignore[attr-defined]
    assert not any(hasattr(m, "lora_A") for m in backbone.modules())  # given back as it came
