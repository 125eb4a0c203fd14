"""The training run page's evaluation figure (admin): a pure function from a run's report to a Plotly
figure, like dashboards/charts.py, kept here because modelops sits below dashboards."""

from __future__ import annotations

import plotly.graph_objects as go

from scoring.phq9 import TOTAL_MAX


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
            x=[0, TOTAL_MAX],
            y=[0, TOTAL_MAX],
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
    fig.update_xaxes(title_text="self-report PHQ-9", range=[0, TOTAL_MAX], row=1, col=1)
    fig.update_yaxes(title_text="model-inferred PHQ-9", range=[0, TOTAL_MAX], row=1, col=1)
    fig.update_xaxes(title_text="PHQ-9 threshold", row=1, col=2)
    fig.update_yaxes(title_text="AUC", range=[0.4, 1.0], row=1, col=2)
    fig.update_layout(height=380, template="plotly_white", showlegend=False, margin={"t": 40})
    return fig
