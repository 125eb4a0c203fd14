"""Episode writes: one verdict about one patient's rule (or ladder of lines) applied to their alerts.

An episode belongs to one patient and one episode key (`AlertRule.episode_key`): the non-urgent
threshold rules of a source are one ladder of lines, so a score (or questionnaire) that crosses
several lines opens one alert at the highest, the lower ones folded in, and a step down keeps the
episode open at the lower line and says so; every other rule (urgent ones, item 9 among them,
deterioration, no data) is its own key and never folds. Two partial unique constraints hold it: one
live episode and one unresolved alert per patient and key. A new crossing while the alert of an ended
episode is still unresolved re-opens that alert. "Condition ended" is the time of the first window
(or questionnaire) back under the line. Every change is a line in the alert's history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from django.db import IntegrityError, transaction
from django.utils import timezone

from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.patients.models import Assessment
from monitor_site.predictions.models import Prediction
from scoring.phq9 import ITEM_SELF_HARM, TOTAL_MAX, band_for

Scored = Prediction | Assessment
MET, FAILED = "met", "failed"
HISTORY_SEARCH_LIMIT = 2000  # scores read back to find the first window under a line


def _when(scored: Scored) -> datetime:
    return scored.window_end if isinstance(scored, Prediction) else scored.completed_at


@dataclass
class Verdict:
    """What one evaluation says about one episode key of one patient."""

    target: AlertRule | None  # the rule (line) in force now; None: the condition no longer holds
    scored: Scored | None = None  # what shows it: the latest prediction or questionnaire
    keep: bool = False  # undecided (between the hysteresis bounds, too little text): change nothing
    folded: list[AlertRule] = field(default_factory=list)  # lower lines crossed as well
    first_under: Callable[[AlertRule], datetime | None] = lambda rule: None
    crossed_at: datetime | None = None  # when the crossing happened (default: the scored's time)
    baseline: float | None = None
    item9_sources: list[str] = field(default_factory=list)


def line_label(rule: AlertRule, ladder: Iterable[AlertRule] = ()) -> str:
    """'>= 15 (15-19)' for a rung of a ladder of lines, else the rule's name."""
    if not rule.folds:
        return rule.name
    above = sorted(r.threshold for r in ladder if r.threshold > rule.threshold)
    high = above[0] - 1 if above else TOTAL_MAX
    return f">= {rule.threshold:g} ({rule.threshold:g}–{high:g})"


def _set_numbers(alert: Alert, verdict: Verdict) -> None:
    scored = verdict.scored
    alert.prediction = scored if isinstance(scored, Prediction) else None
    alert.assessment = scored if isinstance(scored, Assessment) else None
    alert.total = float(scored.total) if scored is not None else None
    alert.band = band_for(scored.total).key if scored is not None else ""
    alert.self_harm_item = float(scored.items[ITEM_SELF_HARM]) if scored is not None else None
    alert.baseline = verdict.baseline
    alert.item9_sources = verdict.item9_sources


def _reopen(alert: Alert) -> None:
    """Back to open for a new look; who had acknowledged it stays in the history."""
    if alert.status == Alert.Status.ACKNOWLEDGED and alert.acknowledged_at is not None:
        by = alert.acknowledged_by.get_username() if alert.acknowledged_by else "someone"
        alert.history_add(alert.acknowledged_at, f"had been acknowledged by {by}")
    alert.status = Alert.Status.OPEN
    alert.acknowledged_by, alert.acknowledged_at, alert.acknowledge_note = None, None, ""


def episode_apply(
    *,
    patient_id: int,
    key: str,
    live: Alert | None,
    unresolved: Alert | None,
    verdict: Verdict,
    ladder: list[AlertRule],
) -> Alert | None:
    """Apply one verdict to one episode key. Returns the alert to notify about (opened, crossed again or
    stepped up to a higher line), else None. A race lost to another worker is not an error."""
    target, now = verdict.target, timezone.now()
    if verdict.keep or (target is None and live is None):
        return None
    try:
        with transaction.atomic():  # a savepoint
            return _episode_write(patient_id, key, live, unresolved, verdict, ladder, target, now)
    except IntegrityError:
        return None


def _episode_write(
    patient_id: int,
    key: str,
    live: Alert | None,
    unresolved: Alert | None,
    verdict: Verdict,
    ladder: list[AlertRule],
    target: AlertRule | None,
    now: datetime,
) -> Alert | None:
    crossed_at = verdict.crossed_at or (_when(verdict.scored) if verdict.scored is not None else now)
    if target is None:
        assert live is not None
        ended = verdict.first_under(live.rule) or now
        live.episode_ended_at = ended
        live.history_add(ended, f"condition ended: first window back under {line_label(live.rule, ladder)}")
        live.save(update_fields=["episode_ended_at", "history"])
        return None
    if live is not None and live.rule_id == target.pk:
        return None
    if live is not None and target.threshold < live.rule.threshold:  # a step down the ladder
        at = verdict.first_under(live.rule) or crossed_at
        live.history_add(
            at,
            f"stepped down from {line_label(live.rule, ladder)} to {line_label(target, ladder)}: "
            "still above the lower line, so the alert stays open there",
        )
        live.rule = target
        _set_numbers(live, verdict)
        live.save()
        return None
    if live is not None and live.status != Alert.Status.RESOLVED:  # a step up the ladder
        live.history_add(
            crossed_at, f"stepped up from {line_label(live.rule, ladder)} to {line_label(target, ladder)}"
        )
        live.rule, live.crossed_at, live.opened_at, live.urgent = target, crossed_at, now, target.urgent
        _set_numbers(live, verdict)
        _reopen(live)
        live.save()
        return live
    if live is not None:  # resolved while live, now a higher line: that episode ends, a new one opens
        live.episode_ended_at = crossed_at
        live.history_add(crossed_at, f"superseded: crossed {line_label(target, ladder)}")
        live.save(update_fields=["episode_ended_at", "history"])
    if unresolved is not None and unresolved.episode_ended_at is not None:  # crossed again: same alert
        unresolved.history_add(crossed_at, f"crossed again: {line_label(target, ladder)}")
        unresolved.rule, unresolved.crossed_at, unresolved.opened_at = target, crossed_at, now
        unresolved.urgent, unresolved.episode_ended_at = target.urgent, None
        _set_numbers(unresolved, verdict)
        _reopen(unresolved)
        unresolved.save()
        return unresolved
    alert = Alert(
        rule=target, patient_id=patient_id, episode_key=key, urgent=target.urgent, crossed_at=crossed_at
    )
    _set_numbers(alert, verdict)
    alert.history_add(crossed_at, f"crossed {line_label(target, ladder)}")
    if verdict.folded:
        lower = ", ".join(line_label(r, ladder) for r in verdict.folded)
        alert.history_add(crossed_at, f"also crossed {lower}: folded into this alert")
    alert.save()
    return alert


def first_under(
    rule: AlertRule, newest_first: Iterable[Scored], met: Callable[[Scored], bool]
) -> datetime | None:
    """The time of the first score back under `rule`'s line: the one just after the newest that met it."""
    newer: Scored | None = None
    for scored in islice(newest_first, HISTORY_SEARCH_LIMIT):
        if met(scored):
            break
        newer = scored
    return _when(newer) if newer is not None else None


def _ladder_verdict(ladder: list[AlertRule], states: Mapping[int, str | None], live: Alert | None) -> Verdict:
    """The highest line held now: met, or undecided at or below the line the live episode is at."""
    current = live.rule.threshold if live is not None else None
    held = [
        r
        for r in ladder
        if states[r.pk] == MET or (states[r.pk] is None and current is not None and r.threshold <= current)
    ]
    if not held:
        return Verdict(target=None)
    target = max(held, key=lambda r: r.threshold)
    folded = [r for r in ladder if states[r.pk] == MET and r.threshold < target.threshold]
    return Verdict(target=target, folded=folded)


def _own_verdict(rule: AlertRule, state: str | None) -> Verdict:
    return Verdict(target=rule if state == MET else None, keep=state is None)


def episodes_of(patient_id: int) -> tuple[dict[str, Alert], dict[str, Alert]]:
    """(live episode by key, unresolved alert by key) of one patient."""
    current = Alert.objects.filter(patient_id=patient_id).exclude(
        status=Alert.Status.RESOLVED, episode_ended_at__isnull=False
    )
    rows = list(current.select_related("rule", "acknowledged_by"))
    live = {a.episode_key: a for a in rows if a.episode_ended_at is None}
    return live, {a.episode_key: a for a in rows if a.status != Alert.Status.RESOLVED}


def episodes_apply(
    patient_id: int,
    rules: list[AlertRule],
    states: Mapping[int, str | None],
    decorate: Callable[[Verdict], None],
) -> list[Alert]:
    """The ladder of lines and every rule of its own, applied for one patient."""
    live, unresolved = episodes_of(patient_id)
    ladder = sorted((r for r in rules if r.folds), key=lambda r: r.threshold)
    verdicts: list[tuple[str, Verdict]] = []
    if ladder:
        key = ladder[0].episode_key
        verdicts.append((key, _ladder_verdict(ladder, states, live.get(key))))
    verdicts += [(r.episode_key, _own_verdict(r, states[r.pk])) for r in rules if not r.folds]
    opened = []
    for key, verdict in verdicts:
        decorate(verdict)
        alert = episode_apply(
            patient_id=patient_id,
            key=key,
            live=live.get(key),
            unresolved=unresolved.get(key),
            verdict=verdict,
            ladder=ladder,
        )
        if alert is not None:
            opened.append(alert)
    return opened
