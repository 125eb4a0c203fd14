"""House rule 9: a module past ~400 lines is split by responsibility. Product code only: the measuring and
demo-data packages (bench, synthetic), the training configs and the migrations are left aside."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor_site", "scoring", "training")
LEFT_ASIDE = ("monitor_site/bench", "training/bench", "training/synthetic", "training/configs")
MAX_LINES = 400


def _product_modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
        and not any(path.relative_to(ROOT).as_posix().startswith(f"{aside}/") for aside in LEFT_ASIDE)
    )


def test_no_product_module_is_over_400_lines() -> None:
    too_long = []
    for path in _product_modules():
        with path.open(encoding="utf-8") as f:
            lines = sum(1 for _ in f)
        if lines > MAX_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert too_long == [], "split by responsibility (STYLE.md, house rule 9):\n" + "\n".join(too_long)
