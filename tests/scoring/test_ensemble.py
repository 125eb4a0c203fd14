from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scoring.artifact import ArtifactError, read_manifest
from scoring.ensemble import Ensemble
from tests.conftest import make_window


def test_it_loads_the_artifact_and_scores_windows(tiny_artifact: Path) -> None:
    ensemble = Ensemble.load(tiny_artifact, device="cpu")
    scores = ensemble.predict([make_window(1, 0.0), make_window(2, 1.0)])
    assert [s.window_id for s in scores] == ["w1", "w2"]
    for s in scores:
        assert 0 <= s.total <= 27 and len(s.items) == 9
        assert s.total == pytest.approx(sum(s.items), abs=1e-3)
        assert s.interval[0] <= s.total <= s.interval[1]
        assert s.model_version == tiny_artifact.name
        assert s.evidence and all(len(e.weights) == 9 for e in s.evidence)


def test_it_writes_a_complete_manifest(tiny_artifact: Path) -> None:
    manifest = read_manifest(tiny_artifact)
    assert manifest["backbone"]["id"] == "artifact:backbone"
    assert manifest["pooling"] == "attention" and manifest["max_tokens"] == 256
    assert [(m["name"], m["mode"]) for m in manifest["members"]] == [
        ("m0", "heads"),
        ("m1", "heads"),
        ("lexical", "lexical"),
    ]
    assert manifest["input"] == {
        "turn_roles": ["user"],
        "day_markers": True,
        "whole_window": False,
        "day_format": "relative",
    }
    assert set(manifest["blend"]["weights"]) == {"m0", "m1", "lexical"}
    assert sum(manifest["blend"]["weights"].values()) == pytest.approx(1.0, abs=1e-5)
    # 8 patients, 2 validate, 1 calibrates: too few for an interval, said rather than stated
    assert manifest["calibration"]["withheld"].startswith("too few patients to say: 1 calibration patient")
    assert {"mae", "rmse", "pearson_r", "auc_at_10"} <= set(manifest["metrics"])
    assert "interval_coverage" not in manifest["metrics"]  # the whole scale covers all: no figure
    assert manifest["metrics"]["interval_method"].startswith("no interval: too few patients to say")
    assert manifest["training_data"]["windows"] == 24
    assert (tiny_artifact / "tokenizer").is_dir() and (tiny_artifact / "backbone" / "config.json").is_file()


def test_it_scores_the_same_window_the_same_way_cached_or_not(tiny_artifact: Path) -> None:
    ensemble = Ensemble.load(tiny_artifact, device="cpu")
    first = ensemble.predict([make_window(3, 0.5)])[0]
    assert len(ensemble.cache) > 0
    again = ensemble.predict([make_window(3, 0.5)])[0]
    ensemble.cache.clear()
    fresh = ensemble.predict([make_window(3, 0.5)])[0]
    assert first.total == again.total == fresh.total


def test_it_scores_a_window_alone_as_in_a_batch(tiny_artifact: Path) -> None:
    ensemble = Ensemble.load(tiny_artifact, device="cpu")
    windows = [make_window(i, i / 10, n_turns=2 + 2 * i) for i in range(6)]
    batch = ensemble.predict(windows, batch_tokens=128)
    ensemble.cache.clear()
    alone = [ensemble.predict([w])[0] for w in windows]
    assert [s.total for s in batch] == pytest.approx([s.total for s in alone], abs=1e-3)


def test_it_refuses_a_missing_or_corrupted_artifact(tiny_artifact: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        Ensemble.load(tmp_path / "nope")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_artifact, broken)
    (broken / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        Ensemble.load(broken)
    manifest = read_manifest(tiny_artifact)
    del manifest["members"]
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="lacks members"):
        Ensemble.load(broken)
    shutil.rmtree(broken)
    shutil.copytree(tiny_artifact, broken)
    (broken / "members" / "m1" / "heads.safetensors").unlink()
    with pytest.raises(ArtifactError, match="heads.safetensors is missing"):
        Ensemble.load(broken)


def test_every_score_is_the_manifests_blend_of_its_members(tiny_artifact: Path) -> None:
    ensemble = Ensemble.load(tiny_artifact, device="cpu")
    windows = [make_window(i, i / 6) for i in range(6)]
    per_member = ensemble.member_items(windows)
    weights = read_manifest(tiny_artifact)["blend"]["weights"]
    assert set(per_member) == set(weights) == {"m0", "m1", "lexical"}
    expected = sum(weights[name] * items.sum(-1) for name, items in per_member.items())
    got = [s.total for s in ensemble.predict(windows)]
    assert got == pytest.approx(expected.tolist(), abs=1e-3)


def test_a_blend_that_names_other_members_is_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    broken = tmp_path / "blend"
    shutil.copytree(tiny_artifact, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["blend"]["weights"] = {"m0": 1.0}
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="blend weights"):
        Ensemble.load(broken, device="cpu")


def test_a_flooded_window_is_scored_on_its_recent_text_and_the_cut_is_recorded(tiny_artifact: Path) -> None:
    from scoring.types import Conversation, Turn, Window
    from scoring.windowing import MAX_WINDOW_CHARS

    ensemble = Ensemble.load(tiny_artifact, device="cpu")
    line = "I have been so tired and low all week, nothing helps. " * 20  # ~1,100 characters a turn
    conversations = tuple(
        Conversation(id=f"s{k}", turns=tuple(Turn("user", line) for _ in range(10))) for k in range(200)
    )
    (score,) = ensemble.predict([Window(id="flood", conversations=conversations)])
    kept_chars = (2000 - score.n_turns_left_out) * len(line)
    assert score.n_turns_left_out > 1900 and kept_chars <= MAX_WINDOW_CHARS
    assert score.n_chunks <= MAX_WINDOW_CHARS // 100  # bounded model work, not 2,000 turns of chunks
