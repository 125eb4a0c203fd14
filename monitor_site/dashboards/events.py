"""A patient's history as one list of events: alerts (opened, acknowledged, resolved, with the notes
clinicians left), clinician notes, self-report questionnaires and changes of the model that scores them.
The patient page lists them and marks them on the trajectory; the printable report lists them too.

No conversation text here: events carry numbers, rule names and what clinicians wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor_site.alerts.models import Alert
from monitor_site.audit.models import AuditEvent
from monitor_site.patients.models import Assessment, ClinicianNote, Patient
from monitor_site.predictions.models import Prediction
from scoring.phq9 import ITEM_SELF_HARM, METHOD_MODEL, METHOD_SELF_REPORT

MODEL_CHANGES_SHOWN = 50  # promotions and roll-backs listed on one patient's history, newest first
NOTE_CHARS = 300  # a long note is cut in the event list (the Notes card has it whole)


@dataclass(frozen=True)
class PatientEvent:
    at: datetime
    kind: str  # "alert" | "acknowledged" | "resolved" | "note" | "questionnaire" | "model"
    title: str
    detail: str = ""
    who: str = ""
    urgent: bool = False

    @property
    def kind_label(self) -> str:
        return {
            "alert": "Alert",
            "acknowledged": "Acknowledged",
            "resolved": "Resolved",
            "note": "Note",
            "questionnaire": "Self-report",
            "model": "Model change",
        }[self.kind]


def _who(user: object) -> str:
    return user.get_username() if user is not None else "former user"  # type: ignore[attr-defined]


def _alert_events(alert: Alert) -> list[PatientEvent]:
    source = METHOD_SELF_REPORT if alert.is_self_report else METHOD_MODEL
    events = [
        PatientEvent(
            alert.crossed_at or alert.opened_at,
            "alert",
            f"{alert.rule.name} ({source})",
            alert.summary(),
            urgent=alert.urgent,
        )
    ]
    if alert.acknowledged_at:
        events.append(
            PatientEvent(
                alert.acknowledged_at,
                "acknowledged",
                alert.rule.name,
                alert.acknowledge_note,
                _who(alert.acknowledged_by),
            )
        )
    if alert.resolved_at:
        events.append(
            PatientEvent(
                alert.resolved_at, "resolved", alert.rule.name, alert.resolve_note, _who(alert.resolved_by)
            )
        )
    return events


def model_changes(series: list[Prediction]) -> list[PatientEvent]:
    """The model changes that affect the patient, each dated when it happened: the first model-inferred
    score, then every promotion and roll-back since (audited by modelops.services.registry), not the
    first window a new version re-scored."""
    if not series:
        return []
    first = series[0]
    events = [
        PatientEvent(
            first.window_end,
            "model",
            f"First model-inferred score (model {first.model_version.version})",
        )
    ]
    changes = AuditEvent.objects.filter(
        action__in=[AuditEvent.Action.MODEL_PROMOTE, AuditEvent.Action.MODEL_ROLLBACK],
        at__gte=first.window_end,
    ).order_by("-at")[:MODEL_CHANGES_SHOWN]
    for change in changes:
        version = change.detail.get("version", "?")
        previous = ", ".join(change.detail.get("previous") or []) or "none"
        rollback = change.action == AuditEvent.Action.MODEL_ROLLBACK
        events.append(
            PatientEvent(
                change.at,
                "model",
                f"Model rolled back to {version}" if rollback else f"Model {version} promoted",
                f"was {previous}; the latest scores are {version}'s once it has re-scored them",
                change.actor_username or "system",
            )
        )
    return events


def patient_events(
    *, patient: Patient, series: list[Prediction], assessments: list[Assessment], limit: int = 200
) -> list[PatientEvent]:
    """Everything that happened to the patient's record, newest first, at most `limit`."""
    events: list[PatientEvent] = []
    alerts = Alert.objects.filter(patient=patient).select_related("rule", "acknowledged_by", "resolved_by")
    for alert in alerts.order_by("-opened_at")[:limit]:
        events.extend(_alert_events(alert))
    for note in (
        ClinicianNote.objects.filter(patient=patient).select_related("author").order_by("-created_at")[:limit]
    ):
        text = note.text if len(note.text) <= NOTE_CHARS else note.text[:NOTE_CHARS] + "…"
        events.append(PatientEvent(note.created_at, "note", "Clinician note", text, _who(note.author)))
    for a in assessments:
        item9 = int(a.items[ITEM_SELF_HARM])
        events.append(
            PatientEvent(
                a.completed_at,
                "questionnaire",
                f"Questionnaire: PHQ-9 {a.total}",
                f"item 9 answered {item9} of 3",
                urgent=item9 > 0,
            )
        )
    events.extend(model_changes(series))
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]
