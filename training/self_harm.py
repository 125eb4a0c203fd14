"""`python -m training self-harm`: the learned parts of the self-harm detector (scoring/self_harm).

Writes `scoring/data/self_harm_head.json`, the whole of what the detector loads besides its lexicon, all
numbers, fitted here:

1. the filter: a logistic regression over the cheap "bag" of each sentence (the packaged MiniLM's input
   word vectors, mean and max; no transformer pass), fitted on the written sentences
   (`training/self_harm_sentences.txt`); its threshold keeps FILTER_RECALL of the written positive
   sentences (out of fold) together with the lexicon's own selection. A sentence is read by the sentence
   model when the lexicon selects it or the filter passes it;
2. the sentence model: a logistic regression over the MiniLM sentence embedding, fitted on the written
   sentences (sentence labels) and, when `--data-dir` holds `cssrs/`, on the selected sentences of the
   cssrs train users, each labelled with its user's label: Ideation/Behavior/Attempt = 1,
   Supportive/Indicator = 0 (an assumption: the set rates users, not sentences, and has no dates),
   down-weighted by `cssrs_weight` because most sentences of an at-risk user are not statements of risk;
3. the combination (the sentence model's and the filter's weights, their share where a cue says "not
   own risk", the strengths of "none" and topic words, the threshold), chosen on the development hard
   cases at precision >= PRECISION_FLOOR, firing on no held-back ordinary sentence. No text or
   vocabulary from the data is written.
"""

from __future__ import annotations

import itertools
import json
import math
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
    window_sentences,
)
from scoring.self_harm.cues import AGAINST_CUES, ANSWER_HIT
from training.self_harm_data import (
    DEV_CASES,
    LABEL_MAPPING,
    HardCase,
    VectorCache,
    everyday_sentences,
    load_cssrs,
    load_hard_cases,
    load_sentences,
)

__all__ = ["LABEL_MAPPING", "SelfHarmTrainArgs", "load_cssrs", "load_sentences", "train"]

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "scoring" / "data" / HEAD_FILE
# The lexicon's weights (logits), set by hand and readable: a strong expression alone scores
# sigmoid(2.5) = 0.92; a cue that says "not the patient's own current risk" pulls it far down.
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
    "protective": -4.5,
    "first_person": 0.3,
    "recent": 0.3,
}
EMBED_FLOOR = -1000.0  # every sentence with an expression or a topic word is read by the sentence model
FILTER_C = 3.0
FILTER_RECALL = 0.96  # of the written positive sentences read (lexicon or filter, out of fold)
HEAD_CS = (1.0, 4.0)
CSSRS_WEIGHTS = (0.1, 0.3)
# The combination, chosen on the development hard cases: the sentence model's weight, the lexicon part
# of a sentence only the filter passed ("none"), the filter's weight, and the threshold (as a logit).
MODEL_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0)
# The sentence model's share of its weight where the lexicon found a cue against risk (cues.AGAINST_CUES).
AGAINST_SHARES = (1.0, 0.5, 0.25)
NONE_STRENGTHS = (-5.0, -4.0, -3.0, -2.0, -1.0, 0.0)
# ...and of a sentence whose only expression is a risk-topic word: ordinary talk is full of them.
TOPIC_STRENGTHS = (-1.5, -2.5, -3.5)
FILTER_WEIGHTS = (0.0, 0.5)
THRESHOLD_LOGITS = tuple(round(t, 2) for t in np.arange(-2.0, 2.01, 0.25))
# The highest recall on the development cases among combinations this precise: the goal's 0.85 plus a
# margin (the best of thousands of combinations on 250 conversations is optimistic).
PRECISION_FLOOR = 0.875
# ...firing on at most this many held-back ordinary sentences (a window's score is its highest sentence's).
EVERYDAY_FIRES = 0
AGGREGATES: tuple[dict[str, Any], ...] = (
    {"method": "max"},
    *({"method": "noisy_or", "k": k} for k in (2, 3, 5, 10)),
)


@dataclass
class SelfHarmTrainArgs:
    data_dir: Path | None = field(
        default=None,
        metadata={
            "help": "folder holding cssrs/{train,val}.csv (e.g. ../shared/data); none: own sentences only"
        },
    )
    out: Path = field(default=DEFAULT_OUT, metadata={"help": "where to write the detector's weights"})
    cache: Path | None = field(
        default=None,
        metadata={"help": "file to keep sentence vectors in between runs (e.g. var/self-harm.npz)"},
    )
    dev_cases: Path = field(
        default=DEV_CASES, metadata={"help": "hard-case conversations the combination is chosen on"}
    )
    backbone: str = field(default=DEFAULT_BACKBONE, metadata={"help": "sentence encoder (mean-pooled)"})
    precision: str = field(
        default="int8", metadata={"help": "the sentence encoder's Linear layers: int8 (dynamic) or fp32"}
    )
    seed: int = field(default=13, metadata={"help": "seed of the cross-validation folds"})

    def __post_init__(self) -> None:
        self.cache = Path(self.cache) if self.cache is not None else None
        self.data_dir = Path(self.data_dir) if self.data_dir is not None else None
        self.out, self.dev_cases = Path(self.out), Path(self.dev_cases)


def lexicon_config(threshold: float = 0.5) -> dict:
    return {
        "version": DETECTOR_VERSION,
        "threshold": threshold,
        "strength": STRENGTH,
        "cues": CUES,
        "embed_floor": EMBED_FLOOR,
        "aggregate": {"method": "max"},
        "head": None,
        "filter": None,
    }


@dataclass
class Rows:
    """Sentences the detector would read, with what the combination needs: the lexicon part (NaN
    without an expression), the sentence model's and the filter's logits, and whose text each is."""

    texts: list[str]
    lexicon: np.ndarray  # (N,)
    filter: np.ndarray  # (N,)
    owner: np.ndarray  # (N,) index of the user or conversation
    lexicon_only: (
        np.ndarray
    )  # (N,) True for a reply to a question about risk: no model read (cues.ANSWER_HIT)
    against: np.ndarray  # (N,) the lexicon's expression carries a cue in AGAINST_CUES
    topic: np.ndarray  # (N,) the lexicon's best expression is a risk-topic word (strength "topic")
    head_x: np.ndarray | None = None  # (N, H) sentence vectors, filled for the read rows

    def combine(
        self,
        head: np.ndarray,
        weight: float,
        none: float,
        filter_weight: float,
        against: float = 1.0,
        topic: float = STRENGTH["topic"],
    ) -> np.ndarray:
        lexicon = np.where(np.isnan(self.lexicon), none, self.lexicon) + self.topic * (
            topic - STRENGTH["topic"]
        )
        say = np.where(self.lexicon_only, 0.0, np.where(self.against, against, 1.0))
        return lexicon + say * (weight * head + filter_weight * self.filter)


def rows_of(
    detector: SelfHarmDetector,
    sentences: list[tuple[int, str, str, str]],
    sieve: Callable[[list[str]], np.ndarray],
    threshold: float,
) -> Rows:
    """(owner, sentence, before, after) -> the rows the detector reads: an expression, or the filter."""
    best = [detector.best_hit(s, p, f) for _, s, p, f in sentences]
    passed = sieve([s for _, s, _, _ in sentences]) if sentences else np.zeros(0)
    keep = [i for i, b in enumerate(best) if b is not None or passed[i] >= threshold]
    return Rows(
        [sentences[i][1] for i in keep],
        np.array([best[i][0] if best[i] is not None else np.nan for i in keep]),  # type: ignore[index]
        passed[keep] if keep else np.zeros(0),
        np.array([sentences[i][0] for i in keep], dtype=np.int64),
        np.array([best[i] is not None and best[i][1].name == ANSWER_HIT for i in keep], dtype=bool),  # type: ignore[index]
        np.array([best[i] is not None and bool(best[i][1].cues & AGAINST_CUES) for i in keep], dtype=bool),  # type: ignore[index]
        np.array([best[i] is not None and best[i][1].strength == "topic" for i in keep], dtype=bool),  # type: ignore[index]
    )


def case_sentences(cases: list[HardCase]) -> list[tuple[int, str, str, str]]:
    return [(i, *pair) for i, case in enumerate(cases) for pair in window_sentences(case.window)[1]]


def owner_scores(z: np.ndarray, owner: np.ndarray, n: int, how: dict | None = None) -> np.ndarray:
    """Per owner, its rows' logits `z` as probabilities combined as the detector does (none read: 0)."""
    per: list[list[float]] = [[] for _ in range(n)]
    for o, p in zip(owner, 1.0 / (1.0 + np.exp(-z)), strict=True):
        per[o].append(float(p))
    return np.array([aggregate(ps, how or {"method": "max"}) for ps in per])


def user_auc(z: np.ndarray, owner: np.ndarray, labels: np.ndarray, how: dict | None = None) -> float:
    return float(roc_auc_score(labels, owner_scores(z, owner, len(labels), how)))


def _fit(x: np.ndarray, y: np.ndarray, c: float, w: np.ndarray | None = None) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=5000).fit(x, y, sample_weight=w)


def train(
    args: SelfHarmTrainArgs,
    *,
    progress: Callable[[str, float], None] | None = None,
    encoder: SentenceEncoder | None = None,
) -> dict:
    """Fit the filter and the sentence model, choose the combination; write `args.out` and return it."""
    say = progress or (lambda stage, fraction: None)
    vectors = VectorCache(encoder or SentenceEncoder(args.backbone, precision=args.precision), args.cache)
    splits = {s: load_cssrs(args.data_dir, s) for s in ("train", "val")} if args.data_dir is not None else {}
    dev = load_hard_cases(args.dev_cases)
    lexicon_only = SelfHarmDetector(lexicon_config())
    own = load_sentences()
    texts, y = [s.text for s in own], np.array([s.label for s in own])
    say("filter", 0.05)
    bags = vectors.get("bag", texts)
    filter_model = _fit(bags, y, FILTER_C)
    filter_oof = np.zeros(len(own))
    for fit_rows, held in StratifiedKFold(5, shuffle=True, random_state=args.seed).split(texts, y):
        filter_oof[held] = _fit(bags[fit_rows], y[fit_rows], FILTER_C).decision_function(bags[held])
    lex_read = np.array([lexicon_only.best_hit(t) is not None for t in texts])
    filter_threshold = _filter_threshold(filter_oof, y, lex_read)

    def sieve(batch: list[str]) -> np.ndarray:
        return filter_model.decision_function(vectors.get("bag", batch)) if batch else np.zeros(0)

    say("embed written sentences", 0.15)
    own_x = vectors.get("encode", texts)
    read: dict[str, tuple[Rows, np.ndarray]] = {}
    for index, (split, users) in enumerate(splits.items()):
        say(f"embed cssrs {split} sentences", 0.25 + 0.25 * index)
        rows = rows_of(lexicon_only, sentence_pairs([t for t, _ in users]), sieve, filter_threshold)
        rows.head_x = vectors.get("encode", rows.texts)
        read[split] = (rows, np.array([label for _, label in users]))
    dev_rows = rows_of(lexicon_only, case_sentences(dev), sieve, filter_threshold)
    dev_rows.head_x = vectors.get("encode", dev_rows.texts)
    # Ordinary talk (the synthetic clinic's sentences without item-9 wording): every other sentence is
    # trained on as a negative, the rest must not fire (see EVERYDAY_FIRES).
    everyday = everyday_sentences(n_patients=80, weeks=6)
    taught = everyday[0::2]
    fit_x = np.vstack([own_x, vectors.get("encode", taught)])
    fit_y = np.concatenate([y, np.zeros(len(taught), dtype=y.dtype)])
    checked = everyday[1::2]
    everyday_rows = rows_of(
        lexicon_only, [(i, s, "", "") for i, s in enumerate(checked)], sieve, filter_threshold
    )
    everyday_rows.head_x = vectors.get("encode", everyday_rows.texts)
    vectors.save()
    say("fit", 0.85)
    dev_y = np.array([case.label for case in dev])
    choices = [
        _choice(c, w, fit_x, fit_y, read, dev_rows, dev_y, (everyday_rows, len(checked)))
        for c in HEAD_CS
        for w in (CSSRS_WEIGHTS if read else (0.0,))
    ]
    best = max(
        choices,
        key=lambda ch: (ch["dev"]["ok"], ch["dev"]["recall"], ch["dev"]["precision"], ch["cssrs_val_auc"]),
    )
    head = best.pop("head")
    config = lexicon_config(round(1.0 / (1.0 + math.exp(-best["threshold_logit"])), 4))
    config["strength"] = {**STRENGTH, "none": best["none"], "topic": best["topic"]}
    config["aggregate"] = best["aggregate"]
    config["head"] = {
        "backbone": args.backbone,
        "pooling": "mean, L2-normalised",
        "precision": vectors.encoder.precision,
        "coef": [round(float(v), 6) for v in head.coef_[0]],
        "intercept": round(float(head.intercept_[0]), 6),
        "weight": best["model_weight"],
        "against_share": best["against_share"],
    }
    config["filter"] = {
        "features": "mean and max of the backbone's input word vectors, each L2-normalised",
        "coef": [round(float(v), 6) for v in filter_model.coef_[0]],
        "intercept": round(float(filter_model.intercept_[0]), 6),
        "threshold": round(filter_threshold, 4),
        "weight": best["filter_weight"],
    }
    config["training"] = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(args).items() if k != "out"},
        "trained_on": {
            "own_sentences": len(own),
            "cssrs_train_sentences": len(read["train"][0].texts) if read else 0,
        },
        "label_mapping": LABEL_MAPPING,
        "read_by_sentence_model": {
            "own_positive_share": float((lex_read | (filter_oof >= filter_threshold))[y == 1].mean()),
            "lexicon_alone_positive_share": float(lex_read[y == 1].mean()),
        },
        "choices": [{k: v for k, v in ch.items() if k != "head"} for ch in choices],
        "chosen": best,
        "chosen_on": f"development hard cases ({args.dev_cases.name}): the highest recall among combinations "
        f"with precision >= {PRECISION_FLOOR}; cssrs val AUC breaks ties",
    }
    for name in ("data_dir", "cache"):
        if getattr(args, name) is None:
            config["training"]["args"][name] = None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    say("done", 1.0)
    return config


def _filter_threshold(oof: np.ndarray, y: np.ndarray, lex_read: np.ndarray) -> float:
    """The highest filter logit at which lexicon and filter together read FILTER_RECALL of the positives."""
    for t in sorted(set(np.round(oof[y == 1], 4)), reverse=True):
        if (lex_read | (oof >= t))[y == 1].mean() >= FILTER_RECALL:
            return float(t)
    return float(oof.min())


def _choice(
    c: float,
    cssrs_weight: float,
    own_x: np.ndarray,
    y: np.ndarray,
    read: dict[str, tuple[Rows, np.ndarray]],
    dev: Rows,
    dev_y: np.ndarray,
    everyday: tuple[Rows, int],
) -> dict[str, Any]:
    """One sentence model (C, cssrs_weight) and its best combination on the development cases."""
    x, labels, weights = own_x, y, np.ones(len(y))
    if "train" in read:
        rows, users = read["train"]
        assert rows.head_x is not None
        x = np.vstack([own_x, rows.head_x])
        labels = np.concatenate([y, users[rows.owner]])
        weights = np.concatenate([weights, np.full(len(rows.owner), cssrs_weight)])
    head = _fit(x, labels, c, weights)
    assert dev.head_x is not None
    dev_head = head.decision_function(dev.head_x) if len(dev.texts) else np.zeros(0)
    ordinary, n_ordinary = everyday
    assert ordinary.head_x is not None
    ordinary_head = head.decision_function(ordinary.head_x) if len(ordinary.texts) else np.zeros(0)
    found = []
    for weight, none, filter_weight, against, topic in itertools.product(
        MODEL_WEIGHTS, NONE_STRENGTHS, FILTER_WEIGHTS, AGAINST_SHARES, TOPIC_STRENGTHS
    ):
        scores = owner_scores(
            dev.combine(dev_head, weight, none, filter_weight, against, topic), dev.owner, len(dev_y)
        )
        ordinary_z = ordinary.combine(ordinary_head, weight, none, filter_weight, against, topic)
        ordinary_top = owner_scores(ordinary_z, ordinary.owner, n_ordinary)
        for t in THRESHOLD_LOGITS:
            fired = scores >= 1.0 / (1.0 + math.exp(-t))
            recall = float(fired[dev_y == 1].mean()) if (dev_y == 1).any() else 0.0
            precision = float((fired & (dev_y == 1)).sum() / max(1, fired.sum()))
            ordinary_fired = int((ordinary_top >= 1.0 / (1.0 + math.exp(-t))).sum())
            ok = precision >= PRECISION_FLOOR and ordinary_fired <= EVERYDAY_FIRES
            found.append(
                (ok, recall, precision, -ordinary_fired, weight, none, filter_weight, against, topic, t)
            )
    ok, recall, precision, ordinary_fired, weight, none, filter_weight, against, topic, t = max(found)
    out: dict[str, Any] = {
        "c": c,
        "cssrs_weight": cssrs_weight,
        "model_weight": weight,
        "none": none,
        "topic": topic,
        "filter_weight": filter_weight,
        "against_share": against,
        "threshold_logit": t,
        "dev": {"ok": ok, "recall": recall, "precision": precision},
        "everyday": {"sentences": n_ordinary, "fired": -ordinary_fired},
        "cssrs_val_auc": 0.0,
        "aggregate": {"method": "max"},
        "aggregate_choices": [],
        "head": head,
    }
    if "val" in read:
        rows, users = read["val"]
        assert rows.head_x is not None
        z = rows.combine(head.decision_function(rows.head_x), weight, none, filter_weight, against, topic)
        scored = [{**how, "cssrs_val_auc": user_auc(z, rows.owner, users, how)} for how in AGGREGATES]
        top = max(scored, key=lambda a: a["cssrs_val_auc"])
        out["aggregate_choices"] = scored
        out["aggregate"] = {k: v for k, v in top.items() if k != "cssrs_val_auc"}
        out["cssrs_val_auc"] = top["cssrs_val_auc"]
    return out
