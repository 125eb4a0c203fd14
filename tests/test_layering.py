"""The layer order of docs/architecture.md, checked on the source tree: every module of monitor_site/
imports only from its own layer or the ones below it (imports inside functions included), services
never enqueue by importing tasks, and every task named for an upward enqueue exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.test_layout import _imports, _modules

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top, chosen from the data model: an audit event points at anything; a patient belongs to a
# care team of users; a prediction points at the model version that made it, so the registry sits below
# predictions; training runs read clinicians' feedback on predictions, so they sit above them (one app,
# two layers); an alert points at a prediction or a questionnaire; the pages, the API, the demo and the
# benchmarks read and write through all of them.
LAYERS: list[tuple[str, ...]] = [
    (
        "monitor_site.settings",
        "monitor_site.security_headers",
        "monitor_site.static_storage",
        "monitor_site.celery_schedule",
        "monitor_site.celery",
        "monitor_site.middleware",
        "monitor_site.audit",
    ),
    ("monitor_site.accounts",),
    ("monitor_site.patients",),
    ("monitor_site.modelops",),  # registry, labelling, the cold-start rater
    ("monitor_site.predictions",),
    (  # training runs: they gather clinicians' reviews of predictions
        "monitor_site.modelops.services.training_runs",
        "monitor_site.modelops.tasks",
        "monitor_site.modelops.admin",
        "monitor_site.modelops.management",
    ),
    ("monitor_site.alerts",),
    ("monitor_site.dashboards",),
    ("monitor_site.api",),
    ("monitor_site.demo",),
    ("monitor_site.bench",),
    ("monitor_site.urls", "monitor_site.wsgi", "monitor_site"),
]


def layer_of(module: str) -> int | None:
    """The layer of the longest prefix that names this module (None: not in monitor_site)."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for layer, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), layer)
    return best[1] if best else None


def upward_imports() -> list[str]:
    found = []
    for module, path in _modules().items():
        own = layer_of(module)
        if own is None:
            continue
        for name in sorted(_imports(path, module)):
            if name == "monitor_site" or not name.startswith("monitor_site."):
                continue
            target = layer_of(name)
            if target is not None and target > own:
                found.append(f"{module} (layer {own}) imports {name} (layer {target})")
    return found


def test_every_module_of_monitor_site_has_a_layer() -> None:
    apps = {p.parent.name for p in (ROOT / "monitor_site").glob("*/apps.py")}
    placed = {prefix.split(".")[1] for prefixes in LAYERS for prefix in prefixes if prefix.count(".") >= 1}
    assert apps <= placed, f"apps with no layer: {sorted(apps - placed)}"


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert upward_imports() == []


def test_the_layer_check_finds_an_upward_import() -> None:
    """The check itself: an alert service imported from the patients app is caught."""
    assert layer_of("monitor_site.patients.services.erasure") < layer_of("monitor_site.alerts.services")  # type: ignore[operator]
    assert layer_of("monitor_site.modelops.services.registry") < layer_of("monitor_site.predictions.models")  # type: ignore[operator]
    assert layer_of("monitor_site.modelops.services.training_runs") > layer_of(
        "monitor_site.predictions.selectors"
    )  # type: ignore[operator]


def test_services_and_selectors_never_import_tasks() -> None:
    """Services and selectors (modules, or packages of them) never import a tasks module: the edge that
    starts work enqueues it (an app's tasks.py holds the enqueue helpers the edges call)."""
    offenders = []
    for module, path in _modules().items():
        if {"services", "selectors"} & set(module.split(".")):
            offenders += [
                f"{module} imports {n}"
                for n in _imports(path, module)
                if n.split(".")[-1] == "tasks" or ".tasks." in n
            ]
    assert offenders == []


NAMED_TASK = re.compile(r'"(monitor_site\.[a-z_]+\.tasks\.[a-z_]+)"')


def test_every_task_enqueued_by_name_exists() -> None:
    """Upward follow-ups are enqueued by dotted name (the caller may not import them): each name must
    be a registered task."""
    from monitor_site.celery import task_named

    names = set()
    for path in (ROOT / "monitor_site").rglob("*.py"):
        if "migrations" not in path.parts and path.name != "settings.py":
            names |= set(NAMED_TASK.findall(path.read_text(encoding="utf-8")))
    assert names, "no task is enqueued by name"
    for name in sorted(names):
        assert task_named(name).name == name


@pytest.mark.parametrize("name", ["monitor_site.alerts.tasks.no_such_task"])
def test_an_unknown_task_name_is_an_error(name: str) -> None:
    from monitor_site.celery import task_named

    with pytest.raises(KeyError):
        task_named(name)


def test_no_domain_work_hides_in_signal_receivers() -> None:
    """The project sends none of its own signals: follow-up work is called or enqueued where it starts.
    (Django's auth signals, which the accounts app listens to, come from outside.)"""
    senders, own = [], []
    for path in (ROOT / "monitor_site").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Signal":
                own.append(str(path.relative_to(ROOT)))
            sent = (
                isinstance(node, ast.Attribute) and node.attr == "send" and isinstance(node.value, ast.Name)
            )
            if sent and node.value.id != "user_login_failed":  # type: ignore[attr-defined]
                senders.append(f"{path.relative_to(ROOT)}: {node.value.id}.send")  # type: ignore[attr-defined]
    assert own == [] and senders == []
