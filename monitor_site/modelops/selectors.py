"""Reads of the model registry, and the one place the Django side loads a model."""

from __future__ import annotations

import logging
import threading
from datetime import UTC
from pathlib import Path

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from monitor_site.modelops.models import ModelVersion, PseudoLabel
from scoring.ensemble import Ensemble


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()


def model_version_any_active() -> bool:
    """Whether a trained model is active, without reading its row (the manifest is kilobytes of JSON):
    the ingest path asks it for every session."""
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists()


def model_version_dir(model_version: ModelVersion) -> Path:
    return Path(settings.MODEL_STORE_DIR) / model_version.version


# The one place the Django side loads a model: once per process and version, then reused.

log = logging.getLogger(__name__)
_lock = threading.Lock()
_loaded: dict[str, Ensemble] = {}


def ensemble_for(model_version: ModelVersion) -> Ensemble:
    with _lock:
        ensemble = _loaded.get(model_version.version)
        if ensemble is None:
            log.info("loading model %s", model_version.version)
            ensemble = Ensemble.load(
                model_version_dir(model_version),
                device=settings.SCORING_DEVICE,
                precision=settings.SCORING_PRECISION,
            )
            _loaded.clear()  # keep one model in memory: a worker serves the active version
            _loaded[model_version.version] = ensemble
        return ensemble


def forget_loaded_models() -> None:
    with _lock:
        _loaded.clear()


def pseudo_label_tokens_today(*, source: str) -> int:
    """Claude tokens bought today (UTC) for labels of this source (PseudoLabel.source)."""
    start = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    totals = PseudoLabel.objects.filter(source=source, created_at__gte=start).aggregate(
        i=Sum("input_tokens"), o=Sum("output_tokens")
    )
    return (totals["i"] or 0) + (totals["o"] or 0)


def training_run_labelling_cost(*, counts: dict, token_budget: int) -> dict | None:
    """What a run's Claude labels cost at the list prices in settings (batched tokens at half), and the
    per-call token budget left; None when nothing was bought."""
    calls_in, calls_out = counts.get("input_tokens", 0), counts.get("output_tokens", 0)
    batch_in, batch_out = counts.get("batch_input_tokens", 0), counts.get("batch_output_tokens", 0)
    if not (calls_in or calls_out or batch_in or batch_out):
        return None
    price_in, price_out = settings.PSEUDO_LABEL_PRICE_INPUT, settings.PSEUDO_LABEL_PRICE_OUTPUT
    dollars = (
        calls_in * price_in + calls_out * price_out + (batch_in * price_in + batch_out * price_out) / 2
    ) / 1e6
    return {
        "tokens_one_call_at_a_time": calls_in + calls_out,
        "tokens_batched": batch_in + batch_out,
        "usd": round(dollars, 2),
        "budget_left": max(0, token_budget - calls_in - calls_out),
    }
