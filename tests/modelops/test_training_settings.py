"""Training options in the web app: the environment's text typed by its dataclass field, and the
dataclass default (the only one) when the environment sets nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor_site.modelops.services.labelling import loop_config
from monitor_site.modelops.training_settings import options_from_settings, training_setting
from scoring.artifact import DEFAULT_MODEL_STORE
from training.args import LoopConfig, TrainArgs
from training.labelling.claude import LabelerConfig

ROOT = Path(__file__).resolve().parents[2]


def _unset(settings: object, *names: str) -> None:
    for name in names:
        if hasattr(settings, name):
            delattr(settings, name)


def test_it_types_the_environments_text_by_the_field_it_fills(settings: object) -> None:
    # As monitor_site/settings.py keeps them: text, read by django-environ's rules (a comma decimal too).
    settings.TRAINING_EPOCHS = "7"  # type: ignore[attr-defined]
    settings.TRAINING_SELF_LABELS = "yes"  # type: ignore[attr-defined]
    settings.TRAINING_LABEL_MAX_MAE = "6,5"  # type: ignore[attr-defined]
    settings.TRAINING_MODE = "lora"  # type: ignore[attr-defined]
    config = loop_config()
    assert (config.train.epochs, config.train.mode, config.self_labels, config.label_max_mae) == (
        7,
        "lora",
        True,
        6.5,
    )
    assert training_setting("TRAINING_LABEL_MAX_MAE") == 6.5


def test_it_falls_back_to_the_dataclass_defaults(settings: object) -> None:
    _unset(settings, "TRAINING_EPOCHS", "TRAINING_SPLIT", "PSEUDO_LABEL_MODEL", "PSEUDO_LABEL_TOKEN_BUDGET")
    assert training_setting("TRAINING_EPOCHS") == TrainArgs().epochs
    assert training_setting("TRAINING_SPLIT") == LoopConfig().split
    assert training_setting("PSEUDO_LABEL_MODEL") == LabelerConfig().model
    assert options_from_settings(LabelerConfig, prefix="PSEUDO_LABEL_").token_budget == 2_000_000
    with pytest.raises(KeyError):
        training_setting("TRAINING_NO_SUCH_FIELD")


def test_the_settings_module_keeps_no_training_default_and_imports_no_torch() -> None:
    """Imported in a clean environment: no TRAINING_<FIELD> setting at all, torch never loaded, and the
    model store is scoring's default."""
    code = (
        "import json, sys, monitor_site.settings as s; "
        "print(json.dumps({'training': [n for n in s.TRAINING_FIELD_VARIABLES if hasattr(s, n)], "
        "'torch': 'torch' in sys.modules, 'store': str(s.MODEL_STORE_DIR)}))"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "LANG", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"training": [], "torch": False, "store": str(DEFAULT_MODEL_STORE)}
