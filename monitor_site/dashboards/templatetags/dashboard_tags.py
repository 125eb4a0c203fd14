"""Small presentation helpers for the clinician templates."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from scoring.phq9 import (
    CASENESS,
    ITEM_CHANGE_STEP,
    METHOD_MODEL,
    READING_NOTE,
    RELIABLE_CHANGE,
    REMISSION_BELOW,
    RESPONSE_FRACTION,
    SELF_HARM_FLAG,
    THRESHOLDS,
    TOTAL_MAX,
    Band,
    band_by_key,
    reliable_change,
    shown_range,
)

register = template.Library()


SPARK_MIN_SPAN = 3.0  # PHQ-9 points: a flat series is drawn flat, not as noise blown up to full height


@register.filter
def sparkline_points(values: list[float], size: str = "72x20") -> str:
    """SVG polyline points for weekly totals, scaled to their own range (at least SPARK_MIN_SPAN points
    tall, centred) so that a 2-point change is visible; the label states the range (server-side: no
    script needed)."""
    width, height = (int(v) for v in size.split("x"))
    if not values:
        return ""
    low, high = sparkline_range(values)
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 1 - ((v - low) / (high - low)) * (height - 2):.1f}"
        for i, v in enumerate(values)
    )


def sparkline_range(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high - low < SPARK_MIN_SPAN:
        middle = (low + high) / 2
        low, high = middle - SPARK_MIN_SPAN / 2, middle + SPARK_MIN_SPAN / 2
    return low, high


@register.filter
def sparkline_label(values: list[float]) -> str:
    """What the sparkline shows, for screen readers and the tooltip."""
    shown = ", ".join(f"{v:.1f}" for v in values)
    return f"Weekly mean model-inferred totals, oldest first: {shown}"


@register.filter
def percent(value: float) -> str:
    return f"{100 * float(value):.0f}%"


@register.filter
def band_label(key: str) -> str:
    """ "moderately_severe" -> "Moderately severe" (the one place that knows bands: scoring.phq9)."""
    try:
        return band_by_key(key).label
    except KeyError:
        return key


@register.filter
def css_string(value: object) -> SafeString:
    """`value` as a quoted CSS string (a printed page's header): every character but letters, digits,
    space and a few marks is escaped, so patient data cannot end the string or the style block."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:·()")
    body = "".join(c if c in safe else f"\\{ord(c):06x}" for c in str(value))
    return mark_safe(f'"{body}"')  # noqa: S308 # every other character is escaped above


@register.filter
def band_range(band: Band) -> str:
    """A band's range in the numbers the pages show ("Severe" -> "19.5–27"): what a filter label states."""
    return shown_range(band)


@register.filter
def change_class(change: float | None) -> str:
    """CSS class of a change since baseline: "flag" for reliable deterioration, "good" for reliable
    improvement (scoring.phq9.RELIABLE_CHANGE), "" otherwise."""
    if change is None:
        return ""
    return {"deterioration": "flag", "improvement": "good"}.get(reliable_change(change), "")


@register.simple_tag
def phq9_fact(name: str) -> str:
    """A PHQ-9 number for text in a template: {% phq9_fact "reliable_change" %} -> "6"."""
    facts = {
        "reliable_change": str(RELIABLE_CHANGE),
        "reliable_change_shown": f"{RELIABLE_CHANGE - 0.5:.1f}",  # the smallest change shown that is one
        "reading_note": READING_NOTE,
        "thresholds": ", ".join(str(t) for t in THRESHOLDS),
        "total_max": str(TOTAL_MAX),
        "caseness": str(CASENESS),
        "response_drop": f"{RESPONSE_FRACTION:.0%}",
        "remission_below": str(REMISSION_BELOW),
        "self_harm_flag": f"{SELF_HARM_FLAG:g}",
        "item_change_step": f"{ITEM_CHANGE_STEP:g}",
        "method_model": METHOD_MODEL,
    }
    return facts[name]


@register.filter
def item_change_class(change: float | None) -> str:
    """CSS class of a model-inferred item's change: "flag" when it rose by half an answer step or more
    (scoring.phq9.ITEM_CHANGE_STEP), "good" when it fell as far, "" otherwise."""
    if change is None:
        return ""
    if change >= ITEM_CHANGE_STEP:
        return "flag"
    return "good" if change <= -ITEM_CHANGE_STEP else ""


@register.filter
def interval(bounds: list[float] | None, digits: int = 2) -> str:
    """[low, high] as "low–high" (a bootstrap interval); "–" when it could not be estimated."""
    if not bounds:
        return "–"
    return f"{bounds[0]:.{int(digits)}f}–{bounds[1]:.{int(digits)}f}"
