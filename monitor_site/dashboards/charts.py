"""Pure functions: rows in, Plotly figure out (plain dicts for the clinician pages). No queries here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scoring.phq9 import BANDS, ITEM_LABELS, THRESHOLDS, TOTAL_MAX, chart_line

BAND_COLOURS = {
    "minimal": "rgba(46, 160, 67, 0.10)",
    "mild": "rgba(187, 196, 44, 0.12)",
    "moderate": "rgba(240, 173, 78, 0.14)",
    "moderately_severe": "rgba(232, 112, 60, 0.14)",
    "severe": "rgba(200, 40, 40, 0.14)",
}


@dataclass(frozen=True)
class TrajectoryPoint:
    at: datetime
    total: float
    low: float
    high: float
    band: str
    model_version: str
    prediction_id: int = 0
    llm: bool = False  # a cold-start LLM rating, not a trained model's estimate
    validated: bool = True  # False: an LLM rating not yet validated here (no interval is drawn)


@dataclass(frozen=True)
class QuestionnairePoint:
    at: datetime
    total: int


@dataclass(frozen=True)
class EventMark:
    """Something that happened (an alert, an acknowledgement, a note, a model change), marked along the
    top of the trajectory; the page lists the same events as text."""

    at: datetime
    kind: str
    label: str


EVENT_SYMBOLS = {
    "alert": ("triangle-up", "rgb(161, 13, 13)"),
    "acknowledged": ("circle-open", "rgb(122, 90, 0)"),
    "resolved": ("circle", "rgb(29, 122, 50)"),
    "note": ("square", "rgb(95, 107, 122)"),
    "model": ("line-ns-open", "rgb(49, 99, 176)"),
}
EVENT_ROW = TOTAL_MAX - 0.8  # the markers' height: above every band label, inside the axis


def trajectory_figure(
    points: list[TrajectoryPoint],
    questionnaires: list[QuestionnairePoint],
    events: list[EventMark] | None = None,
    *,
    active_version: str = "",
    version_names: dict[str, str] | None = None,
) -> dict:
    """The patient's trajectory as a plain Plotly figure dict (data + layout). Built by hand rather than
    through plotly.graph_objects: validating a year of points that way cost ~100 ms per page view."""
    shapes: list[dict] = []
    annotations: list[dict] = []
    for band in BANDS:
        y0 = band.low - 0.5 if band.low else 0
        y1 = band.high + 0.5 if band.high < TOTAL_MAX else TOTAL_MAX
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": y0,
                "y1": y1,
                "fillcolor": BAND_COLOURS[band.key],
                "line": {"width": 0},
                "layer": "below",
            }
        )
        annotations.append(
            {
                "xref": "paper",
                "x": 1,
                "xanchor": "left",
                "yref": "y",
                "y": (y0 + y1) / 2,
                "text": band.label,
                "showarrow": False,
                "font": {"size": 10},
            }
        )
    for threshold in THRESHOLDS:
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": chart_line(threshold),  # where rounding reaches the line (14.5 -> 15)
                "y1": chart_line(threshold),
                "line": {"dash": "dot", "color": "rgba(80,80,80,0.6)", "width": 1},
            }
        )
    data: list[dict] = []
    by_version: dict[str, list[TrajectoryPoint]] = {}
    for p in points:
        by_version.setdefault(p.model_version, []).append(p)
    # One line per model version: a newer model's rescoring of recent weeks sits beside the older
    # model's points instead of silently replacing them. The active version is the line, drawn last (on
    # top); the others are faint, named with their dates (`version_names`). Without an active version
    # among them (a cold start), the newest is the line.
    current = active_version if active_version in by_version else list(by_version)[-1] if by_version else ""
    names = version_names or {}
    order = [v for v in by_version if v != current] + ([current] if current else [])
    for version in order:
        series = by_version[version]
        newest = version == current
        colour = "49, 99, 176" if newest else "150, 150, 165"
        label = names.get(version, version) + (" — current" if newest and active_version == current else "")
        xs = [p.at for p in series]
        llm = series[0].llm
        # A rating not validated here has no interval: its ribbon collapses onto the line.
        highs = [p.high if p.validated else p.total for p in series]
        lows = [p.low if p.validated else p.total for p in series]
        what = "LLM-rated PHQ-9 (cold start, not a trained model" if llm else "Model-inferred PHQ-9 (model"
        data.append(
            {
                "type": "scatter",
                "x": xs + xs[::-1],
                "y": highs + lows[::-1],
                "fill": "toself",
                "fillcolor": f"rgba({colour}, {0.15 if newest else 0.06})",
                "line": {"width": 0},
                "hoverinfo": "skip",
                "name": f"Prediction interval ({label})",
                "legendgroup": version,
                "showlegend": newest,
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": [p.total for p in series],
                "mode": "lines+markers",
                "line": {
                    "color": f"rgb({colour})",
                    "width": 2 if newest else 1,
                    "dash": "dash" if llm else "solid",
                },
                "opacity": 1 if newest else 0.55,
                "marker": {"size": 5 if newest else 3, "symbol": "circle-open" if llm else "circle"},
                "name": f"{what} {label})",
                "legendgroup": version,
                "customdata": [
                    [
                        f"{p.low:.1f}–{p.high:.1f}" if p.validated else "not yet validated here",
                        p.model_version,
                        "LLM-rated" if llm else "model-inferred",
                        p.prediction_id,  # index 3: what static/js/charts.js opens on a click
                    ]
                    for p in series
                ],
                "hovertemplate": "%{x|%d %b %Y %H:%M}<br>"
                + ("LLM-rated" if llm else "Model-inferred")
                + " total %{y:.1f} (interval %{customdata[0]})<br>"
                "model %{customdata[1]}<br>click for the evidence<extra></extra>",
            }
        )
    if questionnaires:
        data.append(
            {
                "type": "scatter",
                "x": [q.at for q in questionnaires],
                "y": [q.total for q in questionnaires],
                "mode": "markers+text",
                "text": ["self-report"] * len(questionnaires),
                "textposition": "top center",
                "marker": {
                    "symbol": "diamond",
                    "size": 11,
                    "color": "rgb(20, 20, 20)",
                    "line": {"width": 1, "color": "white"},
                },
                "name": "Self-report PHQ-9 (questionnaire)",
                "hovertemplate": "%{x|%d %b %Y}<br>Self-report questionnaire total %{y}<extra></extra>",
            }
        )
    by_kind: dict[str, list[EventMark]] = {}
    for event in events or []:
        by_kind.setdefault(event.kind, []).append(event)
    for kind, (symbol, colour) in EVENT_SYMBOLS.items():  # a fixed order: the legend does not shuffle
        marks = by_kind.get(kind)
        if not marks:
            continue
        data.append(
            {
                "type": "scatter",
                "x": [m.at for m in marks],
                "y": [EVENT_ROW] * len(marks),
                "mode": "markers",
                "marker": {
                    "symbol": symbol,
                    "size": 10,
                    "color": colour,
                    "line": {"width": 2, "color": colour},
                },
                "text": [m.label for m in marks],
                "name": f"Events: {kind}",
                "legendgroup": "events",
                "hovertemplate": "%{x|%d %b %Y %H:%M}<br>%{text}<extra></extra>",
            }
        )
    layout = {
        "shapes": shapes,
        "annotations": annotations,
        "yaxis": {"range": [0, TOTAL_MAX], "title": {"text": "PHQ-9 total"}, "dtick": 5},
        "xaxis": {"type": "date"},
        "margin": {"l": 50, "r": 110, "t": 20, "b": 40},
        "height": 380,
        "legend": {"orientation": "h", "y": -0.15},
        "hovermode": "closest",
    }
    return {"data": data, "layout": layout}


def item_heatmap(points: list[tuple[datetime, list[float]]]) -> dict:
    """The 9 model-inferred item scores (rows) over time (columns); item 9 on top, where eyes start."""
    labels = [f"{i + 1}. {label}" for i, label in enumerate(ITEM_LABELS)]
    trace = {
        "type": "heatmap",
        "x": [at for at, _ in points],
        "y": labels,
        "z": [[items[i] for _, items in points] for i in range(len(ITEM_LABELS))],
        "zmin": 0,
        "zmax": 3,
        "colorscale": "YlOrRd",
        "reversescale": True,  # plotly.js's YlOrRd runs dark to light; high scores should be dark
        "colorbar": {"title": {"text": "0–3"}, "thickness": 12},
        "hovertemplate": "%{x|%d %b %Y}<br>%{y}<br>model-inferred %{z:.2f} of 3<extra></extra>",
        "name": "Model-inferred item scores",
    }
    layout = {"height": 300, "margin": {"l": 260, "r": 20, "t": 10, "b": 30}, "xaxis": {"type": "date"}}
    return {"data": [trace], "layout": layout}


def engagement_figure(weeks: list[tuple[datetime, int, int]]) -> dict:
    """Sessions and user turns per week (bars)."""
    xs = [w for w, _, _ in weeks]
    data = [
        {"type": "bar", "x": xs, "y": [s for _, s, _ in weeks], "name": "Sessions"},
        {"type": "bar", "x": xs, "y": [t for _, _, t in weeks], "name": "User turns"},
    ]
    layout = {
        "height": 220,
        "barmode": "group",
        "margin": {"l": 40, "r": 20, "t": 10, "b": 30},
        "legend": {"orientation": "h", "y": -0.25},
        "yaxis": {"title": {"text": "per week"}},
    }
    return {"data": data, "layout": layout}
