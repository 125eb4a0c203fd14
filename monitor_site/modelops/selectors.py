"""Reads of the model registry, and the one place the Django side loads a model."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from django.conf import settings

from monitor_site.modelops.models import ModelVersion
from scoring.ensemble import Ensemble


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()


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
            ensemble = Ensemble.load(model_version_dir(model_version), device=settings.SCORING_DEVICE)
            _loaded.clear()  # keep one model in memory: a worker serves the active version
            _loaded[model_version.version] = ensemble
        return ensemble


def forget_loaded_models() -> None:
    with _lock:
        _loaded.clear()
