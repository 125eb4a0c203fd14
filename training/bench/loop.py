"""`python -m training benchmark loop`: the learning loop's decisions at a clinic's size, measured on
simulated clinics with known truth.

What is simulated and what is the product's own code:

- **Patients and questionnaires** come from the demo clinic's generator (training/synthetic/clinic.py):
  its latent trajectories (improving, worsening, flat, relapsing) give each patient several questionnaire
  totals with the generator's within-patient correlation (the ICC of the totals is measured on the pool
  and written in the report). A pool is generated once; each simulated clinic draws its patients from it
  and shifts each one's history by a random enrolment date within a year, so patients start at
  different times as in a clinic.
- **Models** are not trained (that would take hours): a model's predicted total is the self-report
  total shrunk towards the mean plus an error with a patient part and a window part (`error_icc` of its
  variance is the patient's: a patient's way of writing misleads a model on all their windows), clipped
  to 0-27. A candidate's error correlates with the active model's (`error_correlation`) and is scaled so
  that its true MAE, measured on the whole pool, is 10% above or below the active model's. The cold
  start's LLM rater rates with a bias (the product fits its map of totals on development patients).
- **The product's code decides**: the time-ordered held-out split (`training.splits`), the validation
  split into early-stopping and calibration patients, the patient-level conformal interval
  (`scoring.calibration.Calibration`), the run page's bootstrap intervals (`training.metrics
  .regression_report`), the promotion rule (`training.promotion.promotion_decision`), the first-model
  gate (`training.promotion.first_model_gate`) and the rater's map (`training.labelling.validation`).

Per clinic size it reports how often a candidate truly 10% worse is promoted, how often one truly 10%
better is, the observed coverage of every interval the product states (with how often it was stated at
all: an interval withheld as "too few patients to say" states nothing), and how often the first-model
gate picks the better of rater and model; each rate with its Monte Carlo standard error. A prediction
interval stated in few clinics (a band's own half-width needs 10 calibration patients in the band) is
measured on those alone, so interval-only clinics (split and calibration, no promotion: cheap) are added
until its standard error is under 1.5 points, at most INTERVAL_EXTRA_REPS times the reps
(`interval_reps` in the report).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from scoring.calibration import Calibration
from scoring.cli_args import arg
from scoring.phq9 import TOTAL_MAX, band_for
from scoring.types import LabeledWindow, Window
from training.bench.loop_report import SE_GOAL, interval_se_above_goal, size_report
from training.labelling.label import ClaudeLabel
from training.labelling.rater import gate_totals
from training.labelling.validation import ValidationPair
from training.metrics import regression_report
from training.promotion import PairedPoints, PromotionRule, first_model_gate, promotion_decision
from training.splits import held_out_test_split, split_by_group, split_validation
from training.synthetic.clinic import generate_clinic

END = datetime(2026, 1, 1, tzinfo=UTC)
EFFECT = 0.10  # a candidate truly worse / better by 10% MAE
INTERVAL_EXTRA_REPS = 4  # interval-only clinics, at most this many times the reps, for a rarely stated one
RATER_BIAS = 2.0  # the simulated LLM rater rates this many points high (its map has work to do)


@dataclass
class LoopBenchArgs:
    patients: str = arg("30,100,300", "clinic sizes: patients with questionnaires, comma-separated")
    reps: int = arg(
        1250, "simulated clinics per size (1250: every rate's Monte Carlo standard error under 1.5 points)"
    )
    active_mae: float = arg(3.5, "the active model's true MAE on the pool (PHQ-9 points)")
    error_icc: float = arg(0.4, "share of a model's error variance that is the patient's (within-patient)")
    error_correlation: float = arg(0.8, "correlation of the candidate's and the active model's errors")
    shrinkage: float = arg(0.8, "a model's prediction = mean + shrinkage * (truth - mean) + error")
    rater_mae: float = arg(4.0, "the LLM rater's raw MAE before its map (it rates RATER_BIAS points high)")
    test_fraction: float = arg(0.2, "TRAINING_TEST_FRACTION")
    val_fraction: float = arg(0.2, "TRAINING_VAL_FRACTION: development patients held out for validation")
    coverage: float = arg(0.8, "TRAINING_COVERAGE: the prediction interval's level")
    margin: float = arg(0.075, "PROMOTION_MAE_MARGIN: share of the active model's MAE")
    min_test_patients: int = arg(20, "PROMOTION_MIN_TEST_PATIENTS")
    first_model_min_patients: int = arg(30, "COLD_START_FIRST_MODEL_MIN_PATIENTS")
    rater_min_pairs: int = arg(20, "LLM_SCORING_MIN_VALIDATION_PAIRS: pairs the rater's map needs")
    rounds: int = arg(500, "bootstrap resamples per interval (the product uses 1000)")
    pool: int = arg(1500, "patients generated once by the demo clinic's generator")
    seed: int = arg(11, "seed of the whole benchmark")

    def __post_init__(self) -> None:
        try:
            self.sizes = sorted({int(p) for p in str(self.patients).split(",") if p.strip()})
        except ValueError as exc:
            raise ValueError(f"patients must be comma-separated integers, got {self.patients!r}") from exc
        if not self.sizes or min(self.sizes) < 5:
            raise ValueError("patients: give clinic sizes of at least 5 patients")
        if max(self.sizes) > self.pool:
            raise ValueError(f"patients: the largest size ({max(self.sizes)}) exceeds pool ({self.pool})")
        if self.reps < 1 or self.rounds < 50:
            raise ValueError("reps must be >= 1 and rounds >= 50")
        if not 0 <= self.error_icc < 1 or not 0 <= self.error_correlation < 1:
            raise ValueError("error_icc and error_correlation must lie in [0, 1)")


@dataclass(frozen=True)
class _Pool:
    """The generator's patients: per window its patient index, total and date (days after the start)."""

    patient: np.ndarray  # (W,) patient index
    total: np.ndarray  # (W,) self-report total
    day: np.ndarray  # (W,) days from the patient's first day of history
    n_patients: int
    icc: float
    windows_of: list[np.ndarray]  # per patient, their window indices (looked up once, used every run)


def _pool(args: LoopBenchArgs) -> _Pool:
    patients = generate_clinic(
        n_patients=args.pool, weeks=12, end=END, seed=args.seed, questionnaire_share=1.0, sessions=False
    )
    rows = [
        (i, float(sum(a.items)), (a.completed_at - END).total_seconds() / 86400)
        for i, p in enumerate(patients)
        for a in p.assessments
    ]
    index = np.array([r[0] for r in rows])
    total = np.array([r[1] for r in rows])
    windows_of = [np.flatnonzero(index == i) for i in range(len(patients))]
    return _Pool(index, total, np.array([r[2] for r in rows]), len(patients), _icc(index, total), windows_of)


def _icc(groups: np.ndarray, values: np.ndarray) -> float:
    """One-way random-effects ICC(1) of `values` within `groups` (unequal group sizes)."""
    labels, counts = np.unique(groups, return_counts=True)
    means = np.array([values[groups == g].mean() for g in labels])
    grand, n, k = values.mean(), len(values), len(labels)
    msb = float((counts * (means - grand) ** 2).sum() / (k - 1))
    msw = float(sum(((values[groups == g] - m) ** 2).sum() for g, m in zip(labels, means, strict=True)))
    msw /= n - k
    k0 = (n - (counts**2).sum() / n) / (k - 1)
    return (msb - msw) / (msb + (k0 - 1) * msw)


def _structured(rng: np.random.Generator, patient: np.ndarray, icc: float) -> np.ndarray:
    """Standard-normal errors, `icc` of their variance shared by a patient's windows."""
    shared = rng.standard_normal(int(patient.max()) + 1)[patient]
    return math.sqrt(icc) * shared + math.sqrt(1 - icc) * rng.standard_normal(len(patient))


class _Models:
    """The simulated models' predictions on given windows, with their scales fitted to true MAEs."""

    def __init__(self, args: LoopBenchArgs, pool: _Pool) -> None:
        self.args = args
        self.mean = float(pool.total.mean())
        rng = np.random.default_rng(args.seed + 1)
        # A large draw on the pool: the truth each scale is fitted to.
        idx = np.tile(np.arange(len(pool.total)), 40)
        patient = np.repeat(np.arange(40), len(pool.total)) * pool.n_patients + pool.patient[idx]
        truth = pool.total[idx]
        z_active = _structured(rng, patient, args.error_icc)
        z_other = _structured(rng, patient, args.error_icc)
        self.active_scale = self._fit(truth, z_active, args.active_mae)
        z_candidate = args.error_correlation * z_active + math.sqrt(1 - args.error_correlation**2) * z_other
        self.worse_scale = self._fit(truth, z_candidate, args.active_mae * (1 + EFFECT))
        self.better_scale = self._fit(truth, z_candidate, args.active_mae * (1 - EFFECT))
        self.rater_scale = self._noise_scale(z_other, args.rater_mae)
        rater_raw = self.rate(truth, z_other)
        # The rater's true MAE after an ideal map (fitted on the whole draw): what the model is set against.
        self.rater_mae = float(np.abs(_ideal_map(rater_raw, truth)(rater_raw) - truth).mean())
        self.model_better_scale = self._fit(truth, z_candidate, self.rater_mae * (1 - EFFECT))
        self.model_worse_scale = self._fit(truth, z_candidate, self.rater_mae * (1 + EFFECT))

    def predict(self, truth: np.ndarray, z: np.ndarray, scale: float) -> np.ndarray:
        shrunk = self.mean + self.args.shrinkage * (truth - self.mean)
        return np.clip(shrunk + scale * z, 0, TOTAL_MAX)

    def _fit(self, truth: np.ndarray, z: np.ndarray, target: float) -> float:
        lo, hi = 0.0, 20.0
        for _ in range(40):  # bisection: the MAE grows with the scale
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.abs(self.predict(truth, z, mid) - truth).mean() < target else (lo, mid)
        return (lo + hi) / 2

    def rate(self, truth: np.ndarray, z: np.ndarray) -> np.ndarray:
        """The rater's raw totals: RATER_BIAS points high, with its own error, whole points (an LLM rates
        each item 0-3)."""
        return np.round(np.clip(truth + RATER_BIAS + self.rater_scale * z, 0, TOTAL_MAX))

    @staticmethod
    def _noise_scale(z: np.ndarray, target: float) -> float:
        """The scale whose raw MAE (bias included, before clipping) is `target`."""
        lo, hi = 0.0, 20.0
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.abs(RATER_BIAS + mid * z).mean() < target else (lo, mid)
        return (lo + hi) / 2


def _ideal_map(raw: np.ndarray, truth: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=float(TOTAL_MAX), out_of_bounds="clip").fit(raw, truth)
    return iso.predict


@functools.cache
def _label(total: float) -> ClaudeLabel:
    """A rater's total as the label the product's map is fitted on (items spread evenly); one object
    per whole-point total, shared by every window and run."""
    items = tuple([min(3.0, total / 9)] * 9)
    return ClaudeLabel(
        items=items, evidence=("",) * 9, confidence=1.0, model="simulated", input_tokens=0, output_tokens=0
    )


@dataclass
class _Clinic:
    examples: list[LabeledWindow]
    truth: np.ndarray
    patient: np.ndarray  # local patient index per window


def _clinic(pool: _Pool, n: int, rng: np.random.Generator) -> _Clinic:
    chosen = rng.choice(pool.n_patients, size=n, replace=False)
    shift = rng.uniform(0, 365, size=n)  # enrolment dates spread over a year
    examples, truth, patient = [], [], []
    for local, (p, days) in enumerate(zip(chosen, shift, strict=True)):
        for w in pool.windows_of[p]:
            end = END + timedelta(days=float(pool.day[w] + days))
            window = Window(id=f"w{local}-{w}", conversations=(), start=end - timedelta(days=14), end=end)
            examples.append(LabeledWindow(window, total=float(pool.total[w]), group=f"patient-{local}"))
            truth.append(pool.total[w])
            patient.append(local)
    return _Clinic(examples, np.array(truth), np.array(patient))


@dataclass
class _Split:
    """A simulated clinic split by the product's code, with the active model's predictions."""

    clinic: _Clinic
    groups: list[str]
    z_active: np.ndarray
    z_other: np.ndarray
    active: np.ndarray
    dev: list[int]
    test: list[int]
    calibrate_idx: list[int]


def _split_clinic(
    args: LoopBenchArgs, pool: _Pool, models: _Models, n: int, rng: np.random.Generator
) -> _Split:
    clinic = _clinic(pool, n, rng)
    z_active = _structured(rng, clinic.patient, args.error_icc)
    z_other = _structured(rng, clinic.patient, args.error_icc)
    active = models.predict(clinic.truth, z_active, models.active_scale)
    dev, test = held_out_test_split(clinic.examples, fraction=args.test_fraction, kind="time")
    dev_examples = [clinic.examples[i] for i in dev]
    _, val = split_by_group(dev_examples, val_fraction=args.val_fraction, seed=int(rng.integers(1 << 30)))
    _, calibrate = split_validation(dev_examples, val)
    groups = [e.group for e in clinic.examples]
    return _Split(clinic, groups, z_active, z_other, active, dev, test, [dev[i] for i in calibrate])


def _prediction_interval(args: LoopBenchArgs, split: _Split) -> tuple[Calibration, dict]:
    """The prediction interval, calibrated on the calibration patients, and its coverage on new patients
    (the test ones)."""
    truth, active, idx = split.clinic.truth, split.active, split.calibrate_idx
    calibration = Calibration.fit(
        list(active[idx] - truth[idx]),
        coverage=args.coverage,
        predicted=list(active[idx]),
        groups=[split.groups[i] for i in idx],
    )
    return calibration, _interval_coverage(calibration, active, truth, split.clinic.patient, split.test)


def _interval_only(
    args: LoopBenchArgs, pool: _Pool, models: _Models, n: int, rng: np.random.Generator
) -> dict:
    """A clinic for the prediction interval's coverage alone (no promotion, no bootstrap: cheap), run
    where an interval stated in few clinics needs more of them for its standard error."""
    return _prediction_interval(args, _split_clinic(args, pool, models, n, rng))[1]


def _one_clinic(args: LoopBenchArgs, pool: _Pool, models: _Models, n: int, rng: np.random.Generator) -> dict:
    """One simulated clinic of `n` patients through the product's decisions; what each one got right."""
    split = _split_clinic(args, pool, models, n, rng)
    clinic, groups, active, test = split.clinic, split.groups, split.active, split.test
    truth, z_active, z_other = clinic.truth, split.z_active, split.z_other
    z_candidate = args.error_correlation * z_active + math.sqrt(1 - args.error_correlation**2) * z_other
    out: dict = {}
    rule = PromotionRule(margin=args.margin, min_patients=args.min_test_patients)

    def paired(candidate: np.ndarray, reference: np.ndarray) -> PairedPoints:
        return PairedPoints(
            list(truth[test]), list(candidate[test]), list(reference[test]), [groups[i] for i in test]
        )

    for name, scale in (("worse", models.worse_scale), ("better", models.better_scale)):
        candidate = models.predict(truth, z_candidate, scale)
        decision = promotion_decision(paired=paired(candidate, active), rule=rule, rounds=args.rounds)
        out[f"{name}_promoted"] = decision.promote
        upper = decision.numbers.get("mae_upper")
        if upper is not None:  # the bound the run page states: does it hold the true difference?
            true_difference = (EFFECT if name == "worse" else -EFFECT) * args.active_mae
            out[f"bound_{name}"] = true_difference <= upper

    # The run page's 95% bootstrap interval of the active model's MAE on the test patients.
    report = regression_report(
        list(truth[test]), list(active[test]), groups=[groups[i] for i in test], bootstrap_rounds=args.rounds
    )
    ci = report.get("ci", {}).get("mae")
    out["mae_ci"] = None if ci is None else ci[0] <= args.active_mae <= ci[1]

    calibration, interval = _prediction_interval(args, split)
    out.update(interval)

    # The first-model gate: the model against the rater, the better one by 10% chosen at random.
    model_better = bool(rng.integers(2))
    model_scale = models.model_better_scale if model_better else models.model_worse_scale
    model = models.predict(truth, z_candidate, model_scale)
    raw = models.rate(truth, z_other)
    pairs = [
        ValidationPair(_label(float(r)), float(t), None, g)
        for r, t, g in zip(raw, truth, groups, strict=True)
    ]
    test_ids = [clinic.examples[i].window.id for i in test]
    rated, _ = gate_totals(  # the product's: the map fitted without the run's test patients
        pairs,
        {w: pairs[i].label for w, i in zip(test_ids, test, strict=True)},
        test_groups={groups[i] for i in test},
        min_pairs=args.rater_min_pairs,
    )
    gate = first_model_gate(
        questionnaire_patients=n,
        min_patients=args.first_model_min_patients,
        test=[clinic.examples[i] for i in test],
        candidate={clinic.examples[i].window.id: float(model[i]) for i in test},
        rater=rated,
        rule=rule,
        rounds=args.rounds,
    )
    out["gate_right"] = gate.promote == model_better
    out["test_patients"] = len({groups[i] for i in test})
    out["calibration_patients"] = calibration.patients
    return out


def _interval_coverage(
    calibration: Calibration, predicted: np.ndarray, truth: np.ndarray, patient: np.ndarray, test: list[int]
) -> dict:
    """Coverage of the stated interval on the new (test) patients, each patient weighing one: overall
    and by predicted band where the band has its own half-width. None where nothing is stated."""
    if not calibration.stated:
        return {"interval": None}
    inside = np.array([lo <= truth[i] <= hi for i in test for lo, hi in [calibration.interval(predicted[i])]])
    owner = patient[test]
    per_patient = [inside[owner == p].mean() for p in np.unique(owner)]
    out: dict = {"interval": float(np.mean(per_patient))}
    for band in calibration.by_band:
        mask = np.array([band_for(predicted[i]).key == band for i in test])
        if mask.any():
            owners, hits = owner[mask], inside[mask]
            out[f"interval_{band}"] = float(np.mean([hits[owners == p].mean() for p in np.unique(owners)]))
    return out


def run(args: LoopBenchArgs, *, progress: Callable[[str, float], None] | None = None) -> dict:
    report_progress = progress or (lambda stage, fraction: None)
    started = time.perf_counter()
    pool = _pool(args)
    models = _models(args, pool)
    rng = np.random.default_rng(args.seed)
    sizes = []
    total = len(args.sizes) * args.reps
    for k, n in enumerate(args.sizes):
        results = []
        for rep in range(args.reps):
            results.append(_one_clinic(args, pool, models, n, rng))
            report_progress(f"{n} patients", (k * args.reps + rep + 1) / total)
        # A prediction interval stated in few clinics (a band with its own half-width in 3% of them) is
        # measured on those alone: interval-only clinics, cheap, are added until its standard error is
        # under the goal (at most INTERVAL_EXTRA_REPS times the reps).
        extra: list[dict] = []
        report = size_report(args.coverage, n, results)
        while interval_se_above_goal(report) and len(extra) < INTERVAL_EXTRA_REPS * args.reps:
            extra += [_interval_only(args, pool, models, n, rng) for _ in range(max(args.reps // 4, 1))]
            report = size_report(args.coverage, n, results, extra)
            report_progress(f"{n} patients, intervals", (k + 1) * args.reps / total)
        sizes.append(report)
    return {
        "benchmark": "loop",
        "sizes": sizes,
        "goals": {
            "worse_promoted_rate": "<= 0.05 at every size",
            "better_promoted_rate": ">= 0.5 at 100 patients",
            "coverage": "observed within 0.03 of stated for new patients at >= 30 patients, or not stated",
            "prediction_interval": "stated from 100 patients on",
            "monte_carlo_se": f"< {SE_GOAL} on every rate (se_above_goal names any that is not)",
        },
        "simulation": {
            "truth": "demo clinic generator (training/synthetic/clinic.py), patients resampled from a pool",
            "pool_patients": pool.n_patients,
            "pool_windows": int(len(pool.total)),
            "questionnaire_total_icc": round(pool.icc, 3),
            "windows_per_patient": round(len(pool.total) / pool.n_patients, 2),
            "active_mae": args.active_mae,
            "candidate_effect": f"+/-{EFFECT:.0%} of the active MAE",
            "error_icc": args.error_icc,
            "error_correlation": args.error_correlation,
            "shrinkage": args.shrinkage,
            "rater_mae_after_ideal_map": round(models.rater_mae, 3),
            "margin": args.margin,
            "min_test_patients": args.min_test_patients,
            "bootstrap_rounds": args.rounds,
            "seed": args.seed,
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


def _models(args: LoopBenchArgs, pool: _Pool) -> _Models:
    return _Models(args, pool)
