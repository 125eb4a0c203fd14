from __future__ import annotations

from pathlib import Path

from django.conf import settings

from monitor_site.modelops.models import ModelVersion


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()


def model_version_dir(model_version: ModelVersion) -> Path:
    return Path(settings.MODEL_STORE_DIR) / model_version.version
