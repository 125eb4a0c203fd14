"""The loop benchmark's report (training/bench/loop.py): each rate with its Monte Carlo standard error per
clinic size, and the report as text."""

from __future__ import annotations

import math

import numpy as np

# A rate's Monte Carlo standard error is at most 0.5 / sqrt(reps) (a share, or a mean of per-clinic
# coverages in [0, 1]); the default reps keep it under this for every rate measured in every clinic.
SE_GOAL = 0.015


def _rate(values: list[bool | float]) -> dict:
    """Mean and Monte Carlo standard error (of a share, or of a mean of per-clinic coverages)."""
    array = np.asarray(values, dtype=float)
    se = float(array.std(ddof=1) / math.sqrt(len(array))) if len(array) > 1 else None
    return {"value": float(array.mean()), "se": se, "n": int(len(array))}


def size_report(interval_level: float, n: int, results: list[dict], extra: list[dict] | None = None) -> dict:
    """The rates at one size (`interval_level`: the prediction interval's, TRAINING_COVERAGE); `extra`:
    interval-only clinics (their prediction intervals' coverage joins that of the full clinics)."""
    extra = extra or []

    def collect(key: str) -> list:
        runs = results + extra if key.startswith("interval") else results
        return [r[key] for r in runs if r.get(key) is not None]

    coverage: dict = {}
    stated = {
        "bootstrap CI of MAE (run page)": ("mae_ci", 0.95),
        "promotion bound, MAE difference (one-sided)": ("bound_worse", 0.95),
        "prediction interval, new patients": ("interval", interval_level),
    }
    bands = sorted({k for r in results for k in r if k.startswith("interval_")})
    for key in bands:
        stated[f"prediction interval, new patients, predicted {key.removeprefix('interval_')}"] = (
            key,
            interval_level,
        )
    for name, (key, level) in stated.items():
        values = collect(key)
        if key == "bound_worse":
            values += collect("bound_better")
        runs = len(results) + (len(extra) if key.startswith("interval") else 0)
        stated_in = len(values) / (runs * (2 if key == "bound_worse" else 1))
        rate = _rate(values) if values else {"value": None, "se": None, "n": 0}
        coverage[name] = {
            "stated": level,
            "observed": rate["value"],
            "se": rate["se"],
            "stated_in_share_of_runs": round(stated_in, 4),
        }
    worse, better, gate = (_rate(collect(k)) for k in ("worse_promoted", "better_promoted", "gate_right"))
    ses = [r["se"] for r in (worse, better, gate)] + [c["se"] for c in coverage.values()]
    # An interval stated in few of the runs (a band with its own half-width in 3% of clinics) is measured
    # on those runs only: its standard error is larger, and named here rather than hidden.
    above = sorted(name for name, c in coverage.items() if c["se"] is not None and c["se"] >= SE_GOAL)
    return {
        "patients": n,
        "reps": len(results),
        "interval_reps": len(results) + len(extra),
        "worse_promoted_rate": worse["value"],
        "worse_promoted_se": worse["se"],
        "better_promoted_rate": better["value"],
        "better_promoted_se": better["se"],
        "coverage": coverage,
        "gate_picks_better_rate": gate["value"],
        "gate_picks_better_se": gate["se"],
        "max_se": max((se for se in ses if se is not None), default=None),
        "se_above_goal": above,
        "test_patients_median": float(np.median(collect("test_patients"))),
        "calibration_patients_median": float(np.median(collect("calibration_patients"))),
    }


def interval_se_above_goal(size: dict) -> bool:
    return any(name.startswith("prediction interval") for name in size["se_above_goal"])


def format_report(report: dict) -> str:
    sim = report["simulation"]
    lines = [
        f"learning loop at a clinic's size ({sim['pool_patients']} generator patients, questionnaire ICC "
        f"{sim['questionnaire_total_icc']}, error ICC {sim['error_icc']}, candidate/active error "
        f"correlation {sim['error_correlation']}, margin {sim['margin']}, min test patients "
        f"{sim['min_test_patients']}; {report['seconds']} s)",
        f"{'patients':>8} {'reps':>5} {'worse promoted':>16} {'better promoted':>16} {'gate right':>12}",
    ]
    for s in report["sizes"]:
        lines.append(
            f"{s['patients']:>8} {s['reps']:>5} {_pct(s['worse_promoted_rate'], s['worse_promoted_se']):>16} "
            f"{_pct(s['better_promoted_rate'], s['better_promoted_se']):>16} "
            f"{_pct(s['gate_picks_better_rate'], s['gate_picks_better_se']):>12}"
        )
        if s["interval_reps"] > s["reps"]:
            lines.append(
                f"{'':>8} prediction intervals over {s['interval_reps']} clinics "
                f"({s['interval_reps'] - s['reps']} interval-only, for the rarely stated ones)"
            )
        if s["se_above_goal"]:
            above = ", ".join(s["se_above_goal"])
            lines.append(f"{'':>8} standard error 1.5 points or more (stated in few runs): {above}")
        for name, c in s["coverage"].items():
            observed = "not stated" if c["observed"] is None else _pct(c["observed"], c["se"])
            lines.append(
                f"{'':>8} {name}: stated {c['stated']:.0%}, observed {observed} "
                f"(stated in {c['stated_in_share_of_runs']:.0%} of runs)"
            )
    return "\n".join(lines)


def _pct(value: float | None, se: float | None) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" + ("" if se is None else f" ±{100 * se:.1f}")
