"""`python -m training benchmark self-harm`: the self-harm detector (scoring/self_harm) on two proxies.

- cssrs test (../shared/data/cssrs): AUC of the detector's user score (its highest sentence score over
  all of a user's posts) for Ideation/Behavior/Attempt vs Supportive/Indicator, with a bootstrap 95%
  interval over users, beside a TF-IDF (word 1-2 grams) + logistic regression baseline trained on cssrs
  train in the same run (C chosen on val). The label mapping is an assumption (LABEL_MAPPING).
- the held-out hard-case conversations (training/bench/self_harm_hard_cases_v2.jsonl, written by hand by
  someone who never saw the detector, committed before the 1.4 tuning): recall, precision and F1 at the
  shipped threshold, AUC, and the confusion by trap kind as counts only (no ids, so that reading the
  report cannot tune the detector to the set);
- the first hard-case set (self_harm_hard_cases.jsonl), read while tuning 1.3 and 1.4 and so a
  development set: the same figures, with the ids of the conversations it gets wrong.

Both are proxies: forum posts and hand-written conversations, not patients' chats with item-9 answers,
so the figures say nothing of clinical validity.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from scoring.cli_args import arg
from scoring.self_harm import DETECTOR_VERSION, SelfHarmDetector
from training.metrics import auc, bootstrap_interval, bootstrap_samples, paired_difference
from training.self_harm_data import (
    DEV_CASES,
    HELD_OUT_CASES,
    LABEL_MAPPING,
    HardCase,
    load_cssrs,
    load_hard_cases,
)

HARD_CASES = HELD_OUT_CASES
BASELINE_CS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
GOALS = {"cssrs_auc": 0.90, "hard_recall": 0.95, "hard_precision": 0.85}
NOTE = (
    "Proxies, not evidence of clinical validity: cssrs holds forum users rated on the Columbia scale, the "
    "hard cases are conversations written by the team; neither is a patient's chat with item-9 answers."
)


@dataclass
class SelfHarmBenchArgs:
    data_dir: Path = arg(help="folder holding cssrs/{train,val,test}.csv (e.g. ../shared/data)")
    hard_cases: Path = arg(HARD_CASES, "held-out hard-case conversations, one JSON object per line")
    dev_cases: Path = arg(DEV_CASES, "development hard-case conversations (their misses are listed by id)")
    bootstrap: int = arg(1000, "bootstrap resamples per interval")
    seed: int = arg(13, "seed of the bootstrap")

    def __post_init__(self) -> None:
        self.data_dir, self.hard_cases = Path(self.data_dir), Path(self.hard_cases)
        self.dev_cases = Path(self.dev_cases)
        if self.bootstrap < 10:
            raise ValueError("bootstrap >= 10")


def _interval(
    metric: Callable[..., float | None], y: np.ndarray, s: np.ndarray, samples: list
) -> list | None:
    return bootstrap_interval(metric, y, s, samples=samples)


def cssrs_report(
    detector: SelfHarmDetector, args: SelfHarmBenchArgs, say: Callable[[str, float], None]
) -> dict:
    train, val, test = (load_cssrs(args.data_dir, split) for split in ("train", "val", "test"))
    y = np.array([label for _, label in test])
    say("baseline", 0.05)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform([t for t, _ in train])
    y_train = np.array([label for _, label in train])
    y_val = np.array([label for _, label in val])
    x_val = vectorizer.transform([t for t, _ in val])

    def val_auc(c: float) -> float:
        fitted = LogisticRegression(C=c, max_iter=5000).fit(x_train, y_train)
        return auc(y_val, fitted.decision_function(x_val)) or 0.0

    best_c = max(BASELINE_CS, key=val_auc)
    baseline = LogisticRegression(C=best_c, max_iter=5000).fit(x_train, y_train)
    base_scores = baseline.decision_function(vectorizer.transform([t for t, _ in test]))
    say("detector on cssrs test", 0.2)
    start = time.process_time()
    scores = np.array(detector.score_texts([t for t, _ in test]))
    cpu = time.process_time() - start
    samples = bootstrap_samples(None, len(y), rounds=args.bootstrap, seed=args.seed)
    detector_auc = auc(y, scores)
    return {
        "users": len(y),
        "positive": int(y.sum()),
        "detector": {
            "auc": detector_auc,
            "auc_ci": _interval(auc, y, scores, samples),
            "fired": int((scores >= detector.threshold).sum()),
            "fired_positive": int(((scores >= detector.threshold) & (y == 1)).sum()),
            "cpu_s": cpu,
        },
        "baseline": {
            "name": "TF-IDF word 1-2 grams + logistic regression (trained on cssrs train, C on val)",
            "c": best_c,
            "auc": auc(y, base_scores),
            "auc_ci": _interval(auc, y, base_scores, samples),
        },
        "difference": paired_difference(auc, y, scores, base_scores, samples=samples),
        "goal_auc": GOALS["cssrs_auc"],
        "goal_met": detector_auc is not None and detector_auc >= GOALS["cssrs_auc"],
    }


def hard_case_report(
    detector: SelfHarmDetector, cases: list[HardCase], args: SelfHarmBenchArgs, *, path: Path, ids: bool
) -> dict:
    start = time.process_time()
    detections = [detector.detect(case.window) for case in cases]
    cpu = time.process_time() - start
    y = np.array([case.label for case in cases])
    scores = np.array([d.score for d in detections])
    fired = np.array([d.fired for d in detections])
    tp, fp = int((fired & (y == 1)).sum()), int((fired & (y == 0)).sum())
    fn = int((~fired & (y == 1)).sum())
    recall = tp / (tp + fn) if tp + fn else None
    precision = tp / (tp + fp) if tp + fp else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    by_trap: dict[tuple[int, str], dict] = {}
    for case, detection in zip(cases, detections, strict=True):
        row = by_trap.setdefault((case.label, case.trap), {"label": case.label, "trap": case.trap, "n": 0})
        row["n"] += 1
        row["fired"] = row.get("fired", 0) + int(detection.fired)
        wrong = detection.fired != bool(case.label)
        if wrong and ids:
            row.setdefault("wrong_ids", []).append(case.id)
    samples = bootstrap_samples(None, len(y), rounds=args.bootstrap, seed=args.seed)
    return {
        "path": str(path),
        "conversations": len(cases),
        "positive": int(y.sum()),
        "threshold": detector.threshold,
        "recall": recall,
        "precision": precision,
        "f1": f1,
        "auc": auc(y, scores),
        "auc_ci": _interval(auc, y, scores, samples),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": int(len(y) - tp - fp - fn)},
        "by_trap": sorted(by_trap.values(), key=lambda r: (r["label"], r["trap"])),
        "cpu_ms_per_conversation": 1000 * cpu / len(cases),
        "goal": {"recall": GOALS["hard_recall"], "precision": GOALS["hard_precision"]},
        "goal_met": recall is not None
        and precision is not None
        and recall >= GOALS["hard_recall"]
        and precision >= GOALS["hard_precision"],
    }


def run(args: SelfHarmBenchArgs, *, progress: Callable[[str, float], None] | None = None) -> dict:
    say = progress or (lambda stage, fraction: None)
    detector = SelfHarmDetector.default()
    # fail on a bad file before the long part
    cases, dev = load_hard_cases(args.hard_cases), load_hard_cases(args.dev_cases)
    report: dict = {
        "detector_version": detector.version,
        "code_version": DETECTOR_VERSION,
        "threshold": detector.threshold,
        "note": NOTE,
        "label_mapping": LABEL_MAPPING,
        "cssrs_test": cssrs_report(detector, args, say),
    }
    say("hard cases", 0.9)
    report["hard_cases"] = hard_case_report(detector, cases, args, path=args.hard_cases, ids=False)
    report["dev_cases"] = hard_case_report(detector, dev, args, path=args.dev_cases, ids=True)
    say("done", 1.0)
    return report


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _ci(ci: list[float] | None) -> str:
    return "" if not ci else f" [{ci[0]:.3f}, {ci[1]:.3f}]"


def format_report(report: dict) -> str:
    c, h, d = report["cssrs_test"], report["hard_cases"], report["dev_cases"]
    lines = [
        f"self-harm detector {report['detector_version']}, threshold {report['threshold']:.2f}",
        report["note"],
        f"label mapping: {report['label_mapping']}",
        "",
        f"cssrs test ({c['users']} users, {c['positive']} positive), AUC with a 95% user-bootstrap interval:",
        f"  detector  {_pct(c['detector']['auc'])}{_ci(c['detector']['auc_ci'])}  (goal >= "
        f"{c['goal_auc']:.2f}: {'met' if c['goal_met'] else 'NOT met'}); fired on "
        f"{c['detector']['fired']} users, {c['detector']['fired_positive']} of them positive",
        f"  baseline  {_pct(c['baseline']['auc'])}{_ci(c['baseline']['auc_ci'])}  ({c['baseline']['name']}, "
        f"C={c['baseline']['c']:g})",
        f"  detector - baseline {_pct(c['difference']['value'])}{_ci(c['difference']['ci'])}",
        "",
    ]
    lines += _hard_lines("held-out hard cases", h) + _hard_lines(
        "development hard cases (read while tuning)", d
    )
    lines.append(f"  detector CPU: {h['cpu_ms_per_conversation']:.2f} ms per conversation")
    return "\n".join(lines)


def _hard_lines(title: str, h: dict) -> list[str]:
    lines = [
        "",
        f"{title} ({h['conversations']} conversations, {h['positive']} positive) at threshold "
        f"{h['threshold']:.2f}: recall {_pct(h['recall'])}, precision {_pct(h['precision'])}, "
        f"F1 {_pct(h['f1'])}, AUC {_pct(h['auc'])}{_ci(h['auc_ci'])} (goal recall >= "
        f"{h['goal']['recall']:.2f} with precision >= {h['goal']['precision']:.2f}: "
        f"{'met' if h['goal_met'] else 'NOT met'})",
        f"  {'label':<9}{'trap / kind':<34}{'n':>4}{'fired':>7}  wrong",
    ]
    for row in h["by_trap"]:
        wrong = ", ".join(row.get("wrong_ids", []))
        lines.append(
            f"  {'positive' if row['label'] else 'negative':<9}{row['trap'][:33]:<34}{row['n']:>4}"
            f"{row['fired']:>7}  {wrong}"
        )
    return lines
