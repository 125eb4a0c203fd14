"""`python -m training self-harm train`: the learned part of the self-harm detector (scoring/self_harm).

Writes `scoring/data/self_harm_head.json`, the whole of what the detector loads besides its lexicon:
the lexicon weights below (kinds of expression and cues, set by hand and readable), and a logistic
regression over the packaged MiniLM sentence embedding, fitted on

- the sentences written for it in `training/self_harm_sentences.txt` (sentence labels), and
- when `--data-dir` holds `cssrs/`, the candidate sentences (those the lexicon selects) of the cssrs
  train users, each labelled with its user's label: Ideation/Behavior/Attempt = 1, Supportive/Indicator
  = 0 (an assumption: the set rates users, not sentences, and says nothing of the last two weeks),
  down-weighted by `cssrs_weight` because most sentences of an at-risk user are not statements of risk.

The weight of the sentence model inside the detector's formula is chosen on cssrs val (user AUC of the
detector's score), among values that keep the cross-validated accuracy on the written sentences; the
threshold is chosen on those sentences (cross-validated scores). No text and no vocabulary from the data
is written: the head is 384 coefficients over embeddings.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from scoring.backbone import DEFAULT_BACKBONE
from scoring.self_harm import (
    DETECTOR_VERSION,
    HEAD_FILE,
    SelfHarmDetector,
    SentenceEncoder,
    aggregate,
    sentence_pairs,
)

SENTENCES_FILE = Path(__file__).with_name("self_harm_sentences.txt")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "scoring" / "data" / HEAD_FILE
CSSRS_POSITIVE = ("Ideation", "Behavior", "Attempt")
CSSRS_NEGATIVE = ("Supportive", "Indicator")
LABEL_MAPPING = (
    "cssrs users rated Ideation, Behavior or Attempt are read as PHQ-9 item 9 >= 1 and Supportive or "
    "Indicator as item 9 = 0 (an assumption: the set has no item-9 answers and no dates)"
)

# The lexicon's part of the formula, in logits. A strong expression alone scores sigmoid(2.5) = 0.92; a
# cue that says "not the patient's own current risk" pulls it below any threshold the training picks.
STRENGTH = {"strong": 2.5, "passive": 1.8, "anaphora": 1.8, "topic": -1.5}
CUES = {
    "negated": -4.5,
    "other_person": -4.5,
    "past_over": -4.5,
    "hypothetical": -3.5,
    "topic_question": -3.0,
    "idiom": -6.0,
    "laughter": -3.0,
    "hyperbole": -2.5,
    "context": -3.5,
    "first_person": 0.3,
    "recent": 0.3,
}
EMBED_FLOOR = -4.0  # lexicon logit under which a sentence is not worth the sentence model's time
MODEL_WEIGHTS = (0.5, 1.0, 1.5)
TOPIC_STRENGTHS = (-1.0, -0.5, 0.0)  # the lexicon part of a topic word alone: the sentence model decides
AGGREGATES: tuple[dict[str, Any], ...] = (
    {"method": "max"},
    *({"method": "noisy_or", "k": k} for k in (2, 3, 5, 10)),
)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.3, 0.71, 0.05))


@dataclass
class SelfHarmTrainArgs:
    data_dir: Path | None = field(
        default=None,
        metadata={
            "help": "folder holding cssrs/{train,val}.csv (e.g. ../shared/data); none: own sentences only"
        },
    )
    out: Path = field(default=DEFAULT_OUT, metadata={"help": "where to write the detector's weights"})
    c: float = field(default=3.0, metadata={"help": "inverse L2 strength of the logistic regression"})
    cssrs_weight: float = field(default=0.3, metadata={"help": "sample weight of a cssrs sentence (own: 1)"})
    backbone: str = field(default=DEFAULT_BACKBONE, metadata={"help": "sentence encoder (mean-pooled)"})
    seed: int = field(default=13, metadata={"help": "seed of the cross-validation folds"})

    def __post_init__(self) -> None:
        if self.c <= 0 or self.cssrs_weight < 0:
            raise ValueError("c must be > 0 and cssrs_weight >= 0")
        self.data_dir = Path(self.data_dir) if self.data_dir is not None else None
        self.out = Path(self.out)


@dataclass(frozen=True)
class Sentence:
    label: int
    kind: str
    text: str


def load_sentences(path: Path = SENTENCES_FILE) -> list[Sentence]:
    """The written sentences: label<TAB>kind<TAB>text per line, # comments."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in ("0", "1"):
            raise ValueError(f"{path} line {number}: expected label<TAB>kind<TAB>sentence with label 0 or 1")
        out.append(Sentence(int(parts[0]), parts[1], parts[2]))
    return out


def load_cssrs(data_dir: Path, split: str) -> list[tuple[str, int]]:
    """(text, label) per user of cssrs/<split>.csv: 1 for Ideation/Behavior/Attempt (see LABEL_MAPPING)."""
    path = data_dir / "cssrs" / f"{split}.csv"
    if not path.is_file():
        raise ValueError(
            f"{path} is missing; pass --data-dir the folder that holds cssrs/ (e.g. ../shared/data)"
        )
    users = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            label = (row.get("label") or "").strip()
            if label not in CSSRS_POSITIVE + CSSRS_NEGATIVE:
                raise ValueError(f"{path} line {line}: unknown label {label!r}")
            users.append((row.get("text") or "", int(label in CSSRS_POSITIVE)))
    return users


def lexicon_config(threshold: float = 0.5) -> dict:
    return {
        "version": DETECTOR_VERSION,
        "threshold": threshold,
        "strength": STRENGTH,
        "cues": CUES,
        "embed_floor": EMBED_FLOOR,
        "aggregate": {"method": "max"},
        "head": None,
    }


@dataclass
class Candidates:
    """The sentences the lexicon selects for the sentence model, with their lexicon logits."""

    texts: list[str]
    lexicon: np.ndarray  # (N,)
    owner: np.ndarray  # (N,) index of the user (or sentence) each comes from
    topic: np.ndarray  # (N,) True where the best expression is a topic word (its strength is tuned)


def candidates(detector: SelfHarmDetector, texts: list[str], *, all_sentences: bool = False) -> Candidates:
    """Candidates of every text; `all_sentences` keeps every sentence (the written ones are all wanted)."""
    out_texts, logits, owner, topic = [], [], [], []
    for index, sentence, previous, following in sentence_pairs(texts) if not all_sentences else _whole(texts):
        best = detector.best_hit(sentence, previous, following)
        if all_sentences or (best is not None and best[0] >= detector.embed_floor):
            out_texts.append(sentence)
            logits.append(best[0] if best is not None else -10.0)
            owner.append(index)
            topic.append(best is not None and best[1].strength == "topic")
    return Candidates(
        out_texts,
        np.asarray(logits, dtype=np.float64),
        np.asarray(owner, dtype=np.int64),
        np.asarray(topic, dtype=bool),
    )


def _whole(texts: list[str]) -> list[tuple[int, str, str, str]]:
    return [(i, t, "", "") for i, t in enumerate(texts)]


def user_auc(z: np.ndarray, owner: np.ndarray, labels: np.ndarray, how: dict | None = None) -> float:
    """AUC over users of their candidates' logits `z` aggregated as the detector's `score_texts` does
    (users with none score 0)."""
    probs = 1.0 / (1.0 + np.exp(-z))
    per_user: list[list[float]] = [[] for _ in labels]
    for user, p in zip(owner, probs, strict=True):
        per_user[user].append(float(p))
    scores = [aggregate(ps, how or {"method": "max"}) for ps in per_user]
    return float(roc_auc_score(labels, scores))


def train(
    args: SelfHarmTrainArgs,
    *,
    progress: Callable[[str, float], None] | None = None,
    encoder: SentenceEncoder | None = None,
) -> dict:
    """Fit the head, choose its weight and the threshold, write `args.out`; returns what was written."""
    say = progress or (lambda stage, fraction: None)
    encoder = encoder or SentenceEncoder(args.backbone)
    splits = {s: load_cssrs(args.data_dir, s) for s in ("train", "val")} if args.data_dir is not None else {}
    lexicon_only = SelfHarmDetector(lexicon_config())
    own = load_sentences()
    own_y = np.array([s.label for s in own])
    own_c = candidates(lexicon_only, [s.text for s in own], all_sentences=True)
    say("embed own sentences", 0.05)
    own_x = np.asarray(encoder.encode(own_c.texts))  # (S, 384)
    xs, ys, ws = [own_x], [own_y], [np.ones(len(own))]
    val = None
    trained_on = {"own_sentences": len(own), "cssrs_train_candidates": 0}
    if splits:
        say("embed cssrs train candidates", 0.15)
        users = splits["train"]
        c = candidates(lexicon_only, [t for t, _ in users])
        labels = np.array([y for _, y in users])
        xs.append(np.asarray(encoder.encode(c.texts)))
        ys.append(labels[c.owner])
        ws.append(np.full(len(c.texts), args.cssrs_weight))
        trained_on["cssrs_train_candidates"] = len(c.texts)
        say("embed cssrs val candidates", 0.55)
        val_users = splits["val"]
        vc = candidates(lexicon_only, [t for t, _ in val_users])
        val = (vc, np.asarray(encoder.encode(vc.texts)), np.array([y for _, y in val_users]))
    say("fit", 0.8)
    x, y, w = np.vstack(xs), np.concatenate(ys), np.concatenate(ws)
    head = LogisticRegression(C=args.c, max_iter=5000).fit(x, y, sample_weight=w)
    # Out-of-fold head logits of the written sentences: how the detector does on sentences it has not seen.
    oof = np.zeros(len(own))
    folds = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    for fit_rows, held in folds.split(own_x, own_y):
        keep = np.ones(len(y), dtype=bool)
        keep[: len(own)] = False
        keep[fit_rows] = True
        fold = LogisticRegression(C=args.c, max_iter=5000).fit(x[keep], y[keep], sample_weight=w[keep])
        oof[held] = fold.decision_function(own_x[held])
    lexicon_accuracy = _balanced_accuracy(own_c.lexicon, own_y, 0.5)
    val_head = head.decision_function(val[1]) if val is not None else None
    choices = []
    for topic_strength in TOPIC_STRENGTHS:
        own_lex = own_c.lexicon + own_c.topic * (topic_strength - STRENGTH["topic"])
        for weight in MODEL_WEIGHTS:
            accuracy = _balanced_accuracy(own_lex + weight * oof, own_y, 0.5)
            auc = 0.0
            if val is not None and val_head is not None:
                val_lex = val[0].lexicon + val[0].topic * (topic_strength - STRENGTH["topic"])
                auc = user_auc(val_lex + weight * val_head, val[0].owner, val[2])
            choices.append(
                {"topic": topic_strength, "weight": weight, "own_cv_accuracy": accuracy, "cssrs_val_auc": auc}
            )
    # The written sentences first (own CV balanced accuracy to two decimals), cssrs val AUC breaks ties.
    best = max(choices, key=lambda c: (round(c["own_cv_accuracy"], 2), c["cssrs_val_auc"]))
    own_lex = own_c.lexicon + own_c.topic * (best["topic"] - STRENGTH["topic"])
    z = own_lex + best["weight"] * oof
    threshold = max(THRESHOLDS, key=lambda t: (_balanced_accuracy(z, own_y, t), -t))
    config = lexicon_config(threshold)
    config["strength"] = {**STRENGTH, "topic": best["topic"]}
    aggregates = []
    if val is not None and val_head is not None:
        val_z = (
            val[0].lexicon + val[0].topic * (best["topic"] - STRENGTH["topic"]) + best["weight"] * val_head
        )
        aggregates = [
            {**how, "cssrs_val_auc": user_auc(val_z, val[0].owner, val[2], how)} for how in AGGREGATES
        ]
        chosen = max(aggregates, key=lambda a: a["cssrs_val_auc"])
        config["aggregate"] = {k: v for k, v in chosen.items() if k != "cssrs_val_auc"}
    config["head"] = {
        "backbone": args.backbone,
        "pooling": "mean, L2-normalised",
        "coef": [round(float(v), 6) for v in head.coef_[0]],
        "intercept": round(float(head.intercept_[0]), 6),
        "weight": best["weight"],
    }
    config["training"] = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(args).items() if k != "out"},
        "trained_on": trained_on,
        "label_mapping": LABEL_MAPPING,
        "lexicon_only_own_accuracy": lexicon_accuracy,
        "weight_choices": choices,
        "aggregate_choices": aggregates,
        "threshold_chosen_on": "balanced accuracy of out-of-fold scores of the written sentences",
    }
    if args.data_dir is None:
        config["training"]["args"]["data_dir"] = None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    say("done", 1.0)
    return config


def _balanced_accuracy(z: np.ndarray, y: np.ndarray, threshold: float) -> float:
    fired = 1.0 / (1.0 + np.exp(-z)) >= threshold
    return float(0.5 * (fired[y == 1].mean() + (~fired[y == 0]).mean()))
