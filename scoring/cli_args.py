"""Command-line options generated from a dataclass, as transformers' HfArgumentParser does.

Every CLI of the project (`python -m scoring`, `python -m training`, the management commands) builds
its options here from the fields of the dataclass it runs with, so an option and the field it fills
cannot drift apart. A field's `metadata` may hold:

    help        the option's help text (the default is appended)
    aliases     further option strings, e.g. ("--workers",) beside --web-workers
    choices     allowed values
    type        a callable that parses the text (an argparse type: raise ArgumentTypeError)
    positional  True: a positional argument instead of --name
    cli         False: not an option (set by code only)

Types come from the annotations: bool becomes --name/--no-name, `X | None` parses as X,
`tuple[str, ...]` takes a comma-separated list. A field without a default is a required option.
Values are checked by the dataclass itself (`__post_init__`), once, whichever way it is built.

`dataclass_from_settings` fills the same dataclasses from settings named PREFIX + FIELD (upper case),
e.g. TRAINING_EPOCHS -> TrainArgs.epochs.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "add_dataclass_arguments",
    "arg",
    "dataclass_from_options",
    "dataclass_from_settings",
    "option_name",
]


def arg(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = None, **meta: Any) -> Any:
    """A dataclass field with its command-line help: `epochs: int = arg(150, "upper bound")`.
    `factory` gives a default_factory; other keywords go into the metadata (aliases, choices, ...)."""
    metadata = {"help": help, **meta}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _comma_tuple(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _parser_for(annotation: Any) -> tuple[Callable[[str], Any] | None, bool]:
    """(the text -> value callable, whether it is a bool flag) for a field's annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):  # X | None: parse as X
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _parser_for(args[0])
        return str, False
    if annotation is bool:
        return None, True
    if origin is tuple:
        return _comma_tuple, False
    if annotation in (int, float, str, Path):
        return annotation, False
    return str, False


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _shown(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def add_dataclass_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Add one option per field of `cls` (all, or `only` these, less `exclude`) to `parser`.
    `defaults` overrides a field's default for this CLI."""
    hints = typing.get_type_hints(cls)
    wanted = set(only) if only is not None else None
    excluded = set(exclude)
    for field in dataclasses.fields(cls):
        meta = field.metadata
        if (
            meta.get("cli") is False
            or field.name in excluded
            or (wanted is not None and field.name not in wanted)
        ):
            continue
        default = (defaults or {}).get(field.name, _default(field))
        parse, is_flag = _parser_for(hints[field.name])
        help_text = meta.get("help", "").replace("%", "%%")  # argparse formats help with %
        if meta.get("positional"):
            choices = {"choices": meta["choices"]} if "choices" in meta else {}
            parser.add_argument(field.name, type=meta.get("type", parse), help=help_text, **choices)
            continue
        kwargs: dict[str, Any] = {"dest": field.name}
        names = [option_name(field.name), *meta.get("aliases", ())]
        if default is dataclasses.MISSING:
            kwargs["required"] = True
        else:
            kwargs["default"] = default
            if default not in (None, "", ()):
                help_text = f"{help_text} (default: {_shown(default)})".strip()
        kwargs["help"] = help_text
        if is_flag:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = meta.get("type", parse)
            if "choices" in meta:
                kwargs["choices"] = meta["choices"]
        parser.add_argument(*names, **kwargs)


def dataclass_from_options(
    cls: type[T], options: Mapping[str, Any] | argparse.Namespace, **overrides: Any
) -> T:
    """Build `cls` from parsed options (a Namespace, or the options dict of a management command):
    every field found there, then `overrides`. The dataclass validates (ValueError)."""
    values = vars(options) if isinstance(options, argparse.Namespace) else dict(options)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {name: values[name] for name in names if name in values}
    kwargs.update(overrides)
    return cls(**kwargs)


def dataclass_from_settings(cls: type[T], source: object, *, prefix: str, **overrides: Any) -> T:
    """Build `cls` from the attributes of `source` (django.conf.settings) named PREFIX + FIELD in upper
    case; fields without such a setting keep their defaults."""
    kwargs = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = prefix + field.name.upper()
        if hasattr(source, name):
            kwargs[field.name] = getattr(source, name)
    kwargs.update(overrides)
    return cls(**kwargs)
