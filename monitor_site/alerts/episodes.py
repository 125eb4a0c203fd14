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
    folded, reopened = episodes_fold_covered(patient_id)
    return [a for a in opened if a.pk not in folded] + reopened


def _covers(alert: Alert, by: Alert) -> bool:
    """Whether `by` (an open alert at a line, whose condition holds) already calls for the review that
    `alert` would: one alert per patient above a line. The lower line folds into the higher; at the same
    line the model's crossing folds into the patient's own questionnaire; a reliable deterioration folds
    into any line crossed. Urgent alerts, item 9 among them, never fold into another."""
    if alert.urgent or alert.pk == by.pk or not by.rule.folds or by.episode_ended_at is not None:
        return False
    if alert.rule.kind == AlertRule.Kind.DETERIORATION:
        return True
    if not alert.rule.folds or alert.rule.source == by.rule.source:
        return False
    if alert.rule.source == AlertRule.Source.MODEL:
        return alert.rule.threshold <= by.rule.threshold
    return alert.rule.threshold < by.rule.threshold


def episodes_fold_covered(patient_id: int) -> tuple[set[int], list[Alert]]:
    """Fold the patient's open alerts that another open alert already covers (`_covers`) into it: the
    folded one is resolved, its episode goes on (it opens nothing new until its condition ends), and
    both histories say so. A folded alert whose condition still holds re-opens once the condition of
    the one it was folded into has ended. Returns (the ids folded, the alerts re-opened)."""
    now = timezone.now()
    reopened = []
    for alert in Alert.objects.filter(
        patient_id=patient_id,
        status=Alert.Status.RESOLVED,
        episode_ended_at__isnull=True,
        folded_into__episode_ended_at__isnull=False,
    ).select_related("rule", "folded_into__rule"):
        assert alert.folded_into is not None
        alert.history_add(
            now, f"re-opened: the condition of {alert.folded_into.rule.name} ended, this one's holds"
        )
        alert.status, alert.resolved_at, alert.resolve_note, alert.folded_into = (
            Alert.Status.OPEN,
            None,
            "",
            None,
        )
        try:
            with transaction.atomic():
                alert.save(update_fields=["status", "resolved_at", "resolve_note", "folded_into", "history"])
        except IntegrityError:  # an open alert of the same key opened since: this one stays folded
            continue
        reopened.append(alert)
    _, unresolved = episodes_of(patient_id)
    # The highest line first, the patient's own answer first at the same line: what the others fold into.
    open_alerts = sorted(
        unresolved.values(), key=lambda a: (-a.rule.threshold, a.rule.source != AlertRule.Source.SELF_REPORT)
    )
    folded: set[int] = set()
    for alert in open_alerts:
        by = next((b for b in open_alerts if b.pk not in folded and _covers(alert, b)), None)
        if alert.episode_ended_at is not None or by is None:
            continue
        by.history_add(
            alert.crossed_at or now, f"also {alert.rule.name} ({alert.summary()}): folded into this alert"
        )
        by.save(update_fields=["history"])
        note = f"folded into alert {by.pk} ({by.rule.name}), which calls for the same review"
        alert.status, alert.resolved_at, alert.resolve_note = Alert.Status.RESOLVED, now, note
        alert.folded_into = by
        alert.history_add(now, note)
        alert.save(update_fields=["status", "resolved_at", "resolve_note", "folded_into", "history"])
        folded.add(alert.pk)
    return folded, [a for a in reopened if a.pk not in folded]
