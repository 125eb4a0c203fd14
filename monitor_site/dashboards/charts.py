"""Pure functions: rows in, Plotly figure out. No queries here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import plotly.graph_objects as go

from scoring.bands import BANDS, THRESHOLDS

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


@dataclass(frozen=True)
class QuestionnairePoint:
    at: datetime
    total: int


def trajectory_figure(points: list[TrajectoryPoint], questionnaires: list[QuestionnairePoint]) -> go.Figure:
    fig = go.Figure()
    for band in BANDS:
        fig.add_hrect(
            y0=band.low - 0.5 if band.low else 0,
            y1=band.high + 0.5 if band.high < 27 else 27,
            fillcolor=BAND_COLOURS[band.key],
            line_width=0,
            layer="below",
            annotation_text=band.label,
            annotation_position="right",
            annotation_font_size=10,
        )
    for threshold in THRESHOLDS:
        fig.add_hline(y=threshold, line_dash="dot", line_color="rgba(80,80,80,0.6)", line_width=1)
    if points:
        xs = [p.at for p in points]
        fig.add_trace(
            go.Scatter(
                x=xs + xs[::-1],
                y=[p.high for p in points] + [p.low for p in points][::-1],
                fill="toself",
                fillcolor="rgba(49, 99, 176, 0.15)",
                line={"width": 0},
                hoverinfo="skip",
                name="Prediction interval",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[p.total for p in points],
                mode="lines+markers",
                line={"color": "rgb(49, 99, 176)", "width": 2},
                marker={"size": 5},
                name="Model-inferred PHQ-9",
                customdata=[[p.low, p.high, p.model_version] for p in points],
                hovertemplate="%{x|%d %b %Y %H:%M}<br>Model-inferred total %{y:.1f} "
                "(interval %{customdata[0]:.1f}–%{customdata[1]:.1f})<br>"
                "model %{customdata[2]}<extra></extra>",
            )
        )
    if questionnaires:
        fig.add_trace(
            go.Scatter(
                x=[q.at for q in questionnaires],
                y=[q.total for q in questionnaires],
                mode="markers",
                marker={
                    "symbol": "diamond",
                    "size": 11,
                    "color": "rgb(20, 20, 20)",
                    "line": {"width": 1, "color": "white"},
                },
                name="Self-report PHQ-9 (questionnaire)",
                hovertemplate="%{x|%d %b %Y}<br>Self-report questionnaire total %{y}<extra></extra>",
            )
        )
    fig.update_layout(
        yaxis={"range": [0, 27], "title": "PHQ-9 total", "dtick": 5},
        xaxis={"title": None},
        margin={"l": 50, "r": 110, "t": 20, "b": 40},
        height=380,
        legend={"orientation": "h", "y": -0.15},
        hovermode="closest",
        template="plotly_white",
    )
    return fig


def evaluation_figure(points: list[dict], auc_by_threshold: dict[str, float | None]) -> go.Figure:
    """Held-out test set: predicted vs self-report totals, and AUC at every threshold 3..24."""
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Predicted vs self-report (held-out test)", "AUC by threshold")
    )
    fig.add_trace(
        go.Scatter(
            x=[p["true"] for p in points],
            y=[p["pred"] for p in points],
            mode="markers",
            name="test windows",
            marker={"size": 7, "color": "rgb(49, 99, 176)"},
            hovertemplate="self-report %{x}<br>model-inferred %{y:.1f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 27],
            y=[0, 27],
            mode="lines",
            name="perfect agreement",
            line={"dash": "dot", "color": "grey"},
        ),
        row=1,
        col=1,
    )
    thresholds = sorted(auc_by_threshold, key=int)
    fig.add_trace(
        go.Scatter(
            x=[int(t) for t in thresholds],
            y=[auc_by_threshold[t] for t in thresholds],
            mode="lines+markers",
            name="AUC",
            connectgaps=False,
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text="self-report PHQ-9", range=[0, 27], row=1, col=1)
    fig.update_yaxes(title_text="model-inferred PHQ-9", range=[0, 27], row=1, col=1)
    fig.update_xaxes(title_text="PHQ-9 threshold", row=1, col=2)
    fig.update_yaxes(title_text="AUC", range=[0.4, 1.0], row=1, col=2)
    fig.update_layout(height=380, template="plotly_white", showlegend=False, margin={"t": 40})
    return fig
