"""Cross-source benchmark (`python -m training benchmark cross-source --data-dir ../shared/data`).

A model that only works on the kind of text it was trained on is no use to a clinic whose patients
talk to a chat app nobody labelled. So: train on DepSeverity and, separately, on DepSign (train split;
their val split tunes what needs tuning), then rank the posts of every test set, the training source's
own (in-domain) and the sources it never saw: the other one and DR's test split (DR is a test set
only: `do` depressed vs `nd` not). In the same run, on the same data, the TF-IDF + ridge baseline.

Metrics are rank metrics, comparable across label schemes: AUC of the predicted total for the
clinically relevant cut (moderate or worse; DR: depressed) and Spearman's rho with the ordinal label
(null where the labels are binary), each with a 95% bootstrap interval over posts (each post is its own
author here), and the model - baseline AUC difference with a paired bootstrap interval. In-domain
DepSeverity also gets the band metrics of `benchmark depseverity` (cut-points tuned on val).

None of these sets are conversations or carry PHQ-9 scores (the label -> PHQ-9 mapping is an
assumption, see training/bench/public.py): they are a proxy for an organisation's own chat transcripts
with questionnaires, and cross-source figures are the part of this report that speaks to validity.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge

from scoring.backbone import DEFAULT_BACKBONE, Backbone, load_backbone
from scoring.cli_args import arg
from scoring.ensemble import Ensemble
from training.args import TrainArgs
from training.bench.public import (
    DATASETS,
    RIDGE_ALPHAS,
    DatasetSpec,
    Post,
    label_weights,
    labeled_windows,
    load_split,
    post_window,
    score_predictions,
)
from training.finetune import train_ensemble
from training.metrics import auc, bootstrap_interval, bootstrap_samples, paired_difference, spearman

TRAIN_SOURCES = ("depseverity", "depsign")
# DR is a test set only; its spec exists to read and validate the file (targets are never trained on).
DR = DatasetSpec(
    name="dr",
    labels=("nd", "do"),
    bands={"nd": ("minimal",), "do": ("moderate",)},
    targets={"nd": 2.0, "do": 12.0},
    positive=("do",),
)
TEST_SETS = {**DATASETS, "dr": DR}
GOAL_MEAN_AUC_GAIN = 0.05  # cross-source pairs: model - baseline AUC, on average
GOAL_WORST_AUC_LOSS = 0.01  # and worse than the baseline on no pair by more than this
GOAL_IN_DOMAIN = {"weighted_f1": 0.72, "macro_f1": 0.55, "auc": 0.92}  # DepSeverity test
GOAL_INT8_AUC_CHANGE = 0.005  # the model at int8 (scoring/quantize.py) vs fp32, on every pair


@dataclass
class CrossSourceArgs:
    data_dir: Path = arg(help="folder holding depseverity/, depsign/ and dr/ (e.g. ../shared/data)")
    limit: int = arg(0, "a seeded random N rows of each split (0 = all); quick runs only")
    members: int = arg(2, "ensemble members of the model")
    epochs: int = arg(150, "upper bound of the heads' epochs (early stopping on validation MAE)")
    backbone: str = arg(DEFAULT_BACKBONE, "package:... or a local checkpoint directory")
    bootstrap: int = arg(1000, "bootstrap resamples per interval")
    seed: int = arg(13, "seed of the model, the subsample and the bootstrap")
    seeds: int = arg(1, "whole runs with seeds seed, seed+1, ...; the report adds their mean and spread")
    int8: bool = arg(True, "also score every test set with the same model at int8 (CPU), AUC beside fp32")

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.limit < 0 or self.members < 1 or self.epochs < 1 or self.bootstrap < 10 or self.seeds < 1:
            raise ValueError("limit >= 0, members >= 1, epochs >= 1, bootstrap >= 10, seeds >= 1")


@dataclass(frozen=True)
class TestSet:
    name: str
    posts: list[Post]
    positive: np.ndarray  # (N,) bool: the clinically relevant cut
    ordinal: np.ndarray | None  # (N,) label index, least to most severe; None when binary


def _subsample(posts: list[Post], limit: int, seed: int) -> list[Post]:
    if not limit or len(posts) <= limit:
        return posts
    keep = np.sort(np.random.default_rng(seed).choice(len(posts), size=limit, replace=False))
    return [posts[i] for i in keep]


def load_split_of(data_dir: Path, spec: DatasetSpec, split: str, args: CrossSourceArgs) -> list[Post]:
    return _subsample(load_split(data_dir / spec.name, spec, split), args.limit, args.seed)


def test_set(posts: list[Post], spec: DatasetSpec) -> TestSet:
    positive = np.array([p.label in spec.positive for p in posts])
    ordinal = np.array([spec.labels.index(p.label) for p in posts]) if len(spec.labels) > 2 else None
    return TestSet(name=spec.name, posts=posts, positive=positive, ordinal=ordinal)


# ---- the two contenders, fitted on one source --------------------------------------------------------
Scorer = Callable[[list[Post]], np.ndarray]


def fit_baseline(train: list[Post], val: list[Post], spec: DatasetSpec) -> tuple[Scorer, dict]:
    """TF-IDF (word 1-2 grams) + ridge on the label targets, alpha chosen by AUC on val."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=100_000)
    x_train = vectorizer.fit_transform([p.text for p in train])
    targets = np.array([spec.targets[p.label] for p in train])
    weights = label_weights([p.label for p in train])
    x_val = vectorizer.transform([p.text for p in val])
    val_positive = np.array([p.label in spec.positive for p in val])
    best: tuple[float, float, Ridge] | None = None
    for alpha in RIDGE_ALPHAS:
        ridge = Ridge(alpha=alpha).fit(x_train, targets, sample_weight=weights)
        score = auc(val_positive, ridge.predict(x_val))
        if score is not None and (best is None or score > best[0]):
            best = (score, alpha, ridge)
    if best is None:
        raise ValueError(f"{spec.name} val holds one class only; use a larger --limit")
    _, alpha, ridge = best
    return (lambda posts: ridge.predict(vectorizer.transform([p.text for p in posts]))), {"alpha": alpha}


def fit_model(
    train: list[Post],
    spec: DatasetSpec,
    args: CrossSourceArgs,
    store: Path,
    *,
    backbone: Backbone,
    progress: Callable[[str, float], None] | None = None,
) -> tuple[Callable[[list[Post]], dict[str, np.ndarray]], dict]:
    """The default model (frozen backbone, attention-pooled item heads, `members` seeds, the lexical
    member, blend weights on validation) on one source; it holds out 10% of the train posts itself for
    early stopping, the blend and calibration. Its scorer gives the ensemble's totals under "ensemble"
    and each member kind's own (its members averaged) under the kind's name."""
    train_args = TrainArgs(
        backbone=args.backbone, members=args.members, epochs=args.epochs, val_fraction=0.1, seed=args.seed
    )
    result = train_ensemble(
        labeled_windows(train, spec),
        train_args,
        store,
        backbone=backbone,
        data_summary={"dataset": spec.name},
        progress=progress,
    )
    ensemble = Ensemble.load(result.artifact_dir)
    # The same artifact at int8 (CPU): the same heads on the quantised backbone's chunk vectors.
    int8 = Ensemble.load(result.artifact_dir, device="cpu", precision="int8") if args.int8 else None
    kinds = {m["name"]: m["mode"] for m in result.manifest["members"]}

    def score(posts: list[Post]) -> dict[str, np.ndarray]:
        windows = [post_window(p) for p in posts]
        out = {"ensemble": np.array([s.total for s in ensemble.predict(windows)])}
        if int8 is not None:
            out["ensemble_int8"] = np.array([s.total for s in int8.predict(windows)])
        per_member = ensemble.member_items(windows)
        for kind in sorted(set(kinds.values())):
            names = [n for n, k in kinds.items() if k == kind]
            out[kind] = np.mean([per_member[n].sum(-1).numpy() for n in names], axis=0)
        return out

    return score, {
        "artifact": result.artifact_dir.name,
        "internal_validation_mae": result.metrics.get("mae"),
        "blend": result.manifest["blend"],
    }


# ---- one (train source, test set) pair ------------------------------------------------------------
def _rank_metrics(target: TestSet, scores: np.ndarray, samples: list[np.ndarray]) -> dict:
    out: dict = {
        "auc": auc(target.positive, scores),
        "auc_ci": bootstrap_interval(auc, target.positive, scores, samples=samples),
        "spearman": None,
        "spearman_ci": None,
    }
    if target.ordinal is not None:
        out["spearman"] = spearman(target.ordinal, scores)
        out["spearman_ci"] = bootstrap_interval(spearman, target.ordinal, scores, samples=samples)
    return out


def evaluate_pair(
    train: str,
    target: TestSet,
    model_scores: np.ndarray,
    baseline_scores: np.ndarray,
    *,
    rounds: int,
    seed: int,
    member_scores: dict[str, np.ndarray] | None = None,
    int8_scores: np.ndarray | None = None,
) -> dict:
    samples = bootstrap_samples(None, len(target.posts), rounds=rounds, seed=seed)
    model = _rank_metrics(target, model_scores, samples)
    int8 = None
    if int8_scores is not None:
        int8 = _rank_metrics(target, int8_scores, samples)
        int8["auc_change"] = (
            None if int8["auc"] is None or model["auc"] is None else int8["auc"] - model["auc"]
        )
    members = {
        kind: {
            **_rank_metrics(target, scores, samples),
            "auc_difference": paired_difference(
                auc, target.positive, scores, baseline_scores, samples=samples
            ),
        }
        for kind, scores in (member_scores or {}).items()
    }
    return {
        "train": train,
        "test": target.name,
        "kind": "in-domain" if train == target.name else "cross-source",
        "n": len(target.posts),
        "positives": int(target.positive.sum()),
        "model": model,
        "model_int8": int8,
        "baseline": _rank_metrics(target, baseline_scores, samples),
        "auc_difference": paired_difference(
            auc, target.positive, model_scores, baseline_scores, samples=samples
        ),
        "members": members,
    }


def goal(pairs: list[dict], in_domain: dict | None) -> dict:
    """The goal of issue 11 on these figures: judged, never assumed."""
    gains = [p["auc_difference"]["value"] for p in pairs if p["kind"] == "cross-source"]
    gains = [g for g in gains if g is not None]
    mean = float(np.mean(gains)) if gains else None
    worst = float(np.min(gains)) if gains else None
    cross = {
        "mean_auc_gain": mean,
        "worst_auc_gain": worst,
        "met": mean is not None
        and worst is not None
        and mean >= GOAL_MEAN_AUC_GAIN
        and worst >= -GOAL_WORST_AUC_LOSS,
    }
    domain: dict = {"met": False}
    if in_domain is not None:
        test = in_domain["model"]["test"]
        domain = {key: test[key] for key in GOAL_IN_DOMAIN}
        domain["met"] = all(
            test[key] is not None and test[key] >= need for key, need in GOAL_IN_DOMAIN.items()
        )
    changes = [p["model_int8"]["auc_change"] for p in pairs if p.get("model_int8")]
    worst_change = max((abs(c) for c in changes if c is not None), default=None)
    int8 = {
        "worst_abs_auc_change": worst_change,
        "needs": GOAL_INT8_AUC_CHANGE,
        "met": None if worst_change is None else worst_change <= GOAL_INT8_AUC_CHANGE,
    }
    return {
        "cross_source": cross,
        "in_domain_depseverity": domain,
        "int8": int8,
        "needs": {
            "mean_auc_gain": GOAL_MEAN_AUC_GAIN,
            "worst_auc_gain": -GOAL_WORST_AUC_LOSS,
            "in_domain_depseverity": GOAL_IN_DOMAIN,
        },
        "met": cross["met"] and domain["met"],
    }


def run(
    args: CrossSourceArgs,
    *,
    backbone: Backbone | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    """The whole benchmark, `args.seeds` times; `backbone` overrides `args.backbone` (tests). With more
    than one seed the pairs' table is the first seed's, plus `seed_runs` (each run's figures and goal)
    and `seeds` (per pair: mean, min and max over seeds of the model's AUC and of its gain on the
    baseline; the spread of the cross-source mean gain); `goal` is then judged on the seed means, never
    on one seed's figures."""
    if args.seeds == 1:
        return run_once(args, backbone=backbone, progress=progress)
    reports = []
    for k in range(args.seeds):

        def seed_progress(stage: str, fraction: float, k: int = k) -> None:
            if progress:
                progress(stage, (k + fraction) / args.seeds)

        one = replace(args, seed=args.seed + k, seeds=1)
        reports.append(run_once(one, backbone=backbone, progress=seed_progress))
    report = dict(reports[0])
    report["seed_runs"] = [
        {"seed": args.seed + k, "pairs": r["pairs"], "goal": r["goal"]} for k, r in enumerate(reports)
    ]
    report["seeds"] = seed_summary(reports)
    report["goal"] = seed_goal(reports, report["seeds"])
    report["seconds"] = round(sum(r["seconds"] for r in reports), 1)
    return report


def seed_summary(reports: list[dict]) -> dict:
    """Per (train, test) pair, over the runs: mean / min / max of the model's AUC, the baseline's
    (it varies only through the subsample) and the model - baseline gain; the cross-source goal on the
    mean gains."""

    def stats(values: list[float | None]) -> dict:
        known = [v for v in values if v is not None]
        if not known:
            return {"mean": None, "min": None, "max": None}
        return {"mean": float(np.mean(known)), "min": float(np.min(known)), "max": float(np.max(known))}

    pairs = []
    for index, first in enumerate(reports[0]["pairs"]):
        runs = [r["pairs"][index] for r in reports]
        pairs.append(
            {
                "train": first["train"],
                "test": first["test"],
                "kind": first["kind"],
                "model_auc": stats([p["model"]["auc"] for p in runs]),
                "baseline_auc": stats([p["baseline"]["auc"] for p in runs]),
                "auc_gain": stats([p["auc_difference"]["value"] for p in runs]),
            }
        )
    gains = [
        p["auc_gain"]["mean"]
        for p in pairs
        if p["kind"] == "cross-source" and p["auc_gain"]["mean"] is not None
    ]
    per_seed = [r["goal"]["cross_source"]["mean_auc_gain"] for r in reports]
    per_seed = [g for g in per_seed if g is not None]
    return {
        "n": len(reports),
        "pairs": pairs,
        "cross_source_mean_gain": float(np.mean(gains)) if gains else None,
        "cross_source_worst_gain": float(np.min(gains)) if gains else None,
        # Each seed's cross-source mean gain, and their range: a difference between two single-seed
        # runs (one step of the model against the one before) smaller than this range is seed noise.
        "cross_source_mean_gain_by_seed": per_seed,
        "cross_source_mean_gain_spread": float(max(per_seed) - min(per_seed)) if per_seed else None,
    }


def seed_goal(reports: list[dict], summary: dict) -> dict:
    """The goal judged on the seeds' means: the cross-source mean and worst gain over the pairs' seed-mean
    gains, the in-domain DepSeverity figures averaged over seeds; with the spread of the mean gain."""
    cross = {
        "mean_auc_gain": summary["cross_source_mean_gain"],
        "worst_auc_gain": summary["cross_source_worst_gain"],
        "mean_auc_gain_spread": summary["cross_source_mean_gain_spread"],
    }
    cross["met"] = (
        cross["mean_auc_gain"] is not None
        and cross["worst_auc_gain"] is not None
        and cross["mean_auc_gain"] >= GOAL_MEAN_AUC_GAIN
        and cross["worst_auc_gain"] >= -GOAL_WORST_AUC_LOSS
    )
    domain: dict = {"met": False}
    in_domain = [r["goal"]["in_domain_depseverity"] for r in reports]
    if all(GOAL_IN_DOMAIN.keys() <= d.keys() for d in in_domain):
        domain = {
            key: (
                None
                if any(d[key] is None for d in in_domain)
                else float(np.mean([d[key] for d in in_domain]))
            )
            for key in GOAL_IN_DOMAIN
        }
        domain["met"] = all(domain[k] is not None and domain[k] >= need for k, need in GOAL_IN_DOMAIN.items())
    return {
        **reports[0]["goal"],
        "cross_source": cross,
        "in_domain_depseverity": domain,
        "met": cross["met"] and domain["met"],
        "judged_on": f"the mean over {len(reports)} seeds",
    }


def run_once(
    args: CrossSourceArgs,
    *,
    backbone: Backbone | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    """One run of the benchmark with `args.seed`."""
    started = time.perf_counter()
    tests = {
        name: test_set(load_split_of(args.data_dir, spec, "test", args), spec)
        for name, spec in TEST_SETS.items()
    }
    backbone = backbone or load_backbone(args.backbone)
    pairs: list[dict] = []
    sources: dict[str, dict] = {}
    in_domain: dict | None = None
    for index, name in enumerate(TRAIN_SOURCES):
        spec = DATASETS[name]
        train = load_split_of(args.data_dir, spec, "train", args)
        val = load_split_of(args.data_dir, spec, "val", args)
        fitted = time.perf_counter()
        baseline, baseline_info = fit_baseline(train, val, spec)

        def stage(step: str, fraction: float, index: int = index) -> None:
            if progress:
                progress(step, (index + fraction) / len(TRAIN_SOURCES))

        with tempfile.TemporaryDirectory() as store:
            model, model_info = fit_model(train, spec, args, Path(store), backbone=backbone, progress=stage)
            trained = time.perf_counter()
            for offset, target in enumerate(tests.values()):
                scored = model(target.posts)
                ensemble, int8 = scored.pop("ensemble"), scored.pop("ensemble_int8", None)
                pairs.append(
                    evaluate_pair(
                        name,
                        target,
                        ensemble,
                        baseline(target.posts),
                        rounds=args.bootstrap,
                        seed=args.seed + offset,
                        member_scores=scored,
                        int8_scores=int8,
                    )
                )
            if name == "depseverity":
                posts = {"train": train, "val": val, "test": tests[name].posts}
                in_domain = {
                    "model": score_predictions(
                        model(val)["ensemble"], model(tests[name].posts)["ensemble"], posts, spec
                    ),
                    "baseline": score_predictions(baseline(val), baseline(tests[name].posts), posts, spec),
                }
        sources[name] = {
            "train": len(train),
            "val": len(val),
            "baseline": baseline_info,
            "model": model_info,
            "seconds_fit_and_score": round(time.perf_counter() - fitted, 1),
            "seconds_model_train": round(trained - fitted, 1),
        }
    return {
        "benchmark": "cross-source",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_dir": str(args.data_dir),
        "limit": args.limit or None,
        "backbone": backbone.backbone_id,
        "model": f"the default model: {args.members} heads member(s) on the frozen backbone + the lexical "
        "member, blended with weights fitted on its validation posts",
        "baseline": "TF-IDF (word 1-2 grams) + ridge, alpha chosen by val AUC",
        "members": {
            "heads": "attention-pooled item heads on frozen backbone chunk vectors (seeds averaged)",
            "lexical": "TF-IDF word 1-2 + char 2-5 grams, ridge per item, alpha by validation MAE",
        },
        "metric_notes": "AUC: predicted total, moderate+severe vs the rest (DR: do vs nd); Spearman with the "
        "ordinal label (null for binary labels); 95% bootstrap intervals over posts; auc_difference = "
        "model - baseline with a paired bootstrap interval. Labels are mapped to PHQ-9 by assumption.",
        "test_sets": {name: len(t.posts) for name, t in tests.items()},
        "sources": sources,
        "pairs": pairs,
        "in_domain_depseverity": in_domain,
        "goal": goal(pairs, in_domain),
        "threads": torch.get_num_threads(),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _interval(ci: list[float] | None) -> str:
    return "" if ci is None else f" [{ci[0]:.2f}, {ci[1]:.2f}]"


def _value(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _met(met: bool) -> str:
    return "met" if met else "NOT met"


def format_report(report: dict) -> str:
    lines = [
        f"cross-source benchmark, {report['threads']} torch threads, {report['seconds']:.0f} s"
        + (f", limit {report['limit']}" if report["limit"] else ""),
        f"{'train -> test':<28}{'model AUC [95% CI]':<26}{'baseline AUC':<26}{'diff [95% CI]':<24}"
        f"{'model rho':<11}{'baseline rho'}",
    ]
    for p in report["pairs"]:
        diff = p["auc_difference"]
        lines.append(
            f"{p['train'] + ' -> ' + p['test']:<28}"
            f"{_value(p['model']['auc']) + _interval(p['model']['auc_ci']):<26}"
            f"{_value(p['baseline']['auc']) + _interval(p['baseline']['auc_ci']):<26}"
            f"{_value(diff['value']) + _interval(diff['ci']):<24}"
            f"{_value(p['model']['spearman']):<11}{_value(p['baseline']['spearman'])}"
        )
        if p.get("model_int8"):
            q = p["model_int8"]
            lines.append(
                f"{'  model at int8':<28}{_value(q['auc']) + _interval(q['auc_ci']):<26}"
                f"{'AUC change vs fp32 ' + _value(q['auc_change']):<50}{_value(q['spearman'])}"
            )
        for kind, alone in p.get("members", {}).items():
            lines.append(
                f"{'  ' + kind + ' alone':<28}{_value(alone['auc']) + _interval(alone['auc_ci']):<26}{'':<26}"
                f"{_value(alone['auc_difference']['value']) + _interval(alone['auc_difference']['ci']):<24}"
                f"{_value(alone['spearman'])}"
            )
    for name, source in report["sources"].items():
        blend = source["model"].get("blend", {})
        lines.append(
            f"blend fitted on {name} early-stopping posts (half of the 10% of train held out), shrunk "
            f"towards equal weights: {blend.get('by_kind')}"
        )
    if report["in_domain_depseverity"]:
        for key in ("model", "baseline"):
            test = report["in_domain_depseverity"][key]["test"]
            lines.append(
                f"in-domain DepSeverity {key:<9} weighted-F1 {test['weighted_f1']:.3f}  macro-F1 "
                f"{test['macro_f1']:.3f}  AUC {_value(test['auc'])}"
            )
    if "seeds" in report:
        summary = report["seeds"]
        lines.append(f"over {summary['n']} seeds (mean [min, max]): model AUC, gain on the baseline")
        for p in summary["pairs"]:
            m, g = p["model_auc"], p["auc_gain"]
            spread = f"{_value(m['mean'])} [{_value(m['min'])}, {_value(m['max'])}]"
            lines.append(
                f"{p['train'] + ' -> ' + p['test']:<28}{spread:<26}"
                f"{_value(g['mean'])} [{_value(g['min'])}, {_value(g['max'])}]"
            )
        lines.append(
            f"seed-mean cross-source gain {_value(summary['cross_source_mean_gain'])}, worst pair "
            f"{_value(summary['cross_source_worst_gain'])}; the seeds' mean gains span "
            f"{_value(summary['cross_source_mean_gain_spread'])} (a single-seed difference smaller than "
            "that is noise)"
        )
    g = report["goal"]
    cross = g["cross_source"]
    lines.append(
        ("goal (on the seed means)" if "judged_on" in g else "goal (one seed)")
        + f": cross-source mean AUC gain {_value(cross['mean_auc_gain'])} (needs >= {GOAL_MEAN_AUC_GAIN}), "
        f"worst {_value(cross['worst_auc_gain'])} (needs >= {-GOAL_WORST_AUC_LOSS}); in-domain DepSeverity "
        f"{_met(g['in_domain_depseverity']['met'])}; overall {_met(g['met'])}"
    )
    if g.get("int8", {}).get("met") is not None:
        lines.append(
            f"int8: largest AUC change vs fp32 over the pairs {_value(g['int8']['worst_abs_auc_change'])} "
            f"(needs <= {GOAL_INT8_AUC_CHANGE}): {_met(g['int8']['met'])}"
        )
    lines.append("(proxy data, not conversations; the label -> PHQ-9 mapping is an assumption)")
    return "\n".join(lines)
