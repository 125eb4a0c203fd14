"""Splits by patient, never by window: a patient's windows always land on one side.

- `held_out_test_split`: the learning loop's development and held-out test patients, fixed for a run
  (time-ordered when every window is dated, else drawn by a hash of the patient's id and the run's
  number, patients no version has seen first);
- `split_by_group`: training and validation patients within development;
- `split_validation`: the validation patients shared out between early stopping and calibration.

A window's patient is `LabeledWindow.patient`.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import datetime

from scoring.types import LabeledWindow

TEST_SALT = "phq9-held-out-test-v1"
SPLITS = ("auto", "time", "patient")
SPLIT_TEXT = {
    "time": "time-ordered: the patients who started last",
    "patient": "drawn by a hash of the patient's id (and of the run's number, unseen patients first, when "
    "the run gives them; undated windows)",
}


@dataclass(frozen=True)
class Holdout:
    """How a run draws its held-out test patients in a patient split: `rotation` (the run's number, so
    the same patients do not decide every run) and `seen` (the patients the active version trained on
    or was selected on, drawn last). The default: the fixed hash of each patient's id."""

    rotation: int = 0
    seen: frozenset[str] = frozenset()


FIXED_HOLDOUT = Holdout()


def _hash_position(group: str, rotation: int = 0) -> float:
    salt = TEST_SALT if not rotation else f"{TEST_SALT}:{rotation}"
    return int(hashlib.sha256(f"{salt}:{group}".encode()).hexdigest()[:8], 16) / 2**32


def split_kind(examples: list[LabeledWindow], requested: str) -> str:
    """'time' or 'patient': `auto` is time-ordered when every window is dated, by patient hash otherwise."""
    if requested not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {requested!r}")
    dated = all(e.window.end is not None for e in examples)
    if requested == "time" and not dated:
        raise ValueError("a time-ordered split needs a date on every window (turns with sent_at)")
    return "time" if requested == "time" or (requested == "auto" and dated) else "patient"


def held_out_test_split(
    examples: list[LabeledWindow],
    *,
    fraction: float,
    kind: str = "patient",
    rotation: int = 0,
    seen: frozenset[str] = frozenset(),
) -> tuple[list[int], list[int]]:
    """(development, test) indices, by patient. At least one patient is tested, at least two develop.

    kind "time": the test patients are the ones who started last (their first window is the latest),
    so a model is judged on patients who came after everyone it learnt from, as in deployment; and
    development keeps only windows that end before the first test window begins (`time_cut`). A
    patient's start never moves, so as data grows earlier test patients join development and the new
    ones are tested: still patients neither the active nor the candidate version trained on. When the
    cut would leave fewer than two development patients (a clinic's first weeks), it splits by patient.
    kind "patient" (undated data): a rotating holdout, so the same patients do not decide every run. The
    test patients are drawn by a hash of (patient id, `rotation`: the run's number), fresh ones first:
    patients not in `seen` (those the active version trained on or was selected on), then the others.
    With `rotation` 0 and nothing seen, a patient's side is fixed by the hash of their id alone."""
    groups = sorted({e.patient for e in examples})
    if kind == "time":
        first: dict[str, object] = {}
        for e in examples:
            g = e.patient
            first[g] = min(first[g], e.window.end) if g in first else e.window.end  # type: ignore[call-overload]
        # latest start first; ties by hash so the order never depends on input order
        order = sorted(groups, key=lambda g: (first[g], _hash_position(g)), reverse=True)
        n_test = min(
            max(1 if len(groups) >= 3 else 0, round(len(groups) * fraction)), max(len(groups) - 2, 0)
        )
        test_groups = set(order[:n_test])
    elif rotation or seen:
        n_test = min(
            max(1 if len(groups) >= 3 else 0, round(len(groups) * fraction)), max(len(groups) - 2, 0)
        )
        order = sorted(groups, key=lambda g: (g in seen, _hash_position(g, rotation)))
        test_groups = set(order[:n_test])
    else:
        test_groups = {g for g in groups if _hash_position(g) < fraction}
        if not test_groups and len(groups) >= 3:
            test_groups = {min(groups, key=_hash_position)}
        if len(groups) - len(test_groups) < 2:  # few patients: keep the lowest-hash ones as the test side
            test_groups = set(sorted(test_groups, key=_hash_position)[: max(len(groups) - 2, 0)])
    test = [i for i, e in enumerate(examples) if e.patient in test_groups]
    cut = time_cut([examples[i] for i in test]) if kind == "time" else None
    developing = {e.patient for e in examples if e.patient not in test_groups and _ends_by(e, cut)}
    if cut is not None and len(developing) < 2:
        # A clinic's first weeks: no two patients have a window ending before the test patients' text
        # begins, so no time cut can be made; the patient split (stable, by hash) is the honest fallback.
        return held_out_test_split(examples, fraction=fraction, kind="patient", rotation=rotation, seen=seen)
    # A real time cut: development windows all end by the time the first test window begins (later ones
    # of development patients are left out), so no development text postdates the test text. A window
    # without a start is the moment it ends: one ending at that same moment is kept.
    dev = [i for i, e in enumerate(examples) if e.patient not in test_groups and _ends_by(e, cut)]
    return dev, test


def _ends_by(example: LabeledWindow, cut: datetime | None) -> bool:
    return cut is None or (example.window.end is not None and example.window.end <= cut)


def time_cut(test: list[LabeledWindow]) -> datetime | None:
    """When the earliest of these (test) windows begins (its start, else its end); None when one is
    undated or there are none. Development and training text must end by then in a time split."""
    moments = [e.window.start or e.window.end for e in test]
    if not moments or any(m is None for m in moments):
        return None
    return min(moments)  # type: ignore[type-var]


def split_by_group(
    examples: list[LabeledWindow], *, val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices of train and validation examples; a patient's windows all land on one side."""
    groups = sorted({e.patient for e in examples})
    random.Random(seed).shuffle(groups)
    n_val = math.ceil(len(groups) * val_fraction) if len(groups) > 1 and val_fraction > 0 else 0
    val_groups = set(groups[:n_val])
    train = [i for i, e in enumerate(examples) if e.patient not in val_groups]
    val = [i for i, e in enumerate(examples) if e.patient in val_groups]
    return train, val


def split_validation(examples: list[LabeledWindow], val_idx: list[int]) -> tuple[list[int], list[int]]:
    """(early-stopping, calibration) indices: the validation patients shared out alternately, so the
    patients that chose the epoch are not the ones that size the prediction interval and give the
    validation metrics. With a single validation patient both roles fall to them (said in the manifest)."""
    groups = sorted({examples[i].patient for i in val_idx})
    if len(groups) < 2:
        return val_idx, val_idx
    stop_groups = set(groups[0::2])
    stop = [i for i in val_idx if examples[i].patient in stop_groups]
    calibrate = [i for i in val_idx if examples[i].patient not in stop_groups]
    return stop, calibrate
