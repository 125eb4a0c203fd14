"""The web app's training options: settings over the defaults of the dataclasses they fill.

TRAINING_<FIELD> fills the field of that name of TrainArgs or LoopConfig (training/args.py), and
PSEUDO_LABEL_<FIELD> one of LabelerConfig (training/labelling/claude.py). Those dataclasses are the only
place such a default lives: monitor_site/settings.py holds one of these variables only when the
environment sets it, as text (so that settings never imports the training code and its torch). Here that
text is typed by its field, as django-environ types a value (env.int, env.float, env.bool); a value set
in code (a test's `settings.TRAINING_EPOCHS = 3`) is taken as it is; a field with no setting keeps its
default.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

import environ
from django.conf import settings

from scoring.cli_args import dataclass_from_settings
from training.args import LoopConfig, TrainArgs
from training.labelling.claude import LabelerConfig

T = TypeVar("T")
DATACLASSES_BY_PREFIX: dict[str, tuple[type, ...]] = {
    "TRAINING_": (TrainArgs, LoopConfig),
    "PSEUDO_LABEL_": (LabelerConfig,),
}


class _TypedSettings:
    """django.conf.settings as dataclass_from_settings reads it, each text typed by the field it fills."""

    def __init__(self, cls: type, prefix: str) -> None:
        self.hints = typing.get_type_hints(cls)
        self.prefix = prefix

    def __getattr__(self, name: str) -> Any:
        value = getattr(settings, name)  # AttributeError when unset: the field keeps its default
        return _typed(value, self.hints.get(name.removeprefix(self.prefix).lower()))


def options_from_settings(cls: type[T], *, prefix: str, **overrides: Any) -> T:
    """`cls` with the fields that PREFIX + FIELD settings set, then `overrides`; every other field keeps
    the dataclass default."""
    return dataclass_from_settings(cls, _TypedSettings(cls, prefix), prefix=prefix, **overrides)


def training_setting(name: str) -> Any:
    """The value in effect of one TRAINING_<FIELD> or PSEUDO_LABEL_<FIELD> setting: the environment's
    (typed), else the default of the dataclass field it fills."""
    for prefix, classes in DATACLASSES_BY_PREFIX.items():
        if not name.startswith(prefix):
            continue
        field_name = name.removeprefix(prefix).lower()
        for cls in classes:
            for field in dataclasses.fields(cls):
                if field.name == field_name:
                    if hasattr(settings, name):
                        return _typed(getattr(settings, name), typing.get_type_hints(cls)[field_name])
                    default = field.default
                    if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
                        default = field.default_factory()
                    return default
    raise KeyError(f"{name} fills no field of the training dataclasses")


def _typed(value: Any, annotation: Any) -> Any:
    if isinstance(value, str) and annotation in (int, float, bool):
        return environ.Env.parse_value(value, annotation)
    return value
