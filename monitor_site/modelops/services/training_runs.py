"""Training runs: request one (admin, schedule), execute it (on a gpu worker).

One run at a time (a unique index). The run gathers ground truth and unlabeled windows, drives the
learning loop in training/pipeline.py, registers the new ModelVersion and promotes it only if the
promotion rules let it (training/promotion). A failed run leaves the active model untouched. Logs and
counts never contain conversation text."""

from __future__ import annotations

import logging
import shutil
import time
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
from monitor_site.modelops.services.cold_start import first_model_gate_decide, llm_scoring_in_use
from monitor_site.modelops.services.labelling import (
    labeler_for_run,
    labelling_client,
    loop_config,
    loop_config_dict,
)
from monitor_site.modelops.services.registry import model_version_promote, model_version_register
from monitor_site.patients.models import Patient
from monitor_site.patients.selectors import (
    labeled_windows_from_assessments,
    unlabeled_window_requests,
    windows_for,
)
from monitor_site.predictions.selectors import reviewed_window_requests
from training.evaluation import evaluate
from training.labelling.batches import LabelsPending
from training.pipeline import Unlabeled, run_learning_loop
from training.promotion import PairedPoints, PromotionRule, fresh_test_windows, promotion_decision
from training.splits import Holdout

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


def training_run_request(*, user: Any = None, trigger: str = "admin") -> TrainingRun:
    """A queued run, or TrainingAlreadyRunning if one is queued or running. The caller starts it
    (modelops.tasks.training_run_enqueue)."""
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                requested_by=user if user and user.is_authenticated else None,
                trigger=trigger,
                config=loop_config_dict(),
            )
            audit_record(
                actor=user, action=AuditEvent.Action.TRAINING_START, obj=run, detail={"trigger": trigger}
            )
    except IntegrityError as exc:
        raise TrainingAlreadyRunning(TrainingRun.objects.filter(active_slot=True).first()) from exc
    return run


def label_batches_poll() -> list[TrainingRun]:
    """Queue again every run whose labelling batch has ended (it then collects the labels and goes on);
    returns those runs, for the caller to start. Runs on the default queue: a batch can take hours and
    must never hold the gpu worker that scores sessions."""
    requeued = []
    for run in TrainingRun.objects.filter(status=TrainingRun.Status.WAITING).exclude(label_batch_id=""):
        if not settings.ANTHROPIC_API_KEY:
            break
        batch = labelling_client().messages.batches.retrieve(run.label_batch_id)
        if batch.processing_status != "ended":
            continue
        with transaction.atomic():
            TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.WAITING).update(
                status=TrainingRun.Status.QUEUED
            )
            run.refresh_from_db()
        requeued.append(run)
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
            shutil.rmtree(artifact, ignore_errors=True)
    run.finished_at = timezone.now()
    run.active_slot = None
    run.log = "\n".join(recorder.lines)
    run.save()
    return run


def promotion_rule() -> PromotionRule:
    """The promotion rule's settings (training/promotion.py)."""
    return PromotionRule(
        margin=settings.PROMOTION_MAE_MARGIN,
        min_patients=settings.PROMOTION_MIN_TEST_PATIENTS,
        max_auc_drop=settings.PROMOTION_MAX_AUC_DROP,
    )


def run_holdout(*, run_number: int, active: ModelVersion | None) -> Holdout:
    """A patient split's test patients rotate with the run's number, and patients the active version
    trained on or was selected on (its own test patients) are drawn last: the comparison rests on
    fresh patients where there are any (a time split tests the patients who started last instead)."""
    manifest = active.manifest if active is not None else {}
    seen = set(manifest.get("trained_patients") or []) | set(manifest.get("test_set", {}).get("patients", []))
    return Holdout(rotation=run_number, seen=frozenset(seen))


def _execute(run: TrainingRun, recorder: _RunRecorder) -> Path:
    config = loop_config()
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
    labeler = labeler_for_run(run)
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
        holdout=run_holdout(run_number=run.pk, active=model_version_active()),
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
    rule = promotion_rule()
    active_metrics, paired, compared_on = None, None, ""
    if active is not None:
        fresh, compared_on = fresh_test_windows(test, active.manifest)
        recorder.line(f"evaluating the active model {active.version} on {compared_on}")
        if fresh:
            active_metrics, active_points = evaluate(model_version_dir(active), fresh)
            candidate_points = {i: p for i, _, p in result.test_points}
            groups = {e.window.id: e.patient for e in fresh}
            paired = PairedPoints(
                truth=[t for _, t, _ in active_points],
                candidate=[candidate_points[i] for i, _, _ in active_points],
                active=[p for _, _, p in active_points],
                groups=[groups[i] for i, _, _ in active_points],
            )
            active_metrics["evaluated_on"] = compared_on
    if active is None and llm_scoring_in_use():
        decision = first_model_gate_decide(
            result=result, ground_truth=ground_truth, rule=rule, log_line=recorder.line
        )
    else:
        decision = promotion_decision(paired=paired, rule=rule, active_exists=active is not None)
    promote = decision.promote
    run.decision = decision.text
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
        "promotion": {**decision.numbers, "compared_on": compared_on},
        "points": [{"id": i, "true": t, "pred": round(p, 3)} for i, t, p in result.test_points],
        "members": [
            {"name": m["name"], "mode": m["mode"], "trained_on": m.get("trained_on", "")}
            for m in result.train.manifest["members"]
        ],
        "blend": result.train.manifest.get("blend", {}),
        "label_validation": result.label_validation,
    }
    recorder.line(decision.text)
    if promote:
        model_version_promote(model_version=model_version, reason=f"training run {run.pk}")
    return artifact
