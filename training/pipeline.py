"""The learning loop of the reference study, as a product feature (no Django here).

1. Split ground truth by patient (training/splits.py): development patients and a held-out test set.
2. Stage 1: Claude pseudo-labels for unlabeled windows (consenting patients, redacted text), once Claude
   is validated against development questionnaires (training/labelling/); without a labeller, an
   intermediate model trained on ground truth labels them itself.
3. Stage 2: K rounds of re-labelling: an intermediate model on ground truth + current labels re-scores
   the pseudo-labelled windows, blended with the previous label (`relabel_blend`: the model's share).
4. The ensemble: members on ground truth only and on ground truth + re-labelled windows, alternating,
   calibrated on development validation patients.
5. Evaluation on the held-out test patients (training/evaluation.py), written into the manifest;
   `promotion_decision` (training/promotion.py) compares it with the active model.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scoring.artifact import read_manifest, write_manifest
from scoring.backbone import Backbone, load_backbone
from scoring.ensemble import Ensemble, WindowScore, pick_device
from scoring.types import LabeledWindow, Window
from training.args import LoopConfig, TrainArgs
from training.end_to_end import base_dtype
from training.evaluation import evaluate
from training.finetune import MemberSet, TrainResult, train_ensemble
from training.labelling.claude import ClaudeLabeler, LabelingReport
from training.labelling.crossfit import cross_fitted_items, relabelled
from training.labelling.prompt import LabelRequest
from training.labelling.validation import apply_total_map, validate_labeller
from training.splits import FIXED_HOLDOUT, SPLIT_TEXT, Holdout, held_out_test_split, split_kind

log = logging.getLogger(__name__)
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Unlabeled:
    window: Window
    group: str  # patient
    consent_external: bool
    names: tuple[str, ...] = ()
    # A clinician's verdict on the deployed model's score of this window: "agree", "disagree" or "". A
    # disagreed window is never labelled by the model itself (it would learn its own mistake; Claude may).
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


def _log(sink: Callable[[str], None] | None, message: str) -> None:
    log.info(message)
    if sink:
        sink(message)


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
    holdout: Holdout = FIXED_HOLDOUT,
) -> LoopResult:
    """The loop, one stage after another (see the module's docstring). `progress` gets (stage, fraction
    done); `log_line` each line of the log; `holdout` how a patient split draws its test patients."""
    report = progress or (lambda stage, fraction: None)
    split = split_kind(ground_truth, config.split)
    dev, test = _development_and_test(ground_truth, config, split, holdout)
    unlabeled = _without_test_patients(unlabeled, test, log_line)
    _log(
        log_line,
        f"ground truth: {len(dev)} development windows, {len(test)} held-out test windows "
        f"({len({e.group for e in test})} patients); {len(unlabeled)} unlabeled windows",
    )
    backbone = backbone or load_backbone(
        config.train.backbone, dtype=base_dtype(config.train, pick_device(config.train.device))
    )
    vectors: dict = {}  # chunk vectors of the frozen backbone, shared by every training below
    with tempfile.TemporaryDirectory(prefix="phq9-intermediate-") as scratch:
        intermediate = _intermediate_models(dev, config, backbone, Path(scratch), vectors)
        report("pseudo-label", 0.0)
        labelled = _stage1(dev, unlabeled, config, labeler, intermediate, report, log_line)
        pseudo = _stage2(labelled.pseudo, config, intermediate, report, log_line)
    report("train", 0.0)
    result = _final_ensemble(dev, pseudo, len(test), config, store_dir, backbone, vectors, report)
    for skipped in result.manifest.get("skipped_members", []):
        _log(
            log_line,
            f"{skipped['name']} member skipped, the ensemble is trained without it: {skipped['reason']}",
        )
    report("evaluate", 0.0)
    # Every patient whose text this version trained on (labelled or pseudo-labelled): a later run compares
    # it with its successor only on patients neither trained on (training/promotion.fresh_test_windows).
    trained = sorted({e.patient for e in dev} | {e.group for e in pseudo})
    points = _test_evaluation(result, test, split, labelled, backbone, log_line, trained)
    report("done", 1.0)
    return LoopResult(
        train=result,
        test_metrics=result.metrics,
        test_window_ids=[e.window.id for e in test],
        test_groups=sorted({e.group for e in test}),
        test_points=points,
        labeling=labelled.labeling.counts(),
        label_validation=labelled.label_check,
        pseudo_windows=len(pseudo),
        label_hashes=dict(labelled.labeling.window_hashes),
    )


def _development_and_test(
    ground_truth: list[LabeledWindow], config: LoopConfig, split: str, holdout: Holdout
) -> tuple[list[LabeledWindow], list[LabeledWindow]]:
    dev_idx, test_idx = held_out_test_split(
        ground_truth, fraction=config.test_fraction, kind=split, rotation=holdout.rotation, seen=holdout.seen
    )
    if not test_idx or len({ground_truth[i].group for i in dev_idx}) < 2:
        raise ValueError("need ground truth from at least 3 patients (development and held-out test)")
    return [ground_truth[i] for i in dev_idx], [ground_truth[i] for i in test_idx]


def _without_test_patients(
    unlabeled: list[Unlabeled], test: list[LabeledWindow], log_line: Callable[[str], None] | None
) -> list[Unlabeled]:
    """A held-out test patient's text never reaches training, labelled or not: their unlabeled windows
    are dropped before any labelling (the time cut is of questionnaire windows: recent text stays)."""
    test_groups = {e.patient for e in test}
    kept = [u for u in unlabeled if u.group not in test_groups]
    if dropped := len(unlabeled) - len(kept):
        _log(log_line, f"{dropped} unlabeled windows of held-out test patients left out")
    return kept


Intermediate = Callable[[list[LabeledWindow]], "_OneShot"]


def _intermediate_models(
    dev: list[LabeledWindow], config: LoopConfig, backbone: Backbone, scratch_dir: Path, vectors: dict
) -> Intermediate:
    """What trains the loop's intermediate models: one member on development ground truth plus `extra`
    windows, written to `scratch_dir`, scoring on the run's one backbone."""
    args = TrainArgs(
        **{**config.train.__dict__, "members": 1, "epochs": config.intermediate_epochs or config.train.epochs}
    )

    def intermediate(extra: list[LabeledWindow]) -> _OneShot:
        result = train_ensemble(
            dev,
            args,
            scratch_dir,
            backbone=backbone,
            member_sets=[MemberSet("intermediate", tuple(extra))],
            vector_cache=vectors,
        )
        # The run's one backbone scores with it too, and gets it back once it has (_OneShot).
        return _OneShot(Ensemble.load(result.artifact_dir, backbone=backbone))

    return intermediate


@dataclass
class _Labelled:
    """What stage 1 gives: the pseudo-labelled windows, what labelling them cost, and Claude's validation
    against the questionnaires (empty without Claude)."""

    pseudo: list[LabeledWindow] = field(default_factory=list)
    labeling: LabelingReport = field(default_factory=LabelingReport)
    label_check: dict = field(default_factory=dict)


def _stage1(
    dev: list[LabeledWindow],
    unlabeled: list[Unlabeled],
    config: LoopConfig,
    labeler: ClaudeLabeler | None,
    intermediate: Intermediate,
    report: Progress,
    log_line: Callable[[str], None] | None,
) -> _Labelled:
    """Stage 1: pseudo-labels from Claude; without a labeller, the model's own when TRAINING_SELF_LABELS
    allows them; otherwise none."""
    if not unlabeled:
        _log(log_line, "no unlabeled windows: the ensemble is trained on ground truth only")
        return _Labelled()
    if labeler is not None:
        return _claude_labels(labeler, dev, unlabeled, config, report, log_line)
    if not config.self_labels:
        _log(
            log_line,
            "stage 1 skipped: no Anthropic API key configured; trained on questionnaires only "
            "(the model's own labels stay off unless TRAINING_SELF_LABELS is set)",
        )
        return _Labelled()
    _log(
        log_line,
        "stage 1 skipped: no Anthropic API key configured; the loop uses the model's own "
        "pseudo-labels instead (TRAINING_SELF_LABELS)",
    )
    return _Labelled(pseudo=_self_labels(unlabeled, config, intermediate, log_line))


def _claude_labels(
    labeler: ClaudeLabeler,
    dev: list[LabeledWindow],
    unlabeled: list[Unlabeled],
    config: LoopConfig,
    report: Progress,
    log_line: Callable[[str], None] | None,
) -> _Labelled:
    """Claude, validated on development questionnaires first, labels the unlabeled windows."""
    label_check, total_map, trusted, validating = validate_labeller(
        labeler, dev, config, say=lambda line: _log(log_line, line)
    )
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
    return _Labelled(pseudo=pseudo, labeling=labeling, label_check=label_check)


def _self_labels(
    unlabeled: list[Unlabeled],
    config: LoopConfig,
    intermediate: Intermediate,
    log_line: Callable[[str], None] | None,
) -> list[LabeledWindow]:
    """The model's own labels: an intermediate model trained on ground truth scores the unlabeled
    windows, except those a clinician disagreed with."""
    disputed = [u for u in unlabeled if u.review == "disagree"]
    if disputed:
        _log(log_line, f"{len(disputed)} windows a clinician disagreed with are left out of self-labels")
    unlabeled = [u for u in unlabeled if u.review != "disagree"]
    model = intermediate([]) if unlabeled else None
    scores = model.predict([u.window for u in unlabeled]) if model else []
    return [
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


def _stage2(
    pseudo: list[LabeledWindow],
    config: LoopConfig,
    intermediate: Intermediate,
    report: Progress,
    log_line: Callable[[str], None] | None,
) -> list[LabeledWindow]:
    """Stage 2: `relabel_rounds` rounds of re-labelling the pseudo-labelled windows."""
    for round_ in range(1, config.relabel_rounds + 1 if pseudo else 1):
        report("re-label", (round_ - 1) / config.relabel_rounds)
        # Out of fold: each window re-scored by a model that never trained on it (labelling/crossfit.py).
        relabels = cross_fitted_items(pseudo, folds=config.relabel_folds, fit=intermediate)
        before = sum(e.total for e in pseudo) / len(pseudo)
        pseudo = relabelled(pseudo, relabels, blend=config.relabel_blend, round_=round_)
        _log(
            log_line,
            f"stage 2 round {round_}: re-labelled {len(pseudo)} windows "
            f"(mean total {before:.2f} -> {sum(e.total for e in pseudo) / len(pseudo):.2f})",
        )
    return pseudo


def _final_ensemble(
    dev: list[LabeledWindow],
    pseudo: list[LabeledWindow],
    n_test: int,
    config: LoopConfig,
    store_dir: Path,
    backbone: Backbone,
    vectors: dict,
    report: Progress,
) -> TrainResult:
    """The ensemble: members on ground truth alternate with members on ground truth + re-labelled
    windows (ground truth only without pseudo-labels)."""
    sets = (
        [MemberSet("ground_truth"), MemberSet("ground_truth+relabelled", tuple(pseudo))]
        if pseudo
        else [MemberSet("ground_truth")]
    )
    n_members = max(config.train.members, len(sets))
    return train_ensemble(
        dev,
        config.train,
        store_dir,
        backbone=backbone,
        member_sets=[sets[m % len(sets)] for m in range(n_members)],
        progress=report,
        vector_cache=vectors,
        data_summary={"pseudo_labelled_windows": len(pseudo), "test_windows": n_test},
    )


def _test_evaluation(
    result: TrainResult,
    test: list[LabeledWindow],
    split: str,
    labelled: _Labelled,
    backbone: Backbone,
    log_line: Callable[[str], None] | None,
    trained: list[str],
) -> list[tuple[str, float, float]]:
    """Evaluation on the held-out test patients, recorded in the artifact's manifest (which keeps the
    calibration patients' metrics as `validation_metrics`, and the `trained` patients) and in `result`."""
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
    manifest["trained_patients"] = trained
    manifest["labeling"] = labelled.labeling.counts()
    if labelled.label_check:
        manifest["label_validation"] = labelled.label_check
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
    return points
