"""The learning loop of the reference study, as a product feature (no Django here).

1. Split ground truth by patient: development patients and a held-out test set fixed for the run.
2. Stage 1: Claude pseudo-labels for unlabeled windows (consenting patients, redacted text). Without
   a labeller, an intermediate model trained on ground truth labels them itself.
3. Stage 2: K rounds of re-labelling: train an intermediate model on ground truth + current labels,
   re-score the pseudo-labelled windows, blend with the previous label (`relabel_blend` is the
   model's share).
4. The ensemble: a member trained on ground truth only and one on ground truth + re-labelled windows
   (more members alternate between the two), calibrated on development validation patients.
5. Evaluation on the held-out test patients, written into the manifest; `promotion_decision`
   compares it with the active model on the same windows.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scoring.artifact import read_manifest, write_manifest
from scoring.backbone import Backbone, load_backbone
from scoring.ensemble import Ensemble, WindowScore, pick_device
from scoring.phq9 import CASENESS, ITEM_SELF_HARM
from scoring.types import LabeledWindow, Window
from training.args import LoopConfig, TrainArgs
from training.finetune import MemberSet, TrainResult, base_dtype, train_ensemble
from training.labelling.claude import ClaudeLabeler, LabelingReport, LabelRequest
from training.labelling.crossfit import cross_fitted_items
from training.labelling.validation import ValidationPair, apply_total_map, fit_total_map, validation_report
from training.metrics import (
    auc,
    bootstrap_samples,
    item9_flag_report,
    paired_difference,
    regression_report,
)

log = logging.getLogger(__name__)
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Unlabeled:
    window: Window
    group: str  # patient
    consent_external: bool
    names: tuple[str, ...] = ()
    # A clinician's verdict on the deployed model's score of this window: "agree", "disagree" or "".
    # A disagreed window is never labelled by the model itself (that would teach it its own mistake);
    # Claude, an outside labeller, may still label it.
    review: str = ""


@dataclass
class LoopResult:
    train: TrainResult
    test_metrics: dict
    test_window_ids: list[str]
    test_groups: list[str]
    test_points: list[tuple[str, float, float]]  # (window id, true total, predicted total)
    labeling: dict
    pseudo_windows: int
    label_validation: dict = field(default_factory=dict)  # Claude vs questionnaires (labelling/validation.py)
    # Window id -> hash of what was sent for a label: lets the caller tie stored labels to their owner
    # (a patient's erasure removes the labels of their windows).
    label_hashes: dict[str, str] = field(default_factory=dict)


TEST_SALT = "phq9-held-out-test-v1"
SPLITS = ("auto", "time", "patient")
SPLIT_TEXT = {
    "time": "time-ordered: the patients who started last",
    "patient": "patients fixed by a hash of their id (undated windows)",
}


def _hash_position(group: str) -> float:
    return int(hashlib.sha256(f"{TEST_SALT}:{group}".encode()).hexdigest()[:8], 16) / 2**32


def split_kind(examples: list[LabeledWindow], requested: str) -> str:
    """'time' or 'patient': `auto` is time-ordered when every window is dated, by patient hash otherwise."""
    if requested not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {requested!r}")
    dated = all(e.window.end is not None for e in examples)
    if requested == "time" and not dated:
        raise ValueError("a time-ordered split needs a date on every window (turns with sent_at)")
    return "time" if requested == "time" or (requested == "auto" and dated) else "patient"


def held_out_test_split(
    examples: list[LabeledWindow], *, fraction: float, kind: str = "patient"
) -> tuple[list[int], list[int]]:
    """(development, test) indices, by patient. At least one patient is tested, at least two develop.

    kind "time": the test patients are the ones who started last (their first window is the latest),
    so a model is judged on patients who came after everyone it learnt from, as in deployment. A
    patient's start never moves, so as data grows earlier test patients join development and the new
    ones are tested: still patients neither the active nor the candidate version trained on.
    kind "patient": a patient's side is fixed by a hash of their id, so it stays the same from run to
    run as data grows (for undated data)."""
    groups = sorted({e.group or e.window.id for e in examples})
    if kind == "time":
        first: dict[str, object] = {}
        for e in examples:
            g = e.group or e.window.id
            first[g] = min(first[g], e.window.end) if g in first else e.window.end  # type: ignore[call-overload]
        # latest start first; ties by hash so the order never depends on input order
        order = sorted(groups, key=lambda g: (first[g], _hash_position(g)), reverse=True)
        n_test = min(
            max(1 if len(groups) >= 3 else 0, round(len(groups) * fraction)), max(len(groups) - 2, 0)
        )
        test_groups = set(order[:n_test])
    else:
        test_groups = {g for g in groups if _hash_position(g) < fraction}
        if not test_groups and len(groups) >= 3:
            test_groups = {min(groups, key=_hash_position)}
        if len(groups) - len(test_groups) < 2:  # few patients: keep the lowest-hash ones as the test side
            test_groups = set(sorted(test_groups, key=_hash_position)[: max(len(groups) - 2, 0)])
    dev = [i for i, e in enumerate(examples) if (e.group or e.window.id) not in test_groups]
    test = [i for i, e in enumerate(examples) if (e.group or e.window.id) in test_groups]
    return dev, test


def _log(sink: Callable[[str], None] | None, message: str) -> None:
    log.info(message)
    if sink:
        sink(message)


def _relabel(
    examples: list[LabeledWindow], predictions: list[tuple[float, ...]], blend: float, round_: int
) -> list[LabeledWindow]:
    out = []
    for e, pred in zip(examples, predictions, strict=True):
        previous = e.items or tuple(e.total / 9 for _ in range(9))
        items = tuple(
            min(3.0, max(0.0, blend * p + (1 - blend) * q)) for p, q in zip(pred, previous, strict=True)
        )
        out.append(
            LabeledWindow(
                window=e.window,
                total=sum(items),
                items=items,
                group=e.group,
                weight=e.weight,
                source=f"relabel:{round_}",
                meta=e.meta,
            )
        )
    return out


class _OneShot:
    """An intermediate model that scores once, then gives its shared backbone back (Ensemble.release):
    a learning-loop run keeps exactly one backbone in memory (tests/training/test_pipeline.py)."""

    def __init__(self, ensemble: Ensemble) -> None:
        self.ensemble = ensemble

    def predict(self, windows: list[Window]) -> list[WindowScore]:
        try:
            return self.ensemble.predict(windows)
        finally:
            self.ensemble.release()


def evaluate(
    directory: Path, examples: list[LabeledWindow], *, backbone: Backbone | None = None
) -> tuple[dict, list[tuple[str, float, float]]]:
    """Metrics of the artifact in `directory` on `examples`, and the (id, true, predicted) points. With
    an item-9 flag threshold in the artifact's manifest, `item9_flag` says how it does here. `backbone`:
    the one it was trained from, already loaded (shared, given back afterwards)."""
    ensemble = Ensemble.load(directory, backbone=backbone)
    threshold = read_manifest(directory).get("item9_flag", {}).get("threshold")
    try:
        scores = ensemble.predict([e.window for e in examples])
    finally:
        ensemble.release()
    metrics = regression_report(
        [e.total for e in examples],
        [s.total for s in scores],
        intervals=[s.interval for s in scores],
        items_true=[e.items for e in examples],
        items_pred=[s.items for s in scores],
        groups=[e.group or e.window.id for e in examples],
    )
    if threshold is not None:
        rated = [
            (e.items[ITEM_SELF_HARM], s.items[ITEM_SELF_HARM])
            for e, s in zip(examples, scores, strict=True)
            if e.items
        ]
        metrics["item9_flag"] = item9_flag_report([t for t, _ in rated], [p for _, p in rated], threshold)
    return metrics, [(e.window.id, e.total, s.total) for e, s in zip(examples, scores, strict=True)]


def _validate_labeller(
    labeler: ClaudeLabeler,
    dev: list[LabeledWindow],
    config: LoopConfig,
    log_line: Callable[[str], None] | None,
) -> tuple[dict, Callable[[float], float] | None, bool, LabelingReport]:
    """Claude's labels against the questionnaires of consented development windows: the report, the
    map of its totals (or None), whether its labels may be used at all, and what labelling them cost."""
    sample = [e for e in dev if e.meta.get("consent_external") and e.items is not None]
    sample = sample[: config.label_validation_windows]
    if not sample:
        _log(log_line, "labeller not validated: no consented development window with a questionnaire")
        return {"pairs": 0}, None, True, LabelingReport()
    validating = labeler.label([LabelRequest(e.window, True, tuple(e.meta.get("names", ()))) for e in sample])
    labels = validating.labels
    pairs = [
        ValidationPair(labels[e.window.id], e.total, e.items, e.group)
        for e in sample
        if e.window.id in labels
    ]
    check = validation_report(pairs)
    total_map, calibration = fit_total_map(pairs, min_pairs=config.label_calibration_min_pairs)
    check["calibration"] = calibration
    trusted = "mae" not in check or check["mae"] <= config.label_max_mae
    check["used"] = trusted
    _log(
        log_line,
        f"labeller vs questionnaires on {check['with_total']} of {check['pairs']} windows: "
        f"MAE {check.get('mae', '-')}, bias {check.get('bias', '-')}, r {check.get('pearson_r', '-')}, "
        f"band agreement {check.get('band_agreement', '-')}, not assessable {check['not_assessable_share']}; "
        f"map of totals {'applied' if calibration['applied'] else 'not applied: ' + calibration['why']}"
        + ("" if trusted else f"; MAE above {config.label_max_mae}: Claude's pseudo-labels are NOT used"),
    )
    return check, total_map, trusted, validating


def run_learning_loop(
    ground_truth: list[LabeledWindow],
    unlabeled: list[Unlabeled],
    config: LoopConfig,
    store_dir: Path,
    *,
    labeler: ClaudeLabeler | None = None,
    backbone: Backbone | None = None,
    progress: Progress | None = None,
    log_line: Callable[[str], None] | None = None,
) -> LoopResult:
    report = progress or (lambda stage, fraction: None)
    split = split_kind(ground_truth, config.split)
    dev_idx, test_idx = held_out_test_split(ground_truth, fraction=config.test_fraction, kind=split)
    if not test_idx or len({ground_truth[i].group for i in dev_idx}) < 2:
        raise ValueError("need ground truth from at least 3 patients (development and held-out test)")
    dev = [ground_truth[i] for i in dev_idx]
    test = [ground_truth[i] for i in test_idx]
    # A held-out test patient's text never reaches training, labelled or not: their unlabeled windows
    # are dropped before any labelling (no Claude tokens spent on them either).
    test_groups = {e.group or e.window.id for e in test}
    held_out_unlabeled = sum(u.group in test_groups for u in unlabeled)
    unlabeled = [u for u in unlabeled if u.group not in test_groups]
    if held_out_unlabeled:
        _log(log_line, f"{held_out_unlabeled} unlabeled windows of held-out test patients left out")
    _log(
        log_line,
        f"ground truth: {len(dev)} development windows, {len(test)} held-out test windows "
        f"({len({e.group for e in test})} patients); {len(unlabeled)} unlabeled windows",
    )
    backbone = backbone or load_backbone(
        config.train.backbone, dtype=base_dtype(config.train, pick_device(config.train.device))
    )
    inter_args = TrainArgs(
        **{**config.train.__dict__, "members": 1, "epochs": config.intermediate_epochs or config.train.epochs}
    )

    vectors: dict = {}  # chunk vectors of the frozen backbone, shared by every training below
    with tempfile.TemporaryDirectory(prefix="phq9-intermediate-") as scratch:
        scratch_dir = Path(scratch)

        def intermediate(extra: list[LabeledWindow]) -> _OneShot:
            result = train_ensemble(
                dev,
                inter_args,
                scratch_dir,
                backbone=backbone,
                member_sets=[MemberSet("intermediate", tuple(extra))],
                vector_cache=vectors,
            )
            # The run's one backbone scores with it too, and gets it back once it has (_OneShot).
            return _OneShot(Ensemble.load(result.artifact_dir, backbone=backbone))

        # Stage 1
        report("pseudo-label", 0.0)
        labeling = LabelingReport()
        label_check: dict = {}
        pseudo: list[LabeledWindow] = []
        if labeler is not None and unlabeled:
            label_check, total_map, trusted, validating = _validate_labeller(labeler, dev, config, log_line)
            requests = [LabelRequest(u.window, u.consent_external, u.names) for u in unlabeled]
            labeling = labeler.label(requests, on_progress=lambda d, n: report("pseudo-label", d / n))
            labeling.add(validating)  # the run's counts and tokens cover every label bought
            groups = {u.window.id: u.group for u in unlabeled}
            pseudo = [
                LabeledWindow(
                    window=u.window,
                    total=float(lbl.total),
                    items=tuple(float(v) for v in lbl.items),
                    group=groups[u.window.id],
                    # The label's weight follows its confidence (usable items x sample agreement).
                    weight=config.pseudo_weight * max(lbl.confidence, 0.05),
                    source=f"pseudo:{lbl.model}",
                    meta={"confidence": lbl.confidence},
                )
                for u in unlabeled
                if (lbl := labeling.labels.get(u.window.id)) is not None and lbl.has_total
            ]
            no_total = sum(1 for lbl in labeling.labels.values() if not lbl.has_total)
            if total_map is not None:
                pseudo = [apply_total_map(e, total_map) for e in pseudo]
            if not trusted:
                pseudo = []  # the validated labeller is too far from the questionnaires: said below
            _log(
                log_line,
                f"stage 1: Claude labels for {len(pseudo)} windows "
                f"({labeling.labelled} new, {labeling.from_cache} reused, {len(labeling.failed)} failed, "
                f"{labeling.skipped_consent} without consent, {labeling.not_sent} not sent, "
                f"{no_total} with too few assessable items, {labeling.invalid_quotes} item ratings "
                "with quotes not in the patient's turns; "
                f"{labeling.input_tokens + labeling.output_tokens} tokens)"
                + (f"; stopped: {labeling.stopped}" if labeling.stopped else ""),
            )
        elif unlabeled and not config.self_labels:
            _log(
                log_line,
                "stage 1 skipped: no Anthropic API key configured; trained on questionnaires only "
                "(the model's own labels stay off unless TRAINING_SELF_LABELS is set)",
            )
        elif unlabeled:
            _log(
                log_line,
                "stage 1 skipped: no Anthropic API key configured; the loop uses the model's own "
                "pseudo-labels instead (TRAINING_SELF_LABELS)",
            )
            disputed = [u for u in unlabeled if u.review == "disagree"]
            if disputed:
                _log(
                    log_line,
                    f"{len(disputed)} windows a clinician disagreed with are left out of self-labels",
                )
            unlabeled = [u for u in unlabeled if u.review != "disagree"]
            model = intermediate([]) if unlabeled else None
            scores = model.predict([u.window for u in unlabeled]) if model else []
            pseudo = [
                LabeledWindow(
                    window=u.window,
                    total=s.total,
                    items=s.items,
                    group=u.group,
                    weight=config.pseudo_weight,
                    source="pseudo:self",
                )
                for u, s in zip(unlabeled, scores, strict=True)
            ]
        else:
            _log(log_line, "no unlabeled windows: the ensemble is trained on ground truth only")

        # Stage 2
        for round_ in range(1, config.relabel_rounds + 1 if pseudo else 1):
            report("re-label", (round_ - 1) / config.relabel_rounds)
            # Out of fold: each window re-scored by a model that never trained on it (crossfit.py).
            relabels = cross_fitted_items(pseudo, folds=config.relabel_folds, fit=intermediate)
            before = sum(e.total for e in pseudo) / len(pseudo)
            pseudo = _relabel(pseudo, relabels, config.relabel_blend, round_)
            _log(
                log_line,
                f"stage 2 round {round_}: re-labelled {len(pseudo)} windows "
                f"(mean total {before:.2f} -> {sum(e.total for e in pseudo) / len(pseudo):.2f})",
            )

    # The ensemble
    report("train", 0.0)
    sets = (
        [MemberSet("ground_truth"), MemberSet("ground_truth+relabelled", tuple(pseudo))]
        if pseudo
        else [MemberSet("ground_truth")]
    )
    n_members = max(config.train.members, len(sets))
    member_sets = [sets[m % len(sets)] for m in range(n_members)]
    result = train_ensemble(
        dev,
        config.train,
        store_dir,
        backbone=backbone,
        member_sets=member_sets,
        progress=lambda stage, f: report(stage, f),
        vector_cache=vectors,
        data_summary={"pseudo_labelled_windows": len(pseudo), "test_windows": len(test)},
    )

    # Evaluation on the held-out test patients, recorded in the artifact.
    report("evaluate", 0.0)
    test_metrics, points = evaluate(result.artifact_dir, test, backbone=backbone)
    test_metrics["evaluated_on"] = f"held-out test patients ({SPLIT_TEXT[split]})"
    test_metrics["interval_method"] = result.metrics.get("interval_method")
    manifest = read_manifest(result.artifact_dir)
    manifest["validation_metrics"] = manifest["metrics"]
    manifest["metrics"] = test_metrics
    manifest["test_set"] = {
        "windows": [e.window.id for e in test],
        "patients": sorted({e.group for e in test}),
        "split": SPLIT_TEXT[split],
    }
    manifest["labeling"] = labeling.counts()
    if label_check:
        manifest["label_validation"] = label_check
    if "item9_flag" in test_metrics and "item9_flag" in manifest:
        manifest["item9_flag"]["test"] = test_metrics["item9_flag"]
    write_manifest(result.artifact_dir, manifest)
    result.manifest = manifest
    result.metrics = test_metrics
    _log(
        log_line,
        f"held-out test: n={test_metrics['n']} MAE {test_metrics['mae']:.2f} "
        f"RMSE {test_metrics['rmse']:.2f} AUC@10 {test_metrics.get('auc_at_10')}",
    )
    report("done", 1.0)
    return LoopResult(
        train=result,
        test_metrics=test_metrics,
        test_window_ids=[e.window.id for e in test],
        test_groups=sorted({e.group for e in test}),
        test_points=points,
        labeling=labeling.counts(),
        label_validation=label_check,
        pseudo_windows=len(pseudo),
        label_hashes=dict(labeling.window_hashes),
    )


@dataclass(frozen=True)
class PairedPoints:
    """Both models' predicted totals on the same held-out windows, with each window's patient."""

    truth: list[float]
    candidate: list[float]
    active: list[float]
    groups: list[str]


def _mae_of(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.abs(predicted - truth).mean())


def _auc10_of(truth: np.ndarray, predicted: np.ndarray) -> float | None:
    return auc(truth >= CASENESS, predicted)


def promotion_decision(
    candidate: dict,
    active: dict | None,
    *,
    max_mae_increase: float = 0.0,
    max_auc_drop: float = 0.0,
    paired: PairedPoints | None = None,
    rounds: int = 1000,
    against: str = "active",
) -> tuple[bool, str]:
    """Should the candidate replace the active model? Both are scored on the same held-out test
    patients, whom neither trained on (the split is fixed by patient, see held_out_test_split).

    With `paired` points: keep the candidate only when it is worse beyond the noise, i.e. when the
    95% patient-level paired bootstrap interval of its MAE minus the active's lies wholly above
    `max_mae_increase`, or that of its AUC@10 minus the active's wholly below -`max_auc_drop`.
    Without them: the candidate's MAE and AUC@10 must not be worse (each within its tolerance).
    `against` names the model compared with in the decision text (the cold-start gate: "LLM rater")."""
    if active is None:
        return True, "no active model: the candidate is promoted"
    if paired is not None:
        truth = np.asarray(paired.truth, dtype=float)
        samples = bootstrap_samples(paired.groups, len(truth), rounds=rounds, seed=0)
        mae = paired_difference(
            _mae_of, truth, np.asarray(paired.candidate), np.asarray(paired.active), samples=samples
        )
        auc10 = paired_difference(
            _auc10_of, truth, np.asarray(paired.candidate), np.asarray(paired.active), samples=samples
        )
        worse_mae = mae["ci"] is not None and mae["ci"][0] > max_mae_increase
        worse_auc = auc10["ci"] is not None and auc10["ci"][1] < -max_auc_drop
        detail = (
            f"MAE {candidate['mae']:.3f} vs {against} {active['mae']:.3f} (difference {_signed(mae)}); "
            f"AUC@10 {_rounded(candidate.get('auc_at_10'))} vs {against} {_rounded(active.get('auc_at_10'))} "
            f"(difference {_signed(auc10)}); 95% intervals over {len(set(paired.groups))} held-out patients "
            f"resampled; kept only if worse beyond that noise (MAE by > {max_mae_increase:g}, AUC@10 by > "
            f"{max_auc_drop:g})"
        )
        if worse_mae or worse_auc:
            return False, f"kept as candidate: {detail}"
        return True, f"promoted: {detail}"
    mae_ok = candidate["mae"] <= active["mae"] + max_mae_increase
    c_auc, a_auc = candidate.get("auc_at_10"), active.get("auc_at_10")
    auc_ok = c_auc is None or a_auc is None or c_auc >= a_auc - max_auc_drop
    detail = (
        f"MAE {candidate['mae']:.3f} vs {against} {active['mae']:.3f}; "
        f"AUC@10 {_rounded(c_auc)} vs {against} {_rounded(a_auc)}"
    )
    if mae_ok and auc_ok:
        return True, f"promoted: {detail}"
    return False, f"kept as candidate: {detail}"


def _rounded(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _signed(difference: dict) -> str:
    value, ci = difference["value"], difference["ci"]
    if value is None:
        return "n/a"
    return f"{value:+.3f}" + ("" if ci is None else f", 95% CI {ci[0]:+.3f} to {ci[1]:+.3f}")


def remove_artifact(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
