"""Small presentation helpers for the clinician templates."""

from __future__ import annotations

from django import template

from scoring.bands import band_by_key

register = template.Library()


@register.filter
def sparkline_points(values: list[float], size: str = "72x20") -> str:
    """SVG polyline points for totals on the 0..27 scale (server-side: no script needed)."""
    width, height = (int(v) for v in size.split("x"))
    if not values:
        return ""
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 1 - (min(max(v, 0.0), 27.0) / 27.0) * (height - 2):.1f}"
        for i, v in enumerate(values)
    )


@register.filter
def percent(value: float) -> str:
    return f"{100 * float(value):.0f}%"


@register.filter
def band_label(key: str) -> str:
    """ "moderately_severe" -> "Moderately severe" (the one place that knows bands: scoring.bands)."""
    try:
        return band_by_key(key).label
    except KeyError:
        return key
