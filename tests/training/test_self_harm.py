"""Training the self-harm detector's sentence model (training/self_harm.py), on a made-up cssrs-like set
and a hashing stand-in for MiniLM, so the test is fast and needs no data from ../shared."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from scoring.self_harm import DETECTOR_VERSION, SelfHarmDetector, SentenceEncoder
from training.__main__ import main
from training.self_harm import (
    MODEL_WEIGHTS,
    NONE_STRENGTHS,
    SelfHarmTrainArgs,
    load_cssrs,
    load_sentences,
    train,
)

# Made-up users (never text from the public set): the positive ones state their own risk.
POSITIVE_POSTS = [
    "I want to die. Nothing helps anymore.",
    "Last night I cut myself again. I hate this.",
    "I keep thinking about killing myself. Work is awful.",
    "Everyone would be better off without me. I am so tired.",
]
NEGATIVE_POSTS = [
    "Please reach out, you matter. Suicide is never the answer.",
    "My friend wants to die and I am trying to help her.",
    "Exams are killing me. I slept badly.",
    "I watched a documentary about suicide prevention. It was good.",
]


def write_cssrs(root: Path, *, splits: Sequence[str] = ("train", "val", "test"), marker: str = "") -> Path:
    """A cssrs-like folder under root: per split, two users of each of the five labels."""
    folder = root / "cssrs"
    folder.mkdir(parents=True)
    for split in splits:
        with (folder / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "text", "label"])
            for i, label in enumerate(["Ideation", "Behavior", "Attempt", "Ideation"]):
                writer.writerow([f"{split}-p{i}", f"{POSITIVE_POSTS[i]} {marker}", label])
            for i, label in enumerate(["Supportive", "Indicator", "Supportive", "Indicator"]):
                writer.writerow([f"{split}-n{i}", f"{NEGATIVE_POSTS[i]} {marker}", label])
    return root


class HashingEncoder(SentenceEncoder):
    """A stand-in for MiniLM: hashed words, L2-normalised (same interface, no model to load)."""

    DIM = 64

    def __init__(self) -> None:
        super().__init__("hashing")

    def encode(self, sentences: Sequence[str]) -> list[list[float]]:
        out = []
        for sentence in sentences:
            vector = [0.0] * self.DIM
            for word in sentence.lower().split():
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.DIM] += 1.0
            norm = sum(v * v for v in vector) ** 0.5 or 1.0
            out.append([v / norm for v in vector])
        return out

    def bag(self, sentences: Sequence[str]) -> list[list[float]]:
        return self.encode(sentences)


def test_the_written_sentences_load_with_both_labels() -> None:
    sentences = load_sentences()
    assert len(sentences) >= 200 and {s.label for s in sentences} == {0, 1}


def test_it_reads_cssrs_labels_as_item9(tmp_path: Path) -> None:
    users = load_cssrs(write_cssrs(tmp_path), "train")
    assert [label for _, label in users] == [1, 1, 1, 1, 0, 0, 0, 0]


def test_it_writes_weights_the_detector_loads_and_no_text_of_the_data(tmp_path: Path) -> None:
    data = write_cssrs(tmp_path / "data", splits=("train", "val"), marker="zebracorn")
    out = tmp_path / "head.json"
    config = train(SelfHarmTrainArgs(data_dir=data, out=out), encoder=HashingEncoder())
    written = out.read_text(encoding="utf-8")
    assert json.loads(written) == config and "zebracorn" not in written
    assert config["version"] == DETECTOR_VERSION and 0 < config["threshold"] < 1
    assert len(config["head"]["coef"]) == HashingEncoder.DIM and config["head"]["weight"] in MODEL_WEIGHTS
    assert (
        len(config["filter"]["coef"]) == HashingEncoder.DIM and config["strength"]["none"] in NONE_STRENGTHS
    )
    assert config["training"]["trained_on"]["cssrs_train_sentences"] > 0
    # the user score's aggregation and the combination are chosen in training, and recorded
    assert config["aggregate"]["method"] in {"max", "noisy_or"}
    assert all(c["aggregate_choices"] and "dev" in c for c in config["training"]["choices"])
    detector = SelfHarmDetector(config, encoder=HashingEncoder())
    high, low = detector.score_texts(["I want to kill myself.", "This exam is killing me."])
    assert high >= detector.threshold > low


def test_it_trains_on_the_written_sentences_alone(tmp_path: Path) -> None:
    config = train(SelfHarmTrainArgs(out=tmp_path / "head.json"), encoder=HashingEncoder())
    assert config["training"]["trained_on"]["cssrs_train_sentences"] == 0
    assert config["training"]["args"]["data_dir"] is None


def test_the_cli_says_what_to_do_when_cssrs_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["self-harm", "--data-dir", str(tmp_path), "--out", str(tmp_path / "h.json")]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_a_reply_is_scored_by_the_lexicon_alone_and_a_cue_against_risk_shrinks_the_models_say() -> None:
    """The combination the training chooses is the detector's own formula: a "yes" to the app's question
    gets no sentence-model term; a sentence whose expression carries a cue against risk gets `against`
    of it."""
    import numpy as np

    from training.self_harm import Rows

    rows = Rows(
        texts=["plain", "answer", "negated"],
        lexicon=np.array([1.0, 2.0, -2.0]),
        filter=np.array([0.5, 0.5, 0.5]),
        owner=np.array([0, 1, 2]),
        lexicon_only=np.array([False, True, False]),
        against=np.array([False, False, True]),
        topic=np.array([True, False, False]),
    )
    z = rows.combine(np.array([3.0, 3.0, 3.0]), weight=2.0, none=-4.0, filter_weight=1.0, against=0.25)
    assert z.tolist() == [1.0 + 6.5, 2.0, -2.0 + 0.25 * 6.5]
    # a risk-topic word's strength is chosen too: -2.5 instead of -1.5 lowers that row by 1
    lower = rows.combine(np.zeros(3), weight=2.0, none=-4.0, filter_weight=0.0, topic=-2.5)
    assert lower.tolist() == [0.0, 2.0, -2.0]
    config = json.loads((Path(__file__).parents[2] / "scoring" / "data" / "self_harm_head.json").read_text())
    detector = SelfHarmDetector(config, encoder=None)
    assert (
        detector.against_share
        == config["head"]["against_share"]
        == config["training"]["chosen"]["against_share"]
    )


def test_ordinary_talk_is_the_synthetic_clinics_sentences_without_item_9_wording() -> None:
    from training.self_harm_data import everyday_sentences

    ordinary = everyday_sentences(n_patients=8, weeks=3, seed=2)
    assert len(ordinary) == len(set(ordinary)) > 50
    assert not [s for s in ordinary if "better off" in s or "hurting myself" in s or "not being here" in s]


def test_the_chosen_combination_fires_on_no_held_back_ordinary_sentence() -> None:
    config = json.loads((Path(__file__).parents[2] / "scoring" / "data" / "self_harm_head.json").read_text())
    everyday = config["training"]["chosen"]["everyday"]
    assert everyday["sentences"] > 100 and everyday["fired"] == 0
