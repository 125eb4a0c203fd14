"""The model registry: register an artifact, promote a version (a roll-back is a promotion of an older
one), train the starter model from ground truth."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.celery import enqueue_on_commit
from monitor_site.modelops.models import ModelVersion
from monitor_site.modelops.training_settings import training_setting
from monitor_site.patients.selectors import labeled_windows_from_assessments
from scoring.artifact import ArtifactError, read_manifest, set_active_pointer
from training.args import LoopConfig, TrainArgs
from training.finetune import Progress, TrainResult
from training.pipeline import run_learning_loop

log = logging.getLogger(__name__)
# A promoted model scores what it has not scored yet. Predictions sit above the registry in the layer
# order, so the task is named here, not imported.
RESCORE_TASK = "monitor_site.predictions.tasks.score_pending"


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
        enqueue_on_commit(RESCORE_TASK, fallback="score_pending (every 10 minutes)")
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
        test_fraction=training_setting("TRAINING_TEST_FRACTION"),
        split=training_setting("TRAINING_SPLIT"),
        relabel_rounds=0,
    )
    result = run_learning_loop(examples, [], config, Path(settings.MODEL_STORE_DIR), progress=progress).train
    model_version = model_version_register(artifact_dir=result.artifact_dir)
    if promote:
        model_version_promote(model_version=model_version)
    return model_version, result
