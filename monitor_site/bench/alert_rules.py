"""What requiring a confident crossing costs: replay every patient's predictions through the threshold
rules twice, once on the point estimate and once on the interval's lower bound, and count the
episodes each opens and the self-reported crossings (a questionnaire reaching the line) each misses.

A self-reported crossing counts as caught when that line's episode was open when the questionnaire was
completed or opened within the 14 days after it. Pure replay: nothing is written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor_site.patients.models import Assessment, Patient
from monitor_site.predictions.models import Prediction, TrajectorySummary
from scoring.phq9 import THRESHOLDS, WINDOW_DAYS, reaches

GRACE = timedelta(days=WINDOW_DAYS)


@dataclass(frozen=True)
class Point:
    at: datetime
    total: float
    low: float  # the interval's lower bound


def replay_episodes(
    points: list[Point], line: float, *, confident: bool, consecutive: int = 2
) -> list[tuple[datetime, datetime | None]]:
    """(opened at, ended at or None) of each episode the rule would open on these points (oldest first):
    it opens when `consecutive` points in a row reach the line and ends when as many in a row do not."""
    episodes: list[tuple[datetime, datetime | None]] = []
    met: list[bool] = []
    opened: datetime | None = None
    for point in points:
        met.append(reaches(point.low if confident else point.total, line))
        recent = met[-consecutive:]
        if len(recent) < consecutive:
            continue
        if opened is None and all(recent):
            opened = point.at
        elif opened is not None and not any(recent):
            episodes.append((opened, point.at))
            opened = None
    if opened is not None:
        episodes.append((opened, None))
    return episodes


def missed_crossings(
    episodes: list[tuple[datetime, datetime | None]], questionnaires: list[tuple[datetime, int]], line: float
) -> tuple[int, int]:
    """(self-reported crossings, of which missed)."""
    crossings = missed = 0
    for at, total in questionnaires:
        if not reaches(total, line):
            continue
        crossings += 1
        caught = any(
            (start <= at and (end is None or end > at)) or (at < start <= at + GRACE)
            for start, end in episodes
        )
        missed += not caught
    return crossings, missed


def alert_rule_tradeoff(*, consecutive: int = 2) -> dict:
    """Per line (10/15/20) and crossing (point / confident): episodes opened, patients alerted,
    self-reported crossings and how many were missed, over every patient with predictions."""
    points: dict[int, list[Point]] = defaultdict(list)
    latest_version = dict(
        TrajectorySummary.objects.filter(latest_prediction__isnull=False).values_list(
            "pk", "latest_prediction__model_version_id"
        )
    )
    rows = Prediction.objects.order_by("patient_id", "window_end").values_list(
        "patient_id", "model_version_id", "window_end", "total", "interval_low"
    )
    for patient_id, version_id, at, total, low in rows.iterator(chunk_size=5000):
        if latest_version.get(patient_id) == version_id:  # one model's series, as the rules read it
            points[patient_id].append(Point(at, total, low))
    questionnaires: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for patient_id, at, total in Assessment.objects.order_by("completed_at").values_list(
        "patient_id", "completed_at", "total"
    ):
        questionnaires[patient_id].append((at, total))
    rows_out = []
    for line in THRESHOLDS:
        for confident in (False, True):
            opened = alerted = crossings = missed = 0
            for patient_id, series in points.items():
                episodes = replay_episodes(series, line, confident=confident, consecutive=consecutive)
                opened += len(episodes)
                alerted += bool(episodes)
                c, m = missed_crossings(episodes, questionnaires.get(patient_id, []), line)
                crossings, missed = crossings + c, missed + m
            rows_out.append(
                {
                    "line": line,
                    "crossing": "confident" if confident else "point",
                    "episodes": opened,
                    "patients_alerted": alerted,
                    "self_report_crossings": crossings,
                    "missed": missed,
                }
            )
    patients = Patient.objects.filter(pk__in=list(points))
    return {
        "patients": len(points),
        "synthetic": patients.exists() and not patients.filter(is_synthetic=False).exists(),
        "consecutive": consecutive,
        "rows": rows_out,
    }


def format_tradeoff(report: dict) -> str:
    lines = [
        f"{report['patients']} patients with predictions"
        + (" (synthetic demo clinic: not evidence about real patients)" if report["synthetic"] else ""),
        f"{'line':>5}  {'crossing':<10}{'episodes':>9}{'patients':>9}"
        f"{'self-report crossings':>23}{'missed':>8}",
    ]
    for r in report["rows"]:
        lines.append(
            f"{r['line']:>5}  {r['crossing']:<10}{r['episodes']:>9}{r['patients_alerted']:>9}"
            f"{r['self_report_crossings']:>23}{r['missed']:>8}"
        )
    return "\n".join(lines)
