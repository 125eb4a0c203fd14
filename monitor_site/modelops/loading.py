"""The one place the Django side loads a model: once per process and version, then reused."""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from monitor_site.modelops.models import ModelVersion
from monitor_site.modelops.selectors import model_version_dir
from scoring.ensemble import Ensemble

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
