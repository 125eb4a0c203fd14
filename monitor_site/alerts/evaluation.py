"""Alert evaluation: each patient's latest state read against the active rules, and the quiet close.

The rules read the latest predictions (the model's) or the latest questionnaire (self-report); what
the verdicts do to the patient's alerts is `alerts.episodes`. An ended episode nobody acknowledged
closes itself after ALERT_CLOSE_AFTER_QUIET_DAYS without a new crossing; urgent and item-9 alerts
never do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, Max, OuterRef, QuerySet
from django.utils import timezone

from monitor_site.alerts.episodes import (
    FAILED,
    MET,
    Scored,
    Verdict,
    episode_apply,
    episodes_apply,
    episodes_of,
    first_under,
)
from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.patients.models import Assessment, ConversationSession, Patient
from monitor_site.predictions.models import Prediction, TrajectorySummary
from scoring.item9 import model_item9
from scoring.phq9 import lowest_reaching

log = logging.getLogger(__name__)


def _item9_sources(prediction: Prediction, line: float, model_flags: bool) -> list[str]:
    """What raised an item-9 flag on this prediction (scoring.item9.SOURCES names)."""
    sources = ["detector"] if prediction.risk_language else []
    if model_flags and prediction.self_harm_item >= line:
        sources.append("model")
    return sources


def model_item9_threshold(prediction: Prediction) -> float | None:
    """The item-9 flag threshold the card of the model that made `prediction` recommends (None: none)."""
    flag = (prediction.model_version.manifest or {}).get("item9_flag") or {}
    threshold = flag.get("threshold")
    return float(threshold) if isinstance(threshold, int | float) else None


def _model_state(
    rule: AlertRule, latest: Prediction, series: list[Prediction], met: Callable[[Prediction], bool]
) -> str | None:
    """MET, FAILED, or None (undecided): the last `consecutive` predictions all meet, none meet, or
    neither; a window with too little patient text decides nothing (the page says so). Risk language
    opens the item-9 episode at once, however short the text."""
    if rule.kind == AlertRule.Kind.SELF_HARM and latest.risk_language:
        return MET
    if latest.too_little_text:
        return None
    recent = series[: max(rule.consecutive, 1)]
    if len(recent) < rule.consecutive:
        return None
    results = [met(p) for p in recent]
    return MET if all(results) else FAILED if not any(results) else None


def _no_data_end(patient_id: int, no_data_rules: QuerySet[AlertRule]) -> None:
    """A session after the silence ends a "no data" episode, at that session's time."""
    for alert in Alert.objects.filter(
        patient_id=patient_id, rule__in=no_data_rules, episode_ended_at__isnull=True
    ).select_related("rule"):
        silent_since = (alert.crossed_at or alert.opened_at) - timedelta(days=alert.rule.days)
        first = (
            ConversationSession.objects.filter(patient_id=patient_id, ended_at__gt=silent_since)
            .order_by("ended_at")
            .first()
        )
        if first is not None:
            alert.episode_ended_at = first.ended_at
            alert.history_add(first.ended_at, "condition ended: a session after the silence")
            alert.save(update_fields=["episode_ended_at", "history"])


def _evaluate_model_rules(summary: TrajectorySummary, rules: list[AlertRule]) -> list[Alert]:
    """The model rules on one patient's latest predictions."""
    latest, baseline = summary.latest_prediction, summary.baseline_total
    assert latest is not None
    # The series of the model that made the latest prediction: versions are never mixed in a run.
    series_qs = Prediction.objects.filter(
        patient_id=summary.pk,
        model_version_id=latest.model_version_id,
        n_tokens__gte=settings.ALERT_MIN_WINDOW_TOKENS,
    ).order_by("-window_end")
    series = list(series_qs[: max(r.consecutive for r in rules)])
    item9 = model_item9_threshold(latest)
    # A model trained on totals only: its item 9 carries no item information and never flags.
    model_flags = model_item9(latest.model_version.manifest or {}).threshold is not None

    def met(rule: AlertRule, p: Scored) -> bool:
        line, _ = rule.effective_threshold(item9)
        return rule.is_met(p, baseline=baseline, item9_threshold=line, model_item9_flags=model_flags)

    def met_by(rule: AlertRule) -> Callable[[Prediction], bool]:
        return lambda p: met(rule, p)

    states = {r.pk: _model_state(r, latest, series, met_by(r)) for r in rules}

    def decorate(verdict: Verdict) -> None:
        verdict.scored, verdict.baseline = latest, baseline
        verdict.first_under = lambda rule: first_under(
            rule, series_qs.iterator(chunk_size=100), lambda p: met(rule, p)
        )
        if verdict.target is not None and verdict.target.kind == AlertRule.Kind.SELF_HARM:
            line, _ = verdict.target.effective_threshold(item9)
            verdict.item9_sources = _item9_sources(latest, line, model_flags)

    return episodes_apply(summary.pk, rules, states, decorate)


def _evaluate_self_report_rules(patient_id: int, rules: list[AlertRule]) -> list[Alert]:
    """The self-report rules on one patient's latest questionnaire."""
    questionnaires = Assessment.objects.filter(patient_id=patient_id).order_by("-completed_at")
    latest, first = questionnaires.first(), questionnaires.last()
    if latest is None or first is None:
        return []
    baseline = float(first.total) if first.pk != latest.pk else None
    states = {r.pk: MET if r.is_met(latest, baseline=baseline) else FAILED for r in rules}

    def decorate(verdict: Verdict) -> None:
        verdict.scored, verdict.baseline = latest, baseline
        verdict.first_under = lambda rule: first_under(
            rule, questionnaires.iterator(chunk_size=100), lambda q: rule.is_met(q, baseline=baseline)
        )
        if verdict.target is not None and verdict.target.kind == AlertRule.Kind.SELF_HARM:
            verdict.item9_sources = ["self-report"]

    return episodes_apply(patient_id, rules, states, decorate)


def alerts_evaluate(*, patient_ids: Iterable[int]) -> list[Alert]:
    """Evaluate every active model rule on these patients' latest predictions. Returns the alerts to
    notify about (opened, crossed again, stepped up).

    Alerts follow the patient's current state: the rules read the latest predictions, whatever their
    age, so after a backfill or a scoring backlog a patient whose latest state meets a rule has an open
    episode (`Alert.is_delayed` says the data came late); crossings in between are history, not alerts."""
    rules = [
        r
        for r in AlertRule.objects.filter(is_active=True, source=AlertRule.Source.MODEL)
        if r.kind != AlertRule.Kind.NO_DATA
    ]
    no_data_rules = AlertRule.objects.filter(is_active=True, kind=AlertRule.Kind.NO_DATA)
    opened: list[Alert] = []
    patient_ids = sorted(set(patient_ids))
    for patient_id in patient_ids:
        summary = (
            TrajectorySummary.objects.filter(pk=patient_id)
            .select_related("latest_prediction__model_version")
            .first()
        )
        if summary is None or summary.latest_prediction is None:
            continue
        _no_data_end(patient_id, no_data_rules)
        if rules:
            opened += _evaluate_model_rules(summary, rules)
    alerts_close_quiet(patient_ids=patient_ids)
    if opened:
        log.info("opened %d alert(s)", len(opened))  # ids and counts only: no patient content in logs
    return opened


def alerts_evaluate_self_report(*, patient_ids: Iterable[int]) -> list[Alert]:
    """Evaluate the self-report rules on each patient's latest questionnaire: one questionnaire is
    enough (it is the patient's own answer: no hysteresis), whatever its age; a later questionnaire
    that no longer meets a rule ends its episode. The baseline is the patient's first questionnaire."""
    rules = [
        r
        for r in AlertRule.objects.filter(is_active=True, source=AlertRule.Source.SELF_REPORT)
        if r.kind != AlertRule.Kind.NO_DATA
    ]
    opened: list[Alert] = []
    if not rules:
        return opened
    patient_ids = sorted(set(patient_ids))
    for patient_id in patient_ids:
        opened += _evaluate_self_report_rules(patient_id, rules)
    alerts_close_quiet(patient_ids=patient_ids)
    if opened:
        log.info("opened %d self-report alert(s)", len(opened))
    return opened


def alerts_evaluate_recent(*, now: datetime | None = None) -> list[Alert]:
    """Evaluate the model rules again for every patient whose predictions changed in the last
    ALERT_EVALUATION_CATCH_UP_MINUTES: the sweeper behind the evaluate_alerts task that the scoring tasks
    enqueue, should that task be lost (broker down at the moment, worker killed). Idempotent."""
    since = (now or timezone.now()) - timedelta(minutes=settings.ALERT_EVALUATION_CATCH_UP_MINUTES)
    patient_ids = TrajectorySummary.objects.filter(updated_at__gte=since).values_list("pk", flat=True)
    return alerts_evaluate(patient_ids=list(patient_ids))


def alerts_check_no_data(*, now: datetime | None = None) -> list[Alert]:
    """Open a "no data" alert for each monitored patient (a care team and at least one session) whose
    last session is older than the rule's days; it crossed when the silence reached that many days."""
    now = now or timezone.now()
    opened: list[Alert] = []
    for rule in AlertRule.objects.filter(is_active=True, kind=AlertRule.Kind.NO_DATA):
        cutoff = now - timedelta(days=rule.days)
        recent = ConversationSession.objects.filter(patient=OuterRef("pk"), ended_at__gte=cutoff)
        any_session = ConversationSession.objects.filter(patient=OuterRef("pk"))
        open_episode = Alert.objects.filter(
            patient=OuterRef("pk"), episode_key=rule.episode_key, episode_ended_at__isnull=True
        )
        silent = (
            Patient.objects.filter(care_team__isnull=False)
            .filter(Exists(any_session), ~Exists(recent), ~Exists(open_episode))
            .annotate(last=Max("sessions__ended_at"))
            .values_list("pk", "last")
        )
        for patient_id, last in silent:
            live, unresolved = episodes_of(patient_id)
            alert = episode_apply(
                patient_id=patient_id,
                key=rule.episode_key,
                live=live.get(rule.episode_key),
                unresolved=unresolved.get(rule.episode_key),
                verdict=Verdict(target=rule, crossed_at=last + timedelta(days=rule.days)),
                ladder=[],
            )
            if alert is not None:
                opened.append(alert)
    return opened


def _crossed_since(alert: Alert) -> bool:
    """Whether a score at or above the alert's line came after its episode ended: not quiet then."""
    rule, since = alert.rule, alert.episode_ended_at
    if rule.kind != AlertRule.Kind.THRESHOLD or since is None:
        return False
    if rule.source == AlertRule.Source.SELF_REPORT:
        answers = Assessment.objects.filter(patient_id=alert.patient_id, completed_at__gt=since)
        return answers.filter(total__gte=lowest_reaching(rule.threshold)).exists()
    scores = Prediction.objects.filter(patient_id=alert.patient_id, window_end__gt=since)
    return scores.filter(total__gte=lowest_reaching(rule.threshold)).exists()


def alerts_close_quiet(*, now: datetime | None = None, patient_ids: Iterable[int] | None = None) -> int:
    """Close the alerts whose condition ended ALERT_CLOSE_AFTER_QUIET_DAYS ago or more with no crossing
    since and that nobody acknowledged (nobody is working on them), saying so in their history and the
    audit trail. Urgent and item-9 alerts never close without a clinician's review. Returns how many."""
    days = settings.ALERT_CLOSE_AFTER_QUIET_DAYS
    if days <= 0:
        return 0
    now = now or timezone.now()
    quiet = (
        Alert.objects.filter(
            status=Alert.Status.OPEN, urgent=False, episode_ended_at__lte=now - timedelta(days=days)
        )
        .exclude(rule__kind=AlertRule.Kind.SELF_HARM)
        .select_related("rule")
    )
    if patient_ids is not None:
        quiet = quiet.filter(patient_id__in=list(patient_ids))
    closed = 0
    for alert in quiet:
        if _crossed_since(alert):
            continue
        assert alert.episode_ended_at is not None
        note = (
            f"closed automatically: condition ended {alert.episode_ended_at:%d %b %Y}, no new crossing "
            f"in the {days} days since (ALERT_CLOSE_AFTER_QUIET_DAYS) and nobody had acknowledged it"
        )
        alert.status, alert.resolved_at, alert.resolve_note = Alert.Status.RESOLVED, now, note
        alert.history_add(now, note)
        alert.save(update_fields=["status", "resolved_at", "resolve_note", "history"])
        audit_record(
            actor=None,
            action=AuditEvent.Action.ALERT_RESOLVE,
            obj=alert,
            patient_id=alert.patient_id,
            detail={"automatic": True, "quiet_days": days},
        )
        closed += 1
    return closed
