"""Metrics of a model artifact on labelled windows: the learning loop's held-out test evaluation, and the
active model's on the same windows when a candidate is weighed against it (training/promotion.py)."""

from __future__ import annotations

from pathlib import Path

from scoring.artifact import read_manifest
from scoring.backbone import Backbone
from scoring.ensemble import Ensemble
from scoring.phq9 import ITEM_SELF_HARM
from scoring.types import LabeledWindow
from training.metrics import item9_flag_report, regression_report


def evaluate(
    directory: Path, examples: list[LabeledWindow], *, backbone: Backbone | None = None
) -> tuple[dict, list[tuple[str, float, float]]]:
    """Metrics of the artifact in `directory` on `examples`, and the (id, true, predicted) points. With
    an item-9 flag threshold in the artifact's manifest, `item9_flag` says how it does here. `backbone`:
    the one it was trained from, already loaded (shared, given back afterwards)."""
    ensemble = Ensemble.load(directory, backbone=backbone)
    manifest = read_manifest(directory)
    threshold = manifest.get("item9_flag", {}).get("threshold")
    withheld = manifest.get("calibration", {}).get("withheld", "")
    try:
        scores = ensemble.predict([e.window for e in examples])
    finally:
        ensemble.release()
    metrics = regression_report(
        [e.total for e in examples],
        [s.total for s in scores],
        intervals=None if withheld else [s.interval for s in scores],
        items_true=[e.items for e in examples],
        items_pred=[s.items for s in scores],
        groups=[e.patient for e in examples],
    )
    if withheld:  # the whole scale covers everything: no coverage to report
        metrics["interval"] = withheld
    if threshold is not None:
        rated = [
            (e.items[ITEM_SELF_HARM], s.items[ITEM_SELF_HARM])
            for e, s in zip(examples, scores, strict=True)
            if e.items
        ]
        metrics["item9_flag"] = item9_flag_report([t for t, _ in rated], [p for _, p in rated], threshold)
    return metrics, [(e.window.id, e.total, s.total) for e, s in zip(examples, scores, strict=True)]
