from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from scoring.cli_args import add_dataclass_arguments, arg, dataclass_from_options, dataclass_from_settings


@dataclass
class Example:
    name: str = arg(help="required: no default")
    count: int = arg(3, "how many", aliases=("--n",))
    rate: float = arg(0.5, "share of 100%")  # a % in help must not break argparse
    modes: tuple[str, ...] = arg(("a", "b"), "comma-separated", choices=None)
    out: Path | None = arg(None, "optional path")
    flag: bool = arg(True, "on by default")
    hidden: int = field(default=7, metadata={"cli": False})

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("count must be at least 1")


def _parse(*argv: str) -> Example:
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, Example)
    return dataclass_from_options(Example, parser.parse_args(list(argv)))


def test_it_builds_options_with_types_defaults_and_aliases() -> None:
    args = _parse(
        "--name", "x", "--n", "5", "--rate", "0.25", "--modes", "a, c", "--out", "r.json", "--no-flag"
    )
    assert args == Example(name="x", count=5, rate=0.25, modes=("a", "c"), out=Path("r.json"), flag=False)
    assert _parse("--name", "y") == Example(name="y")


def test_it_keeps_code_only_fields_off_the_command_line() -> None:
    with pytest.raises(SystemExit):
        _parse("--name", "x", "--hidden", "1")


def test_it_requires_fields_without_a_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse()
    assert "--name" in capsys.readouterr().err


def test_it_shows_help_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, Example)
    text = parser.format_help()
    assert "how many (default: 3)" in text and "share of 100%" in text and "--no-flag" in text


def test_it_leaves_validation_to_the_dataclass() -> None:
    with pytest.raises(ValueError, match="count must be at least 1"):
        _parse("--name", "x", "--count", "0")


def test_it_fills_fields_from_prefixed_settings_and_keeps_other_defaults() -> None:
    settings = SimpleNamespace(EX_NAME="from-settings", EX_COUNT=9, OTHER_RATE=0.9)
    assert dataclass_from_settings(Example, settings, prefix="EX_") == Example(name="from-settings", count=9)
