"""After the members are trained: their blend weights, then the prediction interval, the validation
metrics and the item-9 flag threshold, each measured through the ensemble as scoring loads it
(`training.finetune.train_ensemble` loads it once for all of them).

The blend is fitted on the early-stopping patients; the patient-level split-conformal interval, the
metrics and the threshold on the calibration patients, the other half of the validation patients (the
training patients when there are too few to hold out, said in the metrics; no interval is then stated).
"""

from __future__ import annotations

import numpy as np

from scoring.calibration import Calibration
from scoring.ensemble import Ensemble
from scoring.phq9 import ITEM_SELF_HARM
from scoring.types import LabeledWindow
from training.blend import BLEND_SHRINK_PATIENTS, fit_blend
from training.metrics import item9_threshold, regression_report

ITEM9_TARGET_RECALL = 0.9  # of windows whose self-report item 9 is >= 1, on validation patients


def fit_member_blend(ensemble: Ensemble, members: list[dict], stop: list[LabeledWindow]) -> dict:
    """The manifest's `blend`: the members' weights, fitted on the early-stopping windows `stop` and
    shrunk towards equal weights, since those patients also chose the epochs and the lexical alpha
    (training/blend.py; equal weights with a single member or no such window). `members`: the
    manifest's member entries."""
    kinds = {str(m["name"]): str(m["mode"]) for m in members}
    if not (stop and len(members) > 1):
        return fit_blend({}, kinds, np.zeros(0), fitted_on="none (no validation patients)")
    per_member = ensemble.member_items([e.window for e in stop])
    return fit_blend(
        {name: items.sum(-1).numpy() for name, items in per_member.items()},
        kinds,
        np.array([e.total for e in stop]),
        fitted_on="early-stopping patients (shrunk towards equal weights)",
        groups=[e.patient for e in stop],
        shrink_patients=BLEND_SHRINK_PATIENTS,
    )


def calibrate_and_evaluate(
    ensemble: Ensemble, held: list[LabeledWindow], manifest: dict, *, coverage: float, held_out: bool
) -> dict:
    """The split-conformal interval, the metrics and the item-9 flag threshold on the `held` windows,
    put in `manifest`; returns the metrics. `held_out`: whether they are calibration patients (else
    training patients, too few to hold out any)."""
    scores = ensemble.predict([e.window for e in held])
    residuals = [s.total - e.total for s, e in zip(scores, held, strict=True)]
    if held_out:
        predicted, groups = [s.total for s in scores], [e.patient for e in held]
        calibration = Calibration.fit(residuals, coverage=coverage, predicted=predicted, groups=groups)
    else:  # residuals of training patients would state an interval far too narrow: none is stated
        calibration = Calibration.none(
            coverage=coverage,
            why="no held-out calibration patients (val_fraction 0 or too few patients): no interval stated",
        )
    manifest["calibration"] = calibration.to_dict()
    metrics = regression_report(
        [e.total for e in held],
        [s.total for s in scores],
        intervals=[calibration.interval(s.total) for s in scores] if calibration.stated else None,
        items_true=[e.items for e in held],
        items_pred=[s.items for s in scores],
        groups=[e.patient for e in held],
    )
    metrics["evaluated_on"] = (
        "calibration patients (validation patients not used for early stopping; interval coverage here "
        "is in-sample)"
        if held_out
        else "training patients (too few patients to hold out)"
    )
    metrics["interval_method"] = (
        f"{calibration.method}, target coverage {coverage:.0%} for a new patient, "
        f"{calibration.patients} calibration patient(s)"
        if calibration.stated
        else f"no interval: {calibration.withheld}"
    )
    manifest["metrics"] = metrics
    # The item-9 flag threshold this model recommends, chosen on the calibration patients for a
    # recall of 0.9 of their windows with self-report item 9 >= 1 (the learning loop adds test figures).
    rated = [
        (e.items[ITEM_SELF_HARM], s.items[ITEM_SELF_HARM])
        for s, e in zip(scores, held, strict=True)
        if e.items is not None
    ]
    manifest["item9_flag"] = {
        "chosen_on": metrics["evaluated_on"].split(" (")[0],
        **item9_threshold([t for t, _ in rated], [p for _, p in rated], recall=ITEM9_TARGET_RECALL),
    }
    return metrics
