"""`.env.example` lists every variable the project reads from the environment, and nothing else."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor_site", "scoring", "training")
# Read by the tools around the app, not by the app: the Django settings module's own name.
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE"}

# Imports the settings module in a clean child with django-environ's one read path recorded.
RECORD = """
import json, sys
import environ
seen = []
original = environ.Env.get_value
def get_value(self, var, *args, **kwargs):
    seen.append(var)
    return original(self, var, *args, **kwargs)
environ.Env.get_value = get_value
import monitor_site.settings
print(json.dumps(sorted(set(seen))))
"""


def _read_by_settings() -> set[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "LANG", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")
    }
    proc = subprocess.run(
        [sys.executable, "-c", RECORD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _read_by_code() -> set[str]:
    """os.environ.get("X"), os.environ["X"] and os.getenv("X") anywhere in the packages."""
    names = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                key = None
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    target = ast.unparse(node.func)
                    if target in ("os.environ.get", "os.getenv", "os.environ.setdefault") and node.args:
                        key = node.args[0]
                elif (
                    isinstance(node, ast.Subscript)
                    and ast.unparse(node.value) == "os.environ"
                    and isinstance(node.ctx, ast.Load)
                ):
                    key = node.slice
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    names.add(key.value)
    return names - NOT_SETTINGS


def _in_example() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, sep, _ = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            names.add(name.strip())
    return names


def test_it_lists_every_variable_the_project_reads() -> None:
    read = _read_by_settings() | _read_by_code()
    assert {"DATABASE_URL", "AXES_FAILURE_LIMIT", "MODEL_STORE_DIR"} <= read  # the recording works
    assert sorted(read - _in_example()) == []


def test_it_lists_nothing_the_project_does_not_read() -> None:
    assert sorted(_in_example() - _read_by_settings() - _read_by_code()) == []
