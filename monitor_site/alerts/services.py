"""Alert evaluation, notification e-mails and clinician actions.

Evaluation is idempotent: it reads the patient's latest predictions and the open episodes, opens an
alert only where no episode is open (a partial unique constraint guards races) and ends episodes whose
condition has failed `consecutive` times in a row. E-mails carry the pseudonymous id, numbers, band,
rule and a link; never conversation text, never a name.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from monitor_site.alerts.models import Alert, AlertNotification, AlertRule, EscalationStep
from monitor_site.alerts.selectors import latest_self_report
from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.patients.models import Assessment, ConversationSession, Patient
from monitor_site.patients.text import clinician_text
from monitor_site.predictions.models import Prediction, TrajectorySummary
from scoring.item9 import model_item9
from scoring.phq9 import ITEM_SELF_HARM, band_for

log = logging.getLogger(__name__)


def _open_alert(
    *,
    rule: AlertRule,
    patient_id: int,
    prediction: Prediction | None = None,
    assessment: Assessment | None = None,
    baseline: float | None = None,
    item9_sources: list[str] | None = None,
) -> Alert | None:
    scored = prediction or assessment
    crossed_at = prediction.window_end if prediction else assessment.completed_at if assessment else None
    try:
        with transaction.atomic():  # a savepoint: losing the race to another worker is not an error
            return Alert.objects.create(
                rule=rule,
                patient_id=patient_id,
                prediction=prediction,
                assessment=assessment,
                urgent=rule.urgent,
                total=scored.total if scored else None,
                band=band_for(scored.total).key if scored else "",
                self_harm_item=float(scored.items[ITEM_SELF_HARM]) if scored else None,
                baseline=baseline,
                crossed_at=crossed_at,
                item9_sources=item9_sources or [],
            )
    except IntegrityError:
        return None


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


def alerts_evaluate(*, patient_ids: Iterable[int]) -> list[Alert]:
    """Evaluate every active rule on predictions for these patients. Returns the alerts opened.

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
    for patient_id in sorted(set(patient_ids)):
        summary = (
            TrajectorySummary.objects.filter(pk=patient_id)
            .select_related("latest_prediction__model_version")
            .first()
        )
        if summary is None or summary.latest_prediction is None:
            continue
        latest = summary.latest_prediction
        # A new prediction means a new session: any "no data" episode is over.
        Alert.objects.filter(
            patient_id=patient_id, rule__in=no_data_rules, episode_ended_at__isnull=True
        ).filter(opened_at__lt=latest.window_end).update(episode_ended_at=timezone.now())
        if not rules:
            continue
        need = max(r.consecutive for r in rules)
        # The series of the model that made the latest prediction: versions are never mixed in a run.
        series = list(
            Prediction.objects.filter(
                patient_id=patient_id,
                model_version_id=latest.model_version_id,
                n_tokens__gte=settings.ALERT_MIN_WINDOW_TOKENS,
            ).order_by("-window_end")[:need]
        )
        episodes = {
            a.rule_id: a for a in Alert.objects.filter(patient_id=patient_id, episode_ended_at__isnull=True)
        }
        item9 = model_item9_threshold(latest)
        # A model trained on totals only: its item 9 carries no item information and never flags.
        model_flags = model_item9(latest.model_version.manifest or {}).threshold is not None
        for rule in rules:
            self_harm = rule.kind == AlertRule.Kind.SELF_HARM
            if self_harm and latest.risk_language:
                recent = [latest]  # risk language opens the item-9 episode at once, however short the text
            elif latest.too_little_text:
                continue  # a window with too little patient text opens and closes nothing (the page says so)
            else:
                recent = series[: max(rule.consecutive, 1)]
            if len(recent) < rule.consecutive and not (self_harm and latest.risk_language):
                continue
            line, _ = rule.effective_threshold(item9)
            met = [
                rule.is_met(
                    p, baseline=summary.baseline_total, item9_threshold=line, model_item9_flags=model_flags
                )
                for p in recent
            ]
            if all(met) and rule.pk not in episodes:
                alert = _open_alert(
                    rule=rule,
                    patient_id=patient_id,
                    prediction=latest,
                    baseline=summary.baseline_total,
                    item9_sources=_item9_sources(latest, line, model_flags) if self_harm else [],
                )
                if alert is not None:
                    opened.append(alert)
            elif not any(met) and rule.pk in episodes:
                Alert.objects.filter(pk=episodes[rule.pk].pk).update(episode_ended_at=timezone.now())
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
    for patient_id in sorted(set(patient_ids)):
        questionnaires = Assessment.objects.filter(patient_id=patient_id).order_by("completed_at")
        first, latest = questionnaires.first(), questionnaires.last()
        if latest is None or first is None:
            continue
        episodes = {
            a.rule_id: a
            for a in Alert.objects.filter(
                patient_id=patient_id, rule__in=rules, episode_ended_at__isnull=True
            )
        }
        for rule in rules:
            baseline = float(first.total) if first.pk != latest.pk else None
            if rule.is_met(latest, baseline=baseline):
                if rule.pk not in episodes:
                    alert = _open_alert(
                        rule=rule,
                        patient_id=patient_id,
                        assessment=latest,
                        baseline=baseline,
                        item9_sources=["self-report"] if rule.kind == AlertRule.Kind.SELF_HARM else [],
                    )
                    if alert is not None:
                        opened.append(alert)
            elif rule.pk in episodes:
                Alert.objects.filter(pk=episodes[rule.pk].pk).update(episode_ended_at=timezone.now())
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
    last session is older than the rule's days."""
    now = now or timezone.now()
    opened: list[Alert] = []
    for rule in AlertRule.objects.filter(is_active=True, kind=AlertRule.Kind.NO_DATA):
        cutoff = now - timedelta(days=rule.days)
        recent = ConversationSession.objects.filter(patient=OuterRef("pk"), ended_at__gte=cutoff)
        any_session = ConversationSession.objects.filter(patient=OuterRef("pk"))
        open_episode = Alert.objects.filter(patient=OuterRef("pk"), rule=rule, episode_ended_at__isnull=True)
        silent = (
            Patient.objects.filter(care_team__isnull=False)
            .filter(Exists(any_session), ~Exists(recent), ~Exists(open_episode))
            .values_list("pk", flat=True)
        )
        for patient_id in silent:
            alert = _open_alert(rule=rule, patient_id=patient_id, prediction=None, baseline=None)
            if alert is not None:
                opened.append(alert)
    return opened


def _recipients(alert: Alert) -> list[str]:
    team = alert.patient.care_team
    if team is None:
        return []
    users = get_user_model().objects.filter(care_teams=team, is_active=True).exclude(email="")
    return sorted({u.email for u in users})


def alert_notify(*, alert_id: int, reminder: bool = False) -> AlertNotification | None:
    """E-mail the patient's care team about one alert and record the attempt (sent or failed)."""
    alert = (
        Alert.objects.select_related("rule", "patient__care_team", "prediction").filter(pk=alert_id).first()
    )
    if alert is None or alert.status == Alert.Status.RESOLVED:
        return None
    recipients = _recipients(alert)
    if not recipients:
        return AlertNotification.objects.create(
            alert=alert, outcome=AlertNotification.Outcome.NO_RECIPIENT, is_reminder=reminder
        )
    context = {
        "alert": alert,
        "reminder": reminder,
        "self_report": latest_self_report(patient_id=alert.patient_id),
        "escalation": EscalationStep.current_text(),
        "link": settings.SITE_URL.rstrip("/") + reverse("dashboards:patient_detail", args=[alert.patient_id]),
        "inbox": settings.SITE_URL.rstrip("/") + reverse("dashboards:alert_inbox"),
    }
    subject = " ".join(render_to_string("alerts/email_subject.txt", context).split())
    body = render_to_string("alerts/email_body.txt", context)
    try:
        send_mail(subject, body, None, recipients, fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("alert %d: e-mail failed, will retry: %s", alert.pk, type(exc).__name__)
        return AlertNotification.objects.create(
            alert=alert,
            recipients=recipients,
            outcome=AlertNotification.Outcome.FAILED,
            is_reminder=reminder,
            error=str(exc)[:300],
        )
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now())
    return AlertNotification.objects.create(
        alert=alert, recipients=recipients, outcome=AlertNotification.Outcome.SENT, is_reminder=reminder
    )


def alerts_due_for_notification(*, now: datetime | None = None) -> list[tuple[int, bool]]:
    """(alert id, is reminder) for: alerts never sent (the enqueued e-mail was lost) or whose sends all
    failed, last attempt older than ALERT_RETRY_MINUTES (a refusing mail server); and unacknowledged
    urgent alerts whose rule re-notifies and whose last send is older than its delay. An alert whose
    care team had nobody with an e-mail address is not retried (the admin shows it)."""
    now = now or timezone.now()
    done = AlertNotification.objects.filter(
        alert=OuterRef("pk"),
        outcome__in=[AlertNotification.Outcome.SENT, AlertNotification.Outcome.NO_RECIPIENT],
    )
    retry_before = now - timedelta(minutes=settings.ALERT_RETRY_MINUTES)
    unsent = (
        Alert.objects.exclude(status=Alert.Status.RESOLVED)
        .filter(~Exists(done))
        .annotate(last_try=Max("notifications__attempted_at"), tries=Count("notifications"))
        .filter(Q(last_try__lt=retry_before) | Q(tries=0, opened_at__lt=retry_before))
        .values_list("pk", flat=True)
    )
    due = [(pk, False) for pk in unsent]
    for alert in Alert.objects.filter(
        status=Alert.Status.OPEN,
        urgent=True,
        rule__renotify_after_hours__gt=0,
        last_notified_at__isnull=False,
    ).select_related("rule"):
        assert alert.last_notified_at is not None
        if alert.last_notified_at <= now - timedelta(hours=alert.rule.renotify_after_hours):
            due.append((alert.pk, True))
    return due


ALERT_NOTE_MAX_CHARS = 2000


def alert_acknowledge(*, alert: Alert, user: User, note: str = "") -> Alert:
    """ValueError (naming the note) for a note that cannot be stored; nothing changes then."""
    note = clinician_text(note, max_chars=ALERT_NOTE_MAX_CHARS)
    if alert.status == Alert.Status.OPEN:
        alert.status = Alert.Status.ACKNOWLEDGED
        alert.acknowledged_by = user
        alert.acknowledged_at = timezone.now()
        alert.acknowledge_note = note.strip()
        alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "acknowledge_note"])
        audit_record(
            actor=user, action=AuditEvent.Action.ALERT_ACKNOWLEDGE, obj=alert, patient_id=alert.patient_id
        )
    return alert


class NoteRequired(ValueError):
    """Resolving an urgent alert needs a note saying what was done."""


def alert_resolve(*, alert: Alert, user: User, note: str = "") -> Alert:
    note = clinician_text(note, max_chars=ALERT_NOTE_MAX_CHARS)
    if alert.status != Alert.Status.RESOLVED and alert.urgent and not note:
        raise NoteRequired("note: resolving an urgent alert needs a note saying what was done")
    if alert.status != Alert.Status.RESOLVED:
        now = timezone.now()
        if alert.acknowledged_at is None:  # resolving implies having seen it
            alert.acknowledged_by, alert.acknowledged_at = user, now
        alert.status = Alert.Status.RESOLVED
        alert.resolved_by = user
        alert.resolved_at = now
        alert.resolve_note = note.strip()
        alert.save()
        audit_record(
            actor=user, action=AuditEvent.Action.ALERT_RESOLVE, obj=alert, patient_id=alert.patient_id
        )
    return alert
