"""Writes for the model registry (register an artifact, promote it, train one from ground truth) and
training runs (request one, execute it on a gpu worker)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.modelops.models import ModelVersion, PseudoLabel, TrainingRun
from monitor_site.modelops.selectors import model_version_active, model_version_dir
from monitor_site.modelops.signals import model_version_promoted, training_run_requested
from monitor_site.patients.models import CareTeam, Patient
from monitor_site.patients.selectors import (
    labeled_windows_from_assessments,
    unlabeled_window_requests,
    windows_for,
)
from monitor_site.predictions.selectors import reviewed_window_requests
from scoring.artifact import ArtifactError, read_manifest, set_active_pointer
from scoring.cli_args import dataclass_from_settings
from training.args import LoopConfig, TrainArgs
from training.finetune import Progress, TrainResult
from training.labelling.batches import BatchingLabeler, LabelsPending
from training.labelling.claude import (
    PROMPT_VERSION,
    ClaudeLabel,
    ClaudeLabeler,
    LabelerConfig,
    LabelRequest,
    anthropic_client,
    label_from_row,
)
from training.labelling.rater import (
    LlmRater,
    RaterValidation,
    first_model_gate,
    rater_version,
    validate_rater,
)
from training.labelling.validation import ValidationPair
from training.pipeline import (
    PairedPoints,
    Unlabeled,
    evaluate,
    promotion_decision,
    remove_artifact,
    run_learning_loop,
)

log = logging.getLogger(__name__)


def model_version_register(*, artifact_dir: Path) -> ModelVersion:
    """Record an artifact that lies in MODEL_STORE_DIR as a candidate (idempotent by version)."""
    store = Path(settings.MODEL_STORE_DIR).resolve()
    artifact_dir = artifact_dir.resolve()
    if artifact_dir.parent != store:
        raise ArtifactError(f"{artifact_dir} is not inside MODEL_STORE_DIR ({store}); move it there first")
    manifest = read_manifest(artifact_dir)
    if manifest["version"] != artifact_dir.name:
        raise ArtifactError(
            f"{artifact_dir}: directory name differs from manifest version {manifest['version']}"
        )
    model_version, _ = ModelVersion.objects.get_or_create(
        version=artifact_dir.name,
        defaults={
            "backbone": manifest["backbone"]["id"],
            "members": len(manifest["members"]),
            "manifest": manifest,
            "metrics": manifest.get("metrics", {}),
        },
    )
    return model_version


def model_version_promote(
    *, model_version: ModelVersion, actor: Any = None, reason: str = ""
) -> ModelVersion:
    """Make this version the active one; the previous one retires. Pending sessions get scored.
    Audited: a version that was active before is a roll-back, otherwise a promotion. The LLM rater of a
    cold start is not a trained model and is never promoted (ValueError)."""
    if model_version.status == ModelVersion.Status.RATER:
        raise ValueError(f"{model_version.version} is the cold-start LLM rater, not a trained model")
    with transaction.atomic():
        previous = list(
            ModelVersion.objects.select_for_update()
            .filter(status=ModelVersion.Status.ACTIVE)
            .exclude(pk=model_version.pk)
            .values_list("version", flat=True)
        )
        ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exclude(pk=model_version.pk).update(
            status=ModelVersion.Status.RETIRED
        )
        rollback = model_version.promoted_at is not None
        audit_record(
            actor=actor,
            action=AuditEvent.Action.MODEL_ROLLBACK if rollback else AuditEvent.Action.MODEL_PROMOTE,
            obj=model_version,
            detail={"version": model_version.version, "previous": previous, "reason": reason},
        )
        model_version.status = ModelVersion.Status.ACTIVE
        model_version.promoted_at = timezone.now()
        model_version.save(update_fields=["status", "promoted_at"])
        # The pointer lets `python -m scoring predict --model active` work without Django.
        transaction.on_commit(
            lambda: set_active_pointer(Path(settings.MODEL_STORE_DIR), model_version.version)
        )
        model_version_promoted.send(sender=ModelVersion, model_version=model_version)
    log.info("model %s promoted to active", model_version.version)
    return model_version


def model_train_from_ground_truth(
    *, args: TrainArgs, promote: bool, progress: Progress | None = None
) -> tuple[ModelVersion, TrainResult]:
    """Train on the stored questionnaires only (the starter model), register it, optionally promote.

    The same loop as a training run, without pseudo-labels: the same held-out test patients are kept
    out of training, so later runs compare against this version fairly.
    """
    examples = labeled_windows_from_assessments()
    if len(examples) < 2:
        raise ValueError(
            f"only {len(examples)} questionnaire(s) with messages in their 14-day window; "
            "ingest ground truth (POST /api/v1/assessments) or run `manage.py seed_demo` first"
        )
    config = LoopConfig(
        train=args,
        test_fraction=settings.TRAINING_TEST_FRACTION,
        split=settings.TRAINING_SPLIT,
        relabel_rounds=0,
    )
    result = run_learning_loop(examples, [], config, Path(settings.MODEL_STORE_DIR), progress=progress).train
    model_version = model_version_register(artifact_dir=result.artifact_dir)
    if promote:
        model_version_promote(model_version=model_version)
    return model_version, result


# Services for training runs: request one (admin, schedule), execute it (on a gpu worker).
#
# One run at a time (a unique index). The run gathers ground truth and unlabeled windows, drives the
# learning loop in training/pipeline.py, registers the new ModelVersion and promotes it only if it is
# not worse than the active version on the same held-out windows. A failed run leaves the active model
# untouched. Logs and counts never contain conversation text.

log = logging.getLogger(__name__)
# Share of the progress bar each stage of the loop covers.
STAGES = {
    "pseudo-label": (0.0, 0.35),
    "re-label": (0.35, 0.55),
    "embed": (0.55, 0.6),
    "train": (0.6, 0.9),
    "evaluate": (0.9, 0.97),
    "done": (0.97, 0.97),
}


class TrainingAlreadyRunning(Exception):
    def __init__(self, run: TrainingRun | None) -> None:
        super().__init__(
            f"training run #{run.pk if run else '?'} is already {run.status if run else 'active'}"
        )
        self.run = run


class DatabaseLabelCache:
    """Pseudo-labels live in PseudoLabel rows: a crashed or repeated run never pays twice. `source` says
    what bought a new label (training labels, cold-start ratings, the rater's validation)."""

    def __init__(self, source: str = "claude") -> None:
        self.source = source

    def get(self, window_hash: str, model: str) -> ClaudeLabel | None:
        row = (
            PseudoLabel.objects.filter(window_hash=window_hash, model=model)
            .values(
                "items",
                "evidence",
                "confidence",
                "model",
                "input_tokens",
                "output_tokens",
                "usable",
                "invalid_quotes",
            )
            .first()
        )
        return label_from_row(row) if row is not None else None

    def put(self, window_hash: str, label: ClaudeLabel) -> None:
        PseudoLabel.objects.get_or_create(
            window_hash=window_hash,
            model=label.model,
            defaults={
                "items": list(label.items),
                "evidence": list(label.evidence),
                "confidence": label.confidence,
                "input_tokens": label.input_tokens,
                "output_tokens": label.output_tokens,
                "usable": list(label.usable),
                "invalid_quotes": label.invalid_quotes,
                "source": self.source,
            },
        )


def training_run_request(*, user: Any = None, trigger: str = "admin") -> TrainingRun:
    """Queue a run on the gpu queue; TrainingAlreadyRunning if one is queued or running."""
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                requested_by=user if user and user.is_authenticated else None,
                trigger=trigger,
                config=_loop_config_dict(),
            )
            training_run_requested.send(sender=TrainingRun, run=run)
            audit_record(
                actor=user, action=AuditEvent.Action.TRAINING_START, obj=run, detail={"trigger": trigger}
            )
    except IntegrityError as exc:
        raise TrainingAlreadyRunning(TrainingRun.objects.filter(active_slot=True).first()) from exc
    return run


def _loop_config() -> LoopConfig:
    """TRAINING_<FIELD> settings fill the TrainArgs and LoopConfig fields of the same name."""
    train = dataclass_from_settings(TrainArgs, settings, prefix="TRAINING_")
    return dataclass_from_settings(LoopConfig, settings, prefix="TRAINING_", train=train)


def _loop_config_dict() -> dict:
    config = asdict(_loop_config())
    config["pseudo_label_model"] = settings.PSEUDO_LABEL_MODEL if settings.ANTHROPIC_API_KEY else None
    config["token_budget"] = settings.PSEUDO_LABEL_TOKEN_BUDGET
    return config


def _anthropic_client() -> Any:
    return anthropic_client(
        api_key=settings.ANTHROPIC_API_KEY,
        base_url=settings.ANTHROPIC_BASE_URL,
        timeout=settings.ANTHROPIC_TIMEOUT,
    )


def _labeler(run: TrainingRun | None = None) -> ClaudeLabeler | None:
    """Claude as labeller, or None without a key. With PSEUDO_LABEL_BATCH_MIN_WINDOWS, a pass that needs
    at least that many new labels goes through a Message Batch (half price): the run waits for it
    without holding a worker (`label_batches_poll` re-queues it) and keeps its id to resume."""
    if not settings.ANTHROPIC_API_KEY:
        return None
    config = dataclass_from_settings(LabelerConfig, settings, prefix="PSEUDO_LABEL_")
    if not settings.PSEUDO_LABEL_BATCH_MIN_WINDOWS or run is None:
        return ClaudeLabeler(_anthropic_client(), config, DatabaseLabelCache())

    def keep(batch_id: str) -> None:
        TrainingRun.objects.filter(pk=run.pk).update(label_batch_id=batch_id)

    return BatchingLabeler(
        _anthropic_client(),
        config,
        DatabaseLabelCache(),
        min_windows=settings.PSEUDO_LABEL_BATCH_MIN_WINDOWS,
        batch_id=run.label_batch_id,
        on_batch=keep,
    )


# Cold start: the Claude labeller as the scorer of consented patients in care teams that chose it, until a
# trained model is promoted (training/labelling/rater.py). Its registry row (status "rater") names the method:
# model, prompt version, samples and thinking budget; its metrics hold its validation against this
# clinic's questionnaires.

LLM_SCORING_SOURCE = "llm-scoring"  # PseudoLabel.source of ratings bought to score sessions
LLM_VALIDATION_SOURCE = "llm-validation"


def llm_scoring_in_use() -> bool:
    """Whether some care team scores with the LLM rater and a key lets it (no trained model assumed)."""
    return bool(settings.ANTHROPIC_API_KEY) and CareTeam.objects.filter(llm_scoring=True).exists()


def llm_rater(*, source: str, token_budget: int | None = None) -> tuple[ModelVersion, LlmRater] | None:
    """The rater for the current labeller settings and its registry row (created on first use), or None
    without an Anthropic key. New ratings are stored as PseudoLabels of `source` (never paid twice)."""
    if not settings.ANTHROPIC_API_KEY:
        return None
    config = dataclass_from_settings(LabelerConfig, settings, prefix="PSEUDO_LABEL_")
    if token_budget is not None:
        config.token_budget = max(0, token_budget)
    row, _ = ModelVersion.objects.get_or_create(
        version=rater_version(config.variant),
        defaults={
            "status": ModelVersion.Status.RATER,
            "backbone": config.model,
            "members": 1,
            "manifest": {
                "kind": "llm_rater",
                "model": config.model,
                "prompt_version": PROMPT_VERSION,
                "samples": config.samples,
                "thinking_budget": config.thinking_budget,
            },
        },
    )
    labeler = ClaudeLabeler(_anthropic_client(), config, DatabaseLabelCache(source))
    return row, LlmRater(labeler, row.version, RaterValidation.from_dict(row.metrics.get("validation")))


def llm_rater_paused(row: ModelVersion) -> str:
    """Why the rater may not score (its validated MAE is above TRAINING_LABEL_MAX_MAE), or ""."""
    mae = row.metrics.get("mae")
    if row.metrics.get("validated") and mae is not None and mae > settings.TRAINING_LABEL_MAX_MAE:
        return (
            f"its MAE against this clinic's questionnaires is {mae:.2f}, above TRAINING_LABEL_MAX_MAE "
            f"({settings.TRAINING_LABEL_MAX_MAE:g}): LLM scoring is paused"
        )
    return ""


def llm_rater_validate() -> ModelVersion | None:
    """Rate the consented questionnaire windows (the most recent LLM_SCORING_VALIDATION_WINDOWS; labels
    already bought are reused) and store the rater's validation on its registry row. None when no team
    uses LLM scoring or there is no key."""
    if not llm_scoring_in_use():
        return None
    rater = llm_rater(source=LLM_VALIDATION_SOURCE)
    assert rater is not None
    row, llm = rater
    examples = [e for e in labeled_windows_from_assessments() if e.meta.get("consent_external")]
    examples = sorted(examples, key=lambda e: e.window.end or timezone.now(), reverse=True)
    examples = examples[: settings.LLM_SCORING_VALIDATION_WINDOWS]
    labels = llm.labels([LabelRequest(e.window, True, tuple(e.meta.get("names", ()))) for e in examples])
    pairs = [
        ValidationPair(labels.labels[e.window.id], e.total, e.items, e.group)
        for e in examples
        if e.window.id in labels.labels
    ]
    validation = validate_rater(pairs, min_pairs=settings.LLM_SCORING_MIN_VALIDATION_PAIRS)
    report = validation.report
    row.metrics = {
        "validated": validation.validated,
        "mae": report.get("mae"),
        "pearson_r": report.get("pearson_r"),
        "pairs": report.get("with_total", 0),
        "patients": len({p.group for p in pairs}),
        "validation": validation.to_dict(),
        "tokens": labels.input_tokens + labels.output_tokens,
    }
    row.save(update_fields=["metrics"])
    log.info(
        "LLM rater %s validated on %d questionnaire window(s) of %d patient(s): MAE %s, %s",
        row.version,
        row.metrics["pairs"],
        row.metrics["patients"],
        report.get("mae", "-"),
        "interval from now on" if validation.validated else "too few pairs for an interval",
    )
    return row


def _first_model_gate(result: Any, ground_truth: list, recorder: _RunRecorder) -> tuple[bool, str]:
    """The first trained model replaces the LLM rater only with questionnaires from enough patients and
    test metrics at least as good as the rater's on the same held-out windows (rated now; labels bought
    before are reused)."""
    test_ids = set(result.test_window_ids)
    test = [e for e in ground_truth if e.window.id in test_ids]
    rater = llm_rater(source=LLM_VALIDATION_SOURCE)
    rated: dict[str, float] = {}
    if rater is not None:
        consented = [e for e in test if e.meta.get("consent_external")]
        recorder.line(
            f"first model: the LLM rater rates the {len(consented)} consented held-out test window(s)"
        )
        ratings = rater[1].rate(
            [LabelRequest(e.window, True, tuple(e.meta.get("names", ()))) for e in consented]
        )
        rated = {e.window.id: r.score.total for e, r in zip(consented, ratings, strict=True) if r.score}
    return first_model_gate(
        questionnaire_patients=len({e.group or e.window.id for e in ground_truth}),
        min_patients=settings.COLD_START_FIRST_MODEL_MIN_PATIENTS,
        test=test,
        candidate={i: p for i, _, p in result.test_points},
        rater=rated,
    )


def label_batches_poll() -> int:
    """Re-queue every run whose labelling batch has ended (it then collects the labels and goes on).
    Returns the runs re-queued. Runs on the default queue: a batch can take hours and must never hold
    the gpu worker that scores sessions."""
    requeued = 0
    for run in TrainingRun.objects.filter(status=TrainingRun.Status.WAITING).exclude(label_batch_id=""):
        if not settings.ANTHROPIC_API_KEY:
            break
        batch = _anthropic_client().messages.batches.retrieve(run.label_batch_id)
        if batch.processing_status != "ended":
            continue
        with transaction.atomic():
            TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.WAITING).update(
                status=TrainingRun.Status.QUEUED
            )
            run.refresh_from_db()
            training_run_requested.send(sender=TrainingRun, run=run)
        requeued += 1
    return requeued


class _RunRecorder:
    """Progress, stage and log lines of a run, written to its row at most once a second."""

    def __init__(self, run: TrainingRun) -> None:
        self.run = run
        self.lines: list[str] = run.log.splitlines()  # a resumed run goes on with its log
        self.last_flush = 0.0

    def line(self, message: str) -> None:
        self.lines.append(f"{timezone.now():%H:%M:%S} {message}")
        self.flush(force=True)

    def progress(self, stage: str, fraction: float) -> None:
        lo, hi = STAGES.get(stage, (self.run.progress, self.run.progress))
        self.run.stage = stage
        self.run.progress = round(lo + (hi - lo) * min(max(fraction, 0.0), 1.0), 4)
        self.flush()

    def flush(self, *, force: bool = False) -> None:
        if force or time.monotonic() - self.last_flush > 1.0:
            self.run.log = "\n".join(self.lines)
            TrainingRun.objects.filter(pk=self.run.pk).update(
                stage=self.run.stage, progress=self.run.progress, log=self.run.log
            )
            self.last_flush = time.monotonic()


def training_run_execute(*, run_id: int) -> TrainingRun:
    run = TrainingRun.objects.get(pk=run_id)
    if run.status != TrainingRun.Status.QUEUED:
        log.info("training run %s is %s; nothing to do", run.pk, run.status)
        return run
    run.status, run.started_at = TrainingRun.Status.RUNNING, timezone.now()
    run.save(update_fields=["status", "started_at"])
    recorder = _RunRecorder(run)
    artifact: Path | None = None
    try:
        artifact = _execute(run, recorder)
        run.status = TrainingRun.Status.SUCCEEDED
        run.progress = 1.0
    except LabelsPending as pending:
        # Half-price labels take a while: the run keeps its slot and waits, holding no worker.
        recorder.line(
            f"waiting for Claude labelling batch {pending.batch_id} (Message Batches API, half price); "
            "label_batches_poll re-queues the run when it has ended"
        )
        run.refresh_from_db(fields=["label_batch_id"])
        run.status = TrainingRun.Status.WAITING
        run.log = "\n".join(recorder.lines)
        run.save(update_fields=["status", "log", "stage", "progress"])
        return run
    except Exception as exc:  # the run fails, the service goes on; the active model is untouched
        log.exception("training run %s failed", run.pk)
        recorder.line(f"FAILED: {type(exc).__name__}: {exc}")
        recorder.line("the active model is unchanged")
        run.status = TrainingRun.Status.FAILED
        if artifact is not None and run.model_version_id is None:
            remove_artifact(artifact)
    run.finished_at = timezone.now()
    run.active_slot = None
    run.log = "\n".join(recorder.lines)
    run.save()
    return run


def _execute(run: TrainingRun, recorder: _RunRecorder) -> Path:
    config = _loop_config()
    ground_truth = labeled_windows_from_assessments()
    since = timezone.now() - timedelta(days=settings.TRAINING_UNLABELED_DAYS)
    # Windows clinicians reviewed (agree/disagree on a prediction) always join the pool.
    reviewed = reviewed_window_requests(since=since)
    review_of = {(p, end): verdict for p, end, _, verdict in reviewed}
    requests = [(p, end, consent) for p, end, consent, _ in reviewed] + [
        r
        for r in unlabeled_window_requests(since=since, limit=settings.TRAINING_MAX_UNLABELED)
        if (r[0], r[1]) not in review_of
    ]
    windows = windows_for([(p, end, f"unlabeled-{p}-{end:%Y%m%d%H%M%S}") for p, end, _ in requests])
    # What the app stores about each patient (their source's pseudonymous id) is removed from any text
    # sent out, wherever it appears, beside what redaction finds by itself.
    known = dict(Patient.objects.filter(pk__in={p for p, _, _ in requests}).values_list("pk", "external_id"))
    unlabeled = [
        Unlabeled(
            w,
            group=f"patient-{p}",
            consent_external=consent,
            names=(known[p],) if p in known else (),
            review=review_of.get((p, end), ""),
        )
        for (p, end, consent), w in zip(requests, windows, strict=True)
        if w.conversations
    ]
    labeler = _labeler(run)
    if labeler is None:
        recorder.line("no ANTHROPIC_API_KEY: Claude pseudo-labelling (stage 1) is skipped")
    result = run_learning_loop(
        ground_truth,
        unlabeled,
        config,
        Path(settings.MODEL_STORE_DIR),
        labeler=labeler,
        progress=recorder.progress,
        log_line=recorder.line,
    )
    # Unlabeled windows and the questionnaire windows that validated the labeller: both were sent.
    owners = {u.window.id: int(u.group.removeprefix("patient-")) for u in unlabeled} | {
        e.window.id: int(e.group.removeprefix("patient-")) for e in ground_truth
    }
    for window_id, digest in result.label_hashes.items():
        if window_id in owners:
            PseudoLabel.objects.filter(window_hash=digest, patient__isnull=True).update(
                patient_id=owners[window_id]
            )
    artifact = result.train.artifact_dir
    model_version = model_version_register(artifact_dir=artifact)
    run.model_version = model_version
    test = [e for e in ground_truth if e.window.id in set(result.test_window_ids)]
    active = model_version_active()
    active_metrics = None
    paired = None
    if active is not None:
        recorder.line(f"evaluating the active model {active.version} on the same held-out windows")
        active_metrics, active_points = evaluate(model_version_dir(active), test)
        # result.test_points and active_points follow the order of `test` (the loop's held-out windows)
        candidate_points = {i: p for i, _, p in result.test_points}
        groups = {e.window.id: e.group or e.window.id for e in test}
        paired = PairedPoints(
            truth=[t for _, t, _ in active_points],
            candidate=[candidate_points[i] for i, _, _ in active_points],
            active=[p for _, _, p in active_points],
            groups=[groups[i] for i, _, _ in active_points],
        )
    if active is None and llm_scoring_in_use():
        promote, decision = _first_model_gate(result, ground_truth, recorder)
    else:
        promote, decision = promotion_decision(
            result.test_metrics,
            active_metrics,
            max_mae_increase=settings.PROMOTION_MAX_MAE_INCREASE,
            max_auc_drop=settings.PROMOTION_MAX_AUC_DROP,
            paired=paired,
        )
    run.decision = decision
    run.counts = {
        "ground_truth_windows": len(ground_truth),
        "unlabeled_windows": len(unlabeled),
        "clinician_agreed_windows": sum(u.review == "agree" for u in unlabeled),
        "clinician_disagreed_windows": sum(u.review == "disagree" for u in unlabeled),
        "pseudo_labelled_windows": result.pseudo_windows,
        **result.labeling,
    }
    run.report = {
        "test": result.test_metrics,
        "active_test": active_metrics,
        "active_version": active.version if active else None,
        "points": [{"id": i, "true": t, "pred": round(p, 3)} for i, t, p in result.test_points],
        "members": [
            {"name": m["name"], "mode": m["mode"], "trained_on": m.get("trained_on", "")}
            for m in result.train.manifest["members"]
        ],
        "blend": result.train.manifest.get("blend", {}),
        "label_validation": result.label_validation,
    }
    recorder.line(decision)
    if promote:
        model_version_promote(model_version=model_version, reason=f"training run {run.pk}")
    return artifact
