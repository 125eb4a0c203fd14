"""How right Claude's labels are: compared with the questionnaires the clinic already has.

Before pseudo-labels are used, the loop has Claude label a sample of development windows that carry
a self-report questionnaire (consented patients only) and compares: MAE, Pearson r and bias (Claude
minus self-report) of the total and of each item, agreement of bands, and how often items were not
assessable. With enough pairs, an isotonic map from Claude's total to the questionnaire's is fitted on
half the patients and kept only if it lowers the MAE on the other half; it is then applied to every
pseudo-label. A labeller whose total MAE is above the run's threshold is not used at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from sklearn.isotonic import IsotonicRegression

from scoring.phq9 import ITEM_MAX, N_ITEMS, TOTAL_MAX, band_for
from scoring.types import LabeledWindow
from training.args import LoopConfig
from training.labelling.claude import ClaudeLabeler, LabelingReport
from training.labelling.label import ClaudeLabel
from training.labelling.prompt import LabelRequest


@dataclass(frozen=True)
class ValidationPair:
    label: ClaudeLabel
    truth_total: float
    truth_items: tuple[float, ...] | None
    group: str


def _r(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return None
    return round(float(np.corrcoef(a, b)[0, 1]), 3)


def validation_report(pairs: list[ValidationPair]) -> dict:
    """Claude vs self-report on these pairs (only labels with a total count; the rest are reported)."""
    usable = [p for p in pairs if p.label.has_total]
    report: dict = {
        "pairs": len(pairs),
        "with_total": len(usable),
        "not_assessable_share": round(
            sum(p.label.usable.count(False) for p in pairs) / max(1, N_ITEMS * len(pairs)), 3
        ),
    }
    if not usable:
        return report
    claude = np.array([p.label.total for p in usable])
    truth = np.array([p.truth_total for p in usable])
    report |= {
        "mae": round(float(np.abs(claude - truth).mean()), 3),
        "bias": round(float((claude - truth).mean()), 3),
        "pearson_r": _r(claude, truth),
        "band_agreement": round(
            float(np.mean([band_for(c).key == band_for(t).key for c, t in zip(claude, truth, strict=True)])),
            3,
        ),
    }
    with_items = [p for p in usable if p.truth_items is not None]
    if with_items:
        items_c = np.array([p.label.items for p in with_items])
        items_t = np.array([p.truth_items for p in with_items])
        report["items"] = [
            {
                "item": i + 1,
                "mae": round(float(np.abs(items_c[:, i] - items_t[:, i]).mean()), 3),
                "bias": round(float((items_c[:, i] - items_t[:, i]).mean()), 3),
            }
            for i in range(N_ITEMS)
        ]
    return report


MAP_MIN_GAIN = 0.1  # PHQ-9 points of held-out MAE a map must save to be used


@dataclass(frozen=True)
class TotalMap:
    """A monotone map of Claude's total onto the questionnaire's: linear between fitted points (what
    isotonic regression predicts), flat beyond them. Plain lists, so it is stored as JSON."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, total: float) -> float:
        return float(np.interp(total, self.x, self.y))

    def to_dict(self) -> dict:
        return {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, data: dict) -> TotalMap:
        return cls(x=tuple(float(v) for v in data["x"]), y=tuple(float(v) for v in data["y"]))


def isotonic_map(points: list[ValidationPair]) -> TotalMap:
    iso = IsotonicRegression(y_min=0.0, y_max=float(TOTAL_MAX), out_of_bounds="clip")
    iso.fit([p.label.total for p in points], [p.truth_total for p in points])
    return TotalMap(
        x=tuple(float(v) for v in iso.X_thresholds_), y=tuple(float(v) for v in iso.y_thresholds_)
    )


def patient_half(group: str) -> int:
    """Which of two fixed halves a patient falls in (by a hash of their group): fit on one, judge on
    the other."""
    return int(hashlib.sha256(group.encode()).hexdigest(), 16) % 2


def fit_total_map(pairs: list[ValidationPair], *, min_pairs: int) -> tuple[TotalMap | None, dict]:
    """An isotonic map Claude total -> self-report total, fitted on one half of the patients, kept only
    if it lowers the MAE on the other half; then refitted on all pairs. (None, why) otherwise."""
    usable = [p for p in pairs if p.label.has_total]
    if len(usable) < min_pairs:
        return None, {"applied": False, "why": f"{len(usable)} pairs, fewer than {min_pairs}"}
    fit = [p for p in usable if patient_half(p.group) == 0]
    held = [p for p in usable if patient_half(p.group) == 1]
    if len(fit) < 3 or len(held) < 3:
        return None, {"applied": False, "why": "too few patients in one half"}
    half_map = isotonic_map(fit)
    truth = np.array([p.truth_total for p in held])
    before = float(np.abs(np.array([p.label.total for p in held]) - truth).mean())
    after = float(np.abs(np.array([half_map(p.label.total) for p in held]) - truth).mean())
    info = {"mae_held_out_before": round(before, 3), "mae_held_out_after": round(after, 3)}
    if after > before - MAP_MIN_GAIN:
        return None, {"applied": False, "why": f"did not lower the held-out MAE by {MAP_MIN_GAIN}", **info}
    return isotonic_map(usable), {"applied": True, **info}


def apply_total_map(example: LabeledWindow, total_map: Callable[[float], float]) -> LabeledWindow:
    """The pseudo-label with its total mapped and its items spread to match (`items_for_total`)."""
    mapped = float(total_map(example.total))
    if example.items is None:
        return replace(example, total=mapped)
    items = items_for_total(example.items, mapped)
    return replace(example, total=sum(items), items=items)


def items_for_total(items: tuple[float, ...], total: float) -> tuple[float, ...]:
    """Items summing to `total` (at most 27), each within 0..3: in proportion to `items`, what an item
    cannot hold shared among the others (no mass lost to clipping); items all 0 share it evenly."""
    left = min(max(total, 0.0), ITEM_MAX * len(items))
    out = [0.0] * len(items)
    for weights in (list(items), [1.0] * len(items)):  # then evenly, over what is not full yet
        free = [i for i, w in enumerate(weights) if w > 0 and out[i] < ITEM_MAX]
        while free and left > 1e-9:
            mass = sum(weights[i] for i in free)
            share = {i: min(ITEM_MAX - out[i], left * weights[i] / mass) for i in free}
            for i, value in share.items():
                out[i] += value
            left -= sum(share.values())
            free = [i for i in free if out[i] < ITEM_MAX - 1e-9]
    return tuple(round(v, 6) for v in out)


def _spread_over_patients(examples: list[LabeledWindow], n: int) -> list[LabeledWindow]:
    """Up to `n` windows, as many patients as possible: each patient's first window (in a fixed order by
    a hash of the patient), then each one's second, and so on; never the first `n` in id order."""
    by_patient: dict[str, list[LabeledWindow]] = {}
    for e in examples:
        by_patient.setdefault(e.patient, []).append(e)
    order = sorted(by_patient, key=lambda g: hashlib.sha256(f"label-validation:{g}".encode()).hexdigest())
    rounds = max((len(v) for v in by_patient.values()), default=0)
    return [by_patient[g][k] for k in range(rounds) for g in order if k < len(by_patient[g])][:n]


def validate_labeller(
    labeler: ClaudeLabeler, dev: list[LabeledWindow], config: LoopConfig, *, say: Callable[[str], None]
) -> tuple[dict, Callable[[float], float] | None, bool, LabelingReport]:
    """Claude's labels against the questionnaires of consented development windows: the report, the
    map of its totals (or None), whether its labels may be used at all, and what labelling them cost.
    `say` gets the line for the run's log."""
    sample = _spread_over_patients(
        [e for e in dev if e.meta.get("consent_external") and e.items is not None],
        config.label_validation_windows,
    )
    if not sample:
        why = "no consented development window with a questionnaire to check Claude's labels against"
        say(f"labeller NOT validated ({why}): its labels are used unvalidated")
        return {"pairs": 0, "validated": False, "used": True, "why": why}, None, True, LabelingReport()
    validating = labeler.label([LabelRequest(e.window, True, tuple(e.meta.get("names", ()))) for e in sample])
    labels = validating.labels
    pairs = [
        ValidationPair(labels[e.window.id], e.total, e.items, e.group)
        for e in sample
        if e.window.id in labels
    ]
    check = validation_report(pairs)
    total_map, calibration = fit_total_map(pairs, min_pairs=config.label_calibration_min_pairs)
    check["calibration"] = calibration
    # The labels used are mapped ones when the map applies: their (held-out) MAE is what is trusted.
    used_mae = calibration["mae_held_out_after"] if calibration["applied"] else check.get("mae")
    check["mae_of_labels_used"] = used_mae
    trusted = used_mae is None or used_mae <= config.label_max_mae
    check["used"] = trusted
    check["validated"] = True
    say(
        f"labeller vs questionnaires on {check['with_total']} of {check['pairs']} windows: "
        f"MAE {check.get('mae', '-')}, bias {check.get('bias', '-')}, r {check.get('pearson_r', '-')}, "
        f"band agreement {check.get('band_agreement', '-')}, not assessable {check['not_assessable_share']}; "
        f"map of totals {'applied' if calibration['applied'] else 'not applied: ' + calibration['why']}"
        + ("" if trusted else f"; MAE {used_mae} > {config.label_max_mae}: Claude's labels are NOT used")
    )
    return check, total_map, trusted, validating
