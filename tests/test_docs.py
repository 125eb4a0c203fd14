"""The README and docs/ stay true: their links lead somewhere, and the defaults they state are the code's.

No database: the settings defaults are recorded in a clean child process (as tests/test_env_example.py
does), so what the environment of the test run sets does not matter.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
NOT_SOURCE = {"var", ".git", ".venv", ".hypothesis"}  # folders whose files are generated, not written
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...

# Settings defaults: a table whose header is exactly `variable | default | meaning`.
TABLE_HEADER = re.compile(r"^\|\s*variable\s*\|\s*default\s*\|\s*meaning\s*\|\s*$", re.IGNORECASE)
# The dataclasses that TRAINING_<FIELD> and PSEUDO_LABEL_<FIELD> fill, found wherever they live in training/.
DATACLASSES_BY_PREFIX = {"TRAINING_": ("TrainArgs", "LoopConfig"), "PSEUDO_LABEL_": ("LabelerConfig",)}

# Records the default every env() call of the settings module passes, in a child with a clean environment.
RECORD = """
import json, sys
import environ
defaults = {}
original = environ.Env.get_value
def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
    if var not in defaults:
        defaults[var] = {"has_default": default is not environ.Env.NOTSET, "default": default}
    return original(self, var, cast=cast, default=default, parse_default=parse_default)
environ.Env.get_value = get_value
import monitor_site.settings
print(json.dumps({k: v for k, v in defaults.items()}, default=lambda o: {"path": str(o)}))
"""


# --- links -------------------------------------------------------------------------------------------


def _prose(text: str) -> str:
    """The Markdown without code blocks and code spans, where a `[x](y)` is not a link."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _links_in(text: str) -> list[str]:
    prose = _prose(text)
    return INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def _links(page: Path) -> list[str]:
    return _links_in(page.read_text(encoding="utf-8"))


def _broken_links(page: Path) -> list[str]:
    broken = []
    for target in _links(page):
        if not target or target.startswith("#") or EXTERNAL.match(target):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        resolved = (page.parent / path).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(f"{page.relative_to(ROOT)}: {target}")
    return broken


def test_it_finds_links_outside_code_only() -> None:
    text = (
        '[a](docs/a.md#part) ![b](static/b.png "title") [c][ref] `[d](d.md)`\n'
        "```\n[e](e.md)\n```\n"
        "[ref]: docs/c.md\n"
    )
    assert _links_in(text) == ["docs/a.md#part", "static/b.png", "docs/c.md"]
    assert any(link.startswith("docs/") for link in _links(ROOT / "README.md"))


def test_it_links_only_to_files_that_exist() -> None:
    broken = [b for page in PAGES for b in _broken_links(page)]
    assert broken == [], "links to nothing in the repository:\n" + "\n".join(broken)


def _named_paths(page: Path) -> list[str]:
    """Code spans that name a path inside one of the repository's own folders (`training/args.py`)."""
    folders = {
        p.name
        for p in ROOT.iterdir()
        if p.is_dir() and p.name not in NOT_SOURCE and not p.name.endswith(("_cache", ".egg-info"))
    }
    names = []
    for match in CODE_SPAN.finditer(FENCE.sub("", page.read_text(encoding="utf-8"))):
        text = match.group(2).strip()
        if re.fullmatch(r"[\w.-]+(/[\w.-]+)*/?", text) and text.split("/")[0] in folders and "/" in text:
            names.append(text)
    return names


def test_it_names_only_repository_paths_that_exist() -> None:
    assert "scoring/phq9.py" in _named_paths(ROOT / "docs" / "development.md")
    missing = [
        f"{page.relative_to(ROOT)}: {name}"
        for page in PAGES
        for name in _named_paths(page)
        if not (ROOT / name).exists()
    ]
    assert missing == [], "paths named in the docs that do not exist:\n" + "\n".join(missing)


# --- settings defaults -------------------------------------------------------------------------------


def _documented_defaults() -> dict[str, tuple[str, str]]:
    """{variable: (stated default, page)} from every `variable | default | meaning` table in docs/."""
    rows: dict[str, tuple[str, str]] = {}
    for page in PAGES:
        in_table = False
        for line in page.read_text(encoding="utf-8").splitlines():
            if TABLE_HEADER.match(line):
                in_table = True
                continue
            if not in_table:
                continue
            if not line.startswith("|"):
                in_table = False
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if set(cells[0]) <= set("-: "):
                continue  # the separator row
            assert len(cells) == 3, f"{page.name}: a settings row needs 3 cells: {line}"
            variable = cells[0].strip("`")
            assert variable not in rows, f"{variable} is documented twice"
            rows[variable] = (cells[1], page.name)
    return rows


def _recorded_settings_defaults() -> dict[str, dict[str, Any]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "LANG", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")
    }
    proc = subprocess.run(
        [sys.executable, "-c", RECORD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _dataclass_defaults(variable: str) -> list[tuple[str, Any]]:
    """[(Class.field, default)] of a TRAINING_/PSEUDO_LABEL_ variable, from each dataclass with the field."""
    for prefix, class_names in DATACLASSES_BY_PREFIX.items():
        if not variable.startswith(prefix):
            continue
        name = variable.removeprefix(prefix).lower()
        found = []
        for cls in _find_classes(class_names):
            for f in dataclasses.fields(cls):
                if f.name != name:
                    continue
                if f.default is not dataclasses.MISSING:
                    found.append((f"{cls.__name__}.{name}", f.default))
                elif f.default_factory is not dataclasses.MISSING:
                    found.append((f"{cls.__name__}.{name}", f.default_factory()))
        return found
    return []


def _find_classes(names: tuple[str, ...]) -> list[type]:
    """The classes of these names defined anywhere under training/ (modules move; the names do not)."""
    classes = []
    for path in sorted((ROOT / "training").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name in names:
                module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                classes.append(getattr(importlib.import_module(module), node.name))
    return classes


def _normal(value: Any) -> str:
    """One spelling per value: true/false, 2000000, 0.25, a,b,c, paths relative to the repository."""
    if isinstance(value, dict) and set(value) == {"path"}:
        value = value["path"]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return _number(float(value))
    if isinstance(value, list | tuple):
        return ",".join(_normal(v) for v in value)
    text = str(value)
    root = str(ROOT)
    if text == root or text.startswith(root + os.sep):
        return os.path.relpath(text, root)
    return text.replace(root, "<repo>")


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _normal_stated(stated: str, like: Any) -> str:
    """The documented default, spelled as `_normal` spells a value of the code's type."""
    text = stated.strip().strip("`").strip()
    if text in ('""', "''"):
        text = ""
    if isinstance(like, bool):
        return {"1": "true", "yes": "true", "on": "true", "0": "false", "no": "false", "off": "false"}.get(
            text.lower(), text.lower()
        )
    if isinstance(like, int | float) and not isinstance(like, bool):
        try:
            return _number(float(text.replace("_", "").replace(",", "")))
        except ValueError:
            return text
    if isinstance(like, list | tuple):
        return ",".join(part.strip() for part in text.split(",") if part.strip())
    return text


def _is_computed(stated: str) -> bool:
    """A default documented as computed from other settings: `— (as X)`, `derived ...`."""
    text = stated.strip().lower()
    return text.startswith(("—", "–")) or text == "-" or "derived" in text


def test_it_states_the_defaults_the_code_has() -> None:
    documented = _documented_defaults()
    assert len(documented) >= 20, "no `variable | default | meaning` table found in docs/"
    recorded = _recorded_settings_defaults()
    wrong, unknown = [], []
    for variable, (stated, page) in sorted(documented.items()):
        if _is_computed(stated):
            continue
        sources: list[tuple[str, Any]] = []
        if recorded.get(variable, {}).get("has_default"):
            sources.append(("settings", recorded[variable]["default"]))
        elif hasattr(settings, variable) and variable not in os.environ:
            sources.append(("settings", getattr(settings, variable)))
        sources += _dataclass_defaults(variable)
        if not sources:
            unknown.append(f"{page}: {variable}")
        for where, value in sources:
            if _normal_stated(stated, value) != _normal(value):
                wrong.append(f"{page}: {variable} says {stated}, {where} has {_normal(value)!r}")
    assert unknown == [], "documented, but no default found in the code:\n" + "\n".join(unknown)
    assert wrong == [], "defaults that differ from the code:\n" + "\n".join(wrong)


def test_it_documents_every_variable_of_the_env_example() -> None:
    listed = set()
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        name, sep, _ = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            listed.add(name.strip())
    documented = set(_documented_defaults())
    assert sorted(listed - documented) == [], "in .env.example but in no settings table of docs/"
    assert sorted(documented - listed) == [], "in a settings table of docs/ but not in .env.example"
