"""A rule's name must say its own numbers (alerts and e-mails show the name): the check and the name
suggested. Plain functions on the rule's fields, so that `AlertRule.clean` can call them."""

from __future__ import annotations

import re
from typing import Any

from scoring.phq9 import BANDS, band_for


def rule_suggested_name(rule: Any) -> str:
    """The name the rule's own numbers give it."""
    prefix = "Self-report: " if rule.source == "self_report" else ""
    if rule.kind == "threshold":
        return f"{prefix}PHQ-9 at or above {rule.threshold:g} ({band_for(rule.threshold).label.lower()})"
    if rule.kind == "deterioration":
        return f"{prefix}Reliable deterioration ({rule.threshold:g}+ points over baseline)"
    if rule.kind == "no_data":
        return f"No session for {rule.days} days"
    return str(rule.name)


def rule_name_problem(rule: Any) -> str:
    """Why the name does not fit the rule ('' when it does): a number other than the threshold (the
    days, for a no-data rule), or a band word other than the threshold's band. "PHQ-9" and "item 9"
    are words, not numbers; item-9 rules are not checked."""
    if rule.kind == "self_harm":
        return ""
    expected = rule.days if rule.kind == "no_data" else rule.threshold
    text = re.sub(r"(?i)\b(phq-9|item 9)\b", "", rule.name)
    wrong = [n for n in (float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)) if n != expected]
    words = sorted((b.label.lower() for b in BANDS), key=len, reverse=True)
    said_band = next((w for w in words if w in text.lower()), None)
    band_ok = rule.kind != "threshold" or said_band in (None, band_for(rule.threshold).label.lower())
    if not wrong and band_ok:
        return ""
    said = f"{wrong[0]:g}" if wrong else f"'{said_band}'"
    what = "days" if rule.kind == "no_data" else "threshold"
    return (
        f"The name says {said} but the rule's {what} is {expected:g}: alerts and e-mails show the name. "
        f"Suggested: '{rule_suggested_name(rule)}'."
    )
