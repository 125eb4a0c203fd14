"""The layout rules of docs/architecture.md and STYLE.md, checked on the source tree: no import cycles
(function-level imports included), measuring tools only in the bench packages, every PHQ-9 fact only in
scoring/phq9.py. The layer order, and that services never import tasks: tests/test_layering.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from scoring import phq9

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor_site", "scoring", "training")
PRODUCT_APPS = ("accounts", "alerts", "api", "audit", "dashboards", "modelops", "patients", "predictions")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")] = path
    return found


def _imports(path: Path, module: str) -> set[str]:
    """Every module named by an import anywhere in the file, inside functions too."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def test_it_has_no_import_cycles() -> None:
    modules = _modules()

    def own(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {m: {t for n in _imports(p, m) if (t := own(n)) and t != m} for m, p in modules.items()}
    cycles = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [node, nxt]))
            elif nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert cycles == []


def test_product_apps_hold_no_measuring_tools() -> None:
    measuring = re.compile(r"loadtest|load_set|bench")
    found = [
        str(path.relative_to(ROOT))
        for app in PRODUCT_APPS
        for path in (ROOT / "monitor_site" / app).rglob("*.py")
        if measuring.search(path.name)
    ]
    assert found == []


def _sources() -> list[Path]:
    paths = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts]
    paths += list((ROOT / "templates").rglob("*.html")) + list((ROOT / "static" / "js").rglob("*.js"))
    return [p for p in paths if p != ROOT / "scoring" / "phq9.py"]


def test_phq9_facts_live_only_in_scoring_phq9() -> None:
    facts = [*phq9.LOINC_ITEMS, phq9.LOINC_TOTAL, phq9.LOINC_PANEL, *phq9.ITEM_QUESTIONS]
    facts += [wording for _, wording, _ in phq9.ANSWER_OPTIONS if len(wording) > 12]
    # A reliable-change or threshold comparison written out in a template.
    template_numbers = re.compile(r"(>=|<=|>|<)\s*-?(6|10|15|20|27)\b")
    found = []
    for path in _sources():
        if "synthetic" in path.parts:  # demo data phrases its patients' answers in their own words
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(ROOT)}: {fact!r}" for fact in facts if fact in text]
        if path.suffix == ".html":
            found += [f"{path.relative_to(ROOT)}: {m.group(0)!r}" for m in template_numbers.finditer(text)]
    assert found == []
