"""Each patient's TrajectorySummary (the triage list reads only that table)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Case, IntegerField, Min, Value, When

from monitor_site.modelops.models import ModelVersion
from monitor_site.predictions.models import Prediction, TrajectorySummary
from scoring.phq9 import ITEM_SELF_HARM

# Baseline: the mean model-inferred total over the first 14 days of monitoring (one noisy window is a
# poor baseline), by the model version of the latest score: a change compares one version's scores (a
# promotion re-scores the baseline windows too; until then there is no comparison). Trend: that
# version's weekly means over the last 4 weeks before the latest prediction.

BASELINE_DAYS = 14
TREND_WEEKS = 4


def _totals_between(patient_id: int, start: datetime, end: datetime, *, version_id: int) -> list[float]:
    """The totals one model version gave in [start, end]: a baseline compared with a latest score of the
    same version (two versions score the same window differently)."""
    rows = Prediction.objects.filter(
        patient_id=patient_id, window_end__gte=start, window_end__lte=end, model_version_id=version_id
    )
    return list(rows.values_list("total", flat=True))


def _latest(patient_id: int) -> Prediction | None:
    """The patient's latest window, scored by the active model version where it has scored it (after a
    roll-back too), else by the newest version that did (the pages say it is not the current model's)."""
    active_first = Case(
        When(model_version__status=ModelVersion.Status.ACTIVE, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        Prediction.objects.filter(patient_id=patient_id)
        .annotate(active=active_first)
        .order_by("-window_end", "-active", "-model_version__created_at", "-pk")
        .first()
    )


def trajectory_summaries_refresh(*, patient_ids: Iterable[int]) -> int:
    """Recompute the summaries of these patients from their predictions. Returns summaries written."""
    ids = sorted(set(patient_ids))
    if not ids:
        return 0
    firsts = dict(
        Prediction.objects.filter(patient_id__in=ids)
        .values("patient_id")
        .annotate(first=Min("window_end"))
        .values_list("patient_id", "first")
    )
    fixed = dict(
        TrajectorySummary.objects.filter(pk__in=ids, baseline_from__isnull=False).values_list(
            "patient_id", "baseline_from"
        )
    )
    written = 0
    for patient_id in ids:
        if firsts.get(patient_id) is None:
            TrajectorySummary.objects.filter(pk=patient_id).delete()
            continue
        # The baseline period, once set, stays: a session back-dated within the allowed limit
        # (SESSION_BACKDATE_LIMIT_DAYS) shows on the chart but does not move the baseline.
        first = fixed.get(patient_id, firsts[patient_id])
        latest = _latest(patient_id)
        assert latest is not None
        version_id = latest.model_version_id
        baseline_rows = _totals_between(
            patient_id, first, first + timedelta(days=BASELINE_DAYS), version_id=version_id
        )
        if (
            not baseline_rows
            and not Prediction.objects.filter(
                patient_id=patient_id,
                window_end__gte=first,
                window_end__lte=first + timedelta(days=BASELINE_DAYS),
            ).exists()
        ):  # the fixed period's predictions are gone (erased): start afresh
            first = firsts[patient_id]
            baseline_rows = _totals_between(
                patient_id, first, first + timedelta(days=BASELINE_DAYS), version_id=version_id
            )
        since = latest.window_end - timedelta(weeks=TREND_WEEKS)
        recent = list(
            Prediction.objects.filter(
                patient_id=patient_id, window_end__gt=since, model_version_id=version_id
            )
            .order_by("window_end")
            .values_list("window_end", "total")
        )
        weeks: dict[int, list[float]] = defaultdict(list)
        for at, total in recent:
            weeks[min((at - since) // timedelta(weeks=1), TREND_WEEKS - 1)].append(total)
        trend = [round(sum(v) / len(v), 2) for _, v in sorted(weeks.items())]
        # No baseline window scored by the latest score's model (not re-scored yet): no comparison.
        baseline = sum(baseline_rows) / len(baseline_rows) if baseline_rows else None
        TrajectorySummary.objects.update_or_create(
            patient_id=patient_id,
            defaults={
                "latest_prediction": latest,
                "latest_total": latest.total,
                "latest_band": latest.band,
                "latest_self_harm": float(latest.items[ITEM_SELF_HARM]),
                "latest_risk_language": latest.risk_language,
                "latest_at": latest.window_end,
                "baseline_total": round(baseline, 2) if baseline is not None else None,
                "baseline_from": first,
                "change_since_baseline": round(latest.total - baseline, 2) if baseline is not None else None,
                "trend": trend,
                # The change the sparkline draws: last weekly mean minus the first (None under two weeks).
                "change_4_weeks": round(trend[-1] - trend[0], 2) if len(trend) > 1 else None,
            },
        )
        written += 1
    return written
