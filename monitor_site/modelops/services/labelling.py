"""What training runs and the cold-start rater share: the labeller's settings, its Anthropic client and
the label cache in PseudoLabel rows (a label is never bought twice)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from django.conf import settings

from monitor_site.modelops.models import PseudoLabel, TrainingRun
from monitor_site.modelops.training_settings import options_from_settings, training_setting
from training.args import LoopConfig, TrainArgs
from training.labelling.batches import BatchingLabeler
from training.labelling.claude import ClaudeLabeler, LabelerConfig, anthropic_client
from training.labelling.label import ClaudeLabel, label_from_row

log = logging.getLogger(__name__)


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


def loop_config() -> LoopConfig:
    """TRAINING_<FIELD> settings fill the TrainArgs and LoopConfig fields of the same name."""
    train = options_from_settings(TrainArgs, prefix="TRAINING_")
    return options_from_settings(LoopConfig, prefix="TRAINING_", train=train)


def loop_config_dict() -> dict:
    config = asdict(loop_config())
    config["pseudo_label_model"] = (
        training_setting("PSEUDO_LABEL_MODEL") if settings.ANTHROPIC_API_KEY else None
    )
    config["token_budget"] = training_setting("PSEUDO_LABEL_TOKEN_BUDGET")
    return config


def labelling_client() -> Any:
    return anthropic_client(
        api_key=settings.ANTHROPIC_API_KEY,
        base_url=settings.ANTHROPIC_BASE_URL,
        timeout=settings.ANTHROPIC_TIMEOUT,
    )


def labeler_for_run(run: TrainingRun | None = None) -> ClaudeLabeler | None:
    """Claude as labeller of a training run, or None without a key. With PSEUDO_LABEL_BATCH_MIN_WINDOWS,
    a pass that needs at least that many new labels goes through a Message Batch (half price): the run
    waits for it without holding a worker (`label_batches_poll` finds it ended) and keeps its id to resume."""
    if not settings.ANTHROPIC_API_KEY:
        return None
    config = options_from_settings(LabelerConfig, prefix="PSEUDO_LABEL_")
    if not settings.PSEUDO_LABEL_BATCH_MIN_WINDOWS or run is None:
        return ClaudeLabeler(labelling_client(), config, DatabaseLabelCache())

    def keep(batch_id: str) -> None:
        TrainingRun.objects.filter(pk=run.pk).update(label_batch_id=batch_id)

    return BatchingLabeler(
        labelling_client(),
        config,
        DatabaseLabelCache(),
        min_windows=settings.PSEUDO_LABEL_BATCH_MIN_WINDOWS,
        batch_id=run.label_batch_id,
        on_batch=keep,
    )
