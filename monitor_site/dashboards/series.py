"""A patient's current series: which of their predictions the pages show as the score of each window
(the active model version's; after a roll-back too), and how the chart names each version. Rows in,
rows out: no queries here."""

from __future__ import annotations

from datetime import timedelta

from monitor_site.modelops.models import ModelVersion
from monitor_site.predictions.models import Prediction


def current_series(predictions: list[Prediction]) -> list[Prediction]:
    """Per session (one window), the prediction of the active model version, else of the newest version
    that scored it (input sorted by window end, then model age). After a roll-back the active version
    wins over a newer retired one; a window it has not scored keeps the older score (the page says
    "not scored by the current model")."""
    by_session: dict[int, Prediction] = {}
    for p in predictions:
        kept = by_session.get(p.session_id)
        if (
            kept is None
            or p.model_version.status == ModelVersion.Status.ACTIVE
            or (kept.model_version.status != ModelVersion.Status.ACTIVE)
        ):
            by_session[p.session_id] = p
    return sorted(by_session.values(), key=lambda p: p.window_end)


def version_names(predictions: list[Prediction]) -> dict[str, str]:
    """version -> how the chart names it: the version with its promotion date and status."""
    names = {}
    for p in predictions:
        v = p.model_version
        if v.version not in names:
            when = (
                f"promoted {v.promoted_at:%d %b %Y}" if v.promoted_at else f"trained {v.created_at:%d %b %Y}"
            )
            names[v.version] = f"{v.version}, {when}, {v.get_status_display().lower()}"
    return names


def week_before(prediction: Prediction, series: list[Prediction]) -> Prediction | None:
    """The score to compare with: the latest of the series at least 7 days before `prediction`."""
    cutoff = prediction.window_end - timedelta(days=7)
    earlier = [p for p in series if p.window_end <= cutoff]
    return earlier[-1] if earlier else None
