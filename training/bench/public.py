"""Accuracy benchmark on public research data (`python -m training benchmark depseverity|depsign`).

Each post becomes one window holding one conversation with one user turn, and is its own group. The
dataset's severity labels are mapped to PHQ-9 totals (an assumption: none of these sets carries PHQ-9
scores; see DATASETS), and a regressor is trained on those totals:

- the model: `train_ensemble` with the default backbone on `train` (it holds out 10% of the train
  posts itself for early stopping and calibration);
- the baseline: TF-IDF (word 1-2 grams) + ridge regression on the same targets and sample weights,
  its alpha chosen on `val`.

Both are scored the same way: the predicted total is mapped to one of the dataset's labels by
cut-points chosen on `val` to maximise macro-F1 (accuracy, weighted-F1, macro-F1 over the dataset's
label set), and ranked (AUC of the predicted total for moderate + severe vs the rest). `val` is used
for these choices only; `test` is only ever reported on.
"""

from __future__ import annotations

import csv
import itertools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

from scoring.backbone import DEFAULT_BACKBONE, Backbone
from scoring.ensemble import Ensemble
from scoring.phq9 import band_by_key
from scoring.types import Conversation, LabeledWindow, Turn, Window
from training.args import TrainArgs
from training.finetune import train_ensemble

SPLITS = ("train", "val", "test")
COLUMNS = ("id", "text", "label")
MODES = ("heads", "full")
MAX_CUT_CANDIDATES = 64  # candidate cut-points per search (quantiles of the val predictions)
RIDGE_ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    labels: tuple[str, ...]  # ordered from least to most severe
    bands: dict[str, tuple[str, ...]]  # label -> the PHQ-9 bands (scoring.phq9 keys) it stands for
    targets: dict[str, float]  # label -> PHQ-9 total used as the training target
    positive: tuple[str, ...]  # labels counted as positive for the AUC

    def phq9_range(self, label: str) -> tuple[int, int]:
        bands = [band_by_key(key) for key in self.bands[label]]
        return min(b.low for b in bands), max(b.high for b in bands)

    def default_cut_points(self) -> list[float]:
        """Cut-points of the mapping itself: a total rounding into a label's PHQ-9 range gets that label."""
        return [self.phq9_range(label)[0] - 0.5 for label in self.labels[1:]]

    def mapping_text(self) -> str:
        parts = []
        for label in self.labels:
            low, high = self.phq9_range(label)
            parts.append(f"{label} -> PHQ-9 {low}-{high} (target {self.targets[label]:g})")
        return "; ".join(parts)


# The mapping is an assumption (neither set carries PHQ-9 scores). Targets sit inside each label's
# PHQ-9 range: band midpoints for minimal, mild and moderate; 20 for "15-27" (the moderately
# severe/severe boundary) and 2 for DepSign's "not depression" (minimal, like DepSeverity's minimum).
DATASETS: dict[str, DatasetSpec] = {
    "depseverity": DatasetSpec(
        name="depseverity",
        labels=("minimum", "mild", "moderate", "severe"),
        bands={
            "minimum": ("minimal",),
            "mild": ("mild",),
            "moderate": ("moderate",),
            "severe": ("moderately_severe", "severe"),
        },
        targets={"minimum": 2.0, "mild": 7.0, "moderate": 12.0, "severe": 20.0},
        positive=("moderate", "severe"),
    ),
    "depsign": DatasetSpec(
        name="depsign",
        labels=("not depression", "moderate", "severe"),
        bands={
            "not depression": ("minimal", "mild"),
            "moderate": ("moderate",),
            "severe": ("moderately_severe", "severe"),
        },
        targets={"not depression": 2.0, "moderate": 12.0, "severe": 20.0},
        positive=("moderate", "severe"),
    ),
}


@dataclass(frozen=True)
class Post:
    id: str
    text: str
    label: str


@dataclass
class PublicBenchArgs:
    dataset: str = field(
        metadata={"help": "the public dataset", "positional": True, "choices": tuple(DATASETS)}
    )
    data_dir: Path = field(metadata={"help": "folder holding train.csv, val.csv, test.csv"})
    mode: str = field(
        default="heads", metadata={"help": "heads (frozen backbone) | full (fine-tuned)", "choices": MODES}
    )
    epochs: int = field(default=0, metadata={"help": "0 = per-mode default: heads 150 (early stop), full 2"})
    members: int = field(default=2, metadata={"help": "ensemble members"})
    limit: int = field(default=0, metadata={"help": "use only the first N rows of each split (0 = all)"})
    backbone: str = field(default=DEFAULT_BACKBONE, metadata={"help": "package:... or a checkpoint dir"})
    learning_rate: float = field(default=0.0, metadata={"help": "0 = per-mode default of TrainArgs"})
    seed: int = field(default=13, metadata={"help": "seed of the first ensemble member"})

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.epochs < 0 or self.members < 1 or self.limit < 0:
            raise ValueError("epochs and limit must be >= 0, members >= 1")
        if self.epochs == 0:
            self.epochs = 150 if self.mode == "heads" else 2
        self.data_dir = Path(self.data_dir)


# ---- data -----------------------------------------------------------------------------------------
def load_split(data_dir: Path, spec: DatasetSpec, split: str, *, limit: int = 0) -> list[Post]:
    """The rows of `data_dir/<split>.csv` (columns id,text,label); ValueError says what is wrong."""
    if not data_dir.is_dir():
        raise ValueError(
            f"no dataset folder at {data_dir}; pass --data-dir the folder holding train.csv, val.csv and "
            f"test.csv (e.g. ../shared/data/{spec.name})"
        )
    path = data_dir / f"{split}.csv"
    if not path.is_file():
        raise ValueError(f"{path} is missing; the {spec.name} folder needs train.csv, val.csv and test.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path} lacks the column(s) {', '.join(missing)}; expected a header id,text,label"
            )
        posts: list[Post] = []
        for line, row in enumerate(reader, start=2):
            if limit and len(posts) >= limit:
                break
            label = (row["label"] or "").strip()
            if label not in spec.targets:
                raise ValueError(
                    f"{path} line {line}: unknown label {label!r}; {spec.name} labels are "
                    f"{', '.join(spec.labels)}"
                )
            text = (row["text"] or "").strip()
            if not text:
                raise ValueError(f"{path} line {line}: empty text")
            posts.append(Post(id=row["id"] or f"{split}-{line}", text=text, label=label))
    if len(posts) < 2:
        raise ValueError(f"{path} has {len(posts)} row(s); need at least 2")
    return posts


def load_dataset(data_dir: Path, spec: DatasetSpec, *, limit: int = 0) -> dict[str, list[Post]]:
    return {split: load_split(data_dir, spec, split, limit=limit) for split in SPLITS}


def post_window(post: Post) -> Window:
    return Window(id=post.id, conversations=(Conversation(id=post.id, turns=(Turn("user", post.text),)),))


def labeled_windows(posts: list[Post], spec: DatasetSpec) -> list[LabeledWindow]:
    """One window per post, total = the label's PHQ-9 target, each post its own group."""
    return [
        LabeledWindow(window=post_window(p), total=spec.targets[p.label], group=p.id, source=spec.name)
        for p in posts
    ]


def label_weights(labels: list[str]) -> np.ndarray:
    """Inverse label frequency, mean 1 (what `balance_bands` does for the model, here for the baseline)."""
    counts = {label: labels.count(label) for label in set(labels)}
    raw = np.array([len(labels) / (len(counts) * counts[label]) for label in labels])
    return raw / raw.mean()


# ---- scoring a predicted total --------------------------------------------------------------------
def apply_cut_points(totals: np.ndarray, cut_points: list[float]) -> np.ndarray:
    """Index of the label each total falls in: label k for cut_points[k-1] <= total < cut_points[k]."""
    return np.searchsorted(np.asarray(cut_points, dtype=float), totals, side="right")


def tune_cut_points(totals: np.ndarray, labels: list[str], spec: DatasetSpec) -> list[float]:
    """Increasing cut-points on the predicted total that maximise macro-F1 on these (val) posts.

    Exhaustive over combinations of up to MAX_CUT_CANDIDATES candidates (quantiles of the totals);
    ties go to the higher accuracy, then to the first found."""
    y = np.array([spec.labels.index(label) for label in labels])
    n_classes = len(spec.labels)
    levels = np.linspace(0, 1, MAX_CUT_CANDIDATES + 2)[1:-1]
    candidates = np.unique(np.concatenate([np.quantile(totals, levels), spec.default_cut_points()]))
    combos = np.array(list(itertools.combinations(range(len(candidates)), n_classes - 1)))  # (M, K-1)
    if len(combos) == 0:
        return spec.default_cut_points()
    above = totals[None, :] >= candidates[:, None]  # (C, N)
    predicted = above[combos].sum(axis=1, dtype=np.int8)  # (M, N) label index per combination and post
    f1s = []
    for k in range(n_classes):
        tp = ((predicted == k) & (y == k)).sum(axis=1)  # (M,)
        denominator = (predicted == k).sum(axis=1) + (y == k).sum()
        f1s.append(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0))
    macro = np.mean(f1s, axis=0)  # (M,)
    accuracy = (predicted == y).mean(axis=1)  # (M,)
    best = int(np.lexsort((-accuracy, -macro))[0])
    return [round(float(c), 4) for c in candidates[combos[best]]]


def band_metrics(totals: np.ndarray, labels: list[str], spec: DatasetSpec, cut_points: list[float]) -> dict:
    """Accuracy, weighted-F1 and macro-F1 over the dataset's labels, AUC (moderate+severe vs rest)."""
    y = np.array([spec.labels.index(label) for label in labels])
    predicted = apply_cut_points(totals, cut_points)
    every = list(range(len(spec.labels)))
    positive = np.isin(y, [spec.labels.index(label) for label in spec.positive])
    per_label = f1_score(y, predicted, labels=every, average=None, zero_division=0)
    return {
        "n": len(y),
        "accuracy": float(accuracy_score(y, predicted)),
        "weighted_f1": float(f1_score(y, predicted, labels=every, average="weighted", zero_division=0)),
        "macro_f1": float(f1_score(y, predicted, labels=every, average="macro", zero_division=0)),
        "auc": float(roc_auc_score(positive, totals)) if 0 < positive.sum() < len(y) else None,
        "mae_vs_target": float(np.mean(np.abs(totals - np.array([spec.targets[la] for la in labels])))),
        "f1_per_label": {label: float(v) for label, v in zip(spec.labels, per_label, strict=True)},
        "confusion": confusion_matrix(y, predicted, labels=every).tolist(),  # rows true, columns predicted
    }


def score_predictions(
    val: np.ndarray, test: np.ndarray, posts: dict[str, list[Post]], spec: DatasetSpec
) -> dict:
    """Cut-points tuned on val, applied to test; test also with the mapping's own PHQ-9 cut-points."""
    val_labels = [p.label for p in posts["val"]]
    test_labels = [p.label for p in posts["test"]]
    cut_points = tune_cut_points(val, val_labels, spec)
    return {
        "cut_points": cut_points,
        "val": band_metrics(val, val_labels, spec, cut_points),
        "test": band_metrics(test, test_labels, spec, cut_points),
        "test_with_phq9_cut_points": band_metrics(test, test_labels, spec, spec.default_cut_points()),
    }


# ---- the two contenders ---------------------------------------------------------------------------
def run_baseline(posts: dict[str, list[Post]], spec: DatasetSpec) -> dict:
    """TF-IDF + ridge on the label targets (inverse-frequency weights), alpha chosen on val macro-F1."""
    start = time.perf_counter()
    train_texts = [p.text for p in posts["train"]]
    targets = np.array([spec.targets[p.label] for p in posts["train"]])
    weights = label_weights([p.label for p in posts["train"]])
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=100_000)
    x_train = vectorizer.fit_transform(train_texts)
    x_val = vectorizer.transform([p.text for p in posts["val"]])
    x_test = vectorizer.transform([p.text for p in posts["test"]])
    best: dict | None = None
    for alpha in RIDGE_ALPHAS:
        ridge = Ridge(alpha=alpha).fit(x_train, targets, sample_weight=weights)
        scored = score_predictions(ridge.predict(x_val), ridge.predict(x_test), posts, spec)
        if best is None or scored["val"]["macro_f1"] > best["val"]["macro_f1"]:
            best = {"alpha": alpha, **scored}
    assert best is not None
    return {
        "name": "TF-IDF (word 1-2 grams) + ridge",
        **best,
        "seconds": time.perf_counter() - start,
    }


def run_model(
    posts: dict[str, list[Post]],
    spec: DatasetSpec,
    args: PublicBenchArgs,
    *,
    backbone: Backbone | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    train_args = TrainArgs(
        backbone=args.backbone,
        mode=args.mode,
        members=args.members,
        epochs=args.epochs,
        # heads: early stopping as in production; full: keep the best of the few epochs asked for
        patience=25 if args.mode == "heads" else args.epochs,
        learning_rate=args.learning_rate,
        val_fraction=0.1,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as store:
        start = time.perf_counter()
        result = train_ensemble(
            labeled_windows(posts["train"], spec),
            train_args,
            Path(store),
            backbone=backbone,
            data_summary={"dataset": spec.name},
            progress=progress,
        )
        trained = time.perf_counter()
        ensemble = Ensemble.load(result.artifact_dir)
        val = np.array([s.total for s in ensemble.predict([post_window(p) for p in posts["val"]])])
        test = np.array([s.total for s in ensemble.predict([post_window(p) for p in posts["test"]])])
        predicted = time.perf_counter()
    return {
        "name": f"model ({args.mode}, {args.members} member{'s' if args.members > 1 else ''})",
        "backbone": args.backbone if backbone is None else backbone.backbone_id,
        "mode": args.mode,
        "members": args.members,
        "epochs": args.epochs,
        "learning_rate": train_args.learning_rate,
        "early_stopping": "10% of the train posts, held out inside train_ensemble (val MAE)",
        "internal_validation": {k: result.metrics.get(k) for k in ("n", "mae", "rmse", "auc_at_10")},
        **score_predictions(val, test, posts, spec),
        "seconds_train": trained - start,
        "seconds_predict": predicted - trained,
    }


def run(
    args: PublicBenchArgs,
    *,
    backbone: Backbone | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    """The whole benchmark; `backbone` overrides `args.backbone` with a module in memory (tests)."""
    spec = DATASETS[args.dataset]
    started = time.perf_counter()
    posts = load_dataset(args.data_dir, spec, limit=args.limit)
    loaded = time.perf_counter()
    baseline = run_baseline(posts, spec)
    model = run_model(posts, spec, args, backbone=backbone, progress=progress)
    return {
        "dataset": spec.name,
        "data_dir": str(args.data_dir),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": list(spec.labels),
        "mapping": spec.mapping_text() + " (an assumption: the dataset carries no PHQ-9 scores)",
        "auc_positive": list(spec.positive),
        "protocol": "trained on train, tuned on val (cut-points maximising val macro-F1; baseline alpha), "
        "reported on test",
        "splits": {split: len(rows) for split, rows in posts.items()},
        "limit": args.limit or None,
        "threads": torch.get_num_threads(),
        "model": model,
        "baseline": baseline,
        "seconds": {
            "load": loaded - started,
            "baseline": baseline["seconds"],
            "model_train": model["seconds_train"],
            "model_predict": model["seconds_predict"],
            "total": time.perf_counter() - started,
        },
    }


def format_report(report: dict) -> str:
    header = (
        f"{'':<34} {'accuracy':>8} {'weighted-F1':>11} {'macro-F1':>8} {'AUC':>6}   cut-points (tuned on val)"
    )
    splits = report["splits"]
    lines = [
        f"{report['dataset']} test set ({splits['test']} posts; trained on {splits['train']}, "
        f"tuned on {splits['val']}), {report['threads']} torch threads",
        f"mapping: {report['mapping']}",
        header,
    ]
    for key in ("model", "baseline"):
        part = report[key]
        test = part["test"]
        auc = "  n/a" if test["auc"] is None else f"{test['auc']:.3f}"
        cuts = ", ".join(f"{c:g}" for c in part["cut_points"])
        lines.append(
            f"{part['name'][:34]:<34} {test['accuracy']:>8.3f} {test['weighted_f1']:>11.3f} "
            f"{test['macro_f1']:>8.3f} {auc:>6}   {cuts}"
        )
    seconds = report["seconds"]
    lines.append(
        "seconds: "
        + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items())
        + " (AUC: predicted total, "
        + "+".join(report["auc_positive"])
        + " vs the rest)"
    )
    return "\n".join(lines)
