"""What every clinician page shows for item 9 (thoughts of self-harm): one decision, `item9_display`.

The flag is the union of three sources (scoring/item9.py says why):
- risk language: the self-harm detector fired on a patient sentence of the window ("detector");
- model-inferred: the model's item 9 reaches the line `scoring.item9.model_item9` gives for its card
  and the item-9 rule in force; never for a model trained on totals only ("model");
(the union itself is `scoring.item9.item9_sources`, which the batch CLI uses too)
- self-report: the patient's own latest questionnaire answered item 9 >= 1 ("self-report").

The sentences that fired are conversation text: they are shown on the care-team-scoped pages (patient
page, inbox, triage list), never in e-mails, logs, exports or the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, F, Q

from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.alerts.selectors import SelfReport, item9_rule_in_force
from monitor_site.modelops.models import ModelVersion
from monitor_site.patients.models import Assessment
from monitor_site.predictions.models import Prediction
from scoring.item9 import RULE_VALUE, SOURCES, ModelItem9, item9_sources, model_item9
from scoring.phq9 import ITEM_SELF_HARM, METHOD_MODEL, METHOD_SELF_REPORT

# How the pages name each source (scoring.item9.SOURCES); e-mails use alerts.models.ITEM9_SOURCE_LABELS.
SOURCE_NAMES = {"detector": "risk language", "model": METHOD_MODEL, "self-report": METHOD_SELF_REPORT}
RULE_OFF_NOTICE = (
    "The item-9 (self-harm) alert rule is switched off: no alert opens when a patient's messages or the "
    "model's item 9 suggest thoughts of self-harm, and nobody is e-mailed. Flags still show on these "
    "pages. An administrator can switch it back on under Alert rules in the admin."
)


@dataclass(frozen=True)
class FiredSentence:
    """A patient sentence the risk-language detector fired on."""

    text: str
    at: datetime | None  # when the patient sent it (None: not recorded)
    session: str  # the session's external id


@dataclass(frozen=True)
class Item9Display:
    flag: bool
    sources: tuple[str, ...]  # which fired, in the order of scoring.item9.SOURCES
    evidence: tuple[FiredSentence, ...]  # the sentences that fired, most recent first
    risk_read: bool  # the detector read the window (a row scored before it existed was not)
    model_value: float | None  # the model's (or LLM rater's) item 9; None: no score yet
    model: ModelItem9  # its threshold (None: never flags) and whether the card validates it
    self_report: SelfReport | None  # the patient's latest questionnaire

    @property
    def source_names(self) -> list[str]:
        return [SOURCE_NAMES[s] for s in self.sources]

    @property
    def model_fired(self) -> bool:
        return "model" in self.sources

    @property
    def model_label(self) -> str:
        """Beside the model's item-9 value: why it is not to be read as validated ("" when it is)."""
        return "" if self.model.validated else self.model.why


def item9_display(
    *,
    model_value: float | None,
    risk_language: bool,
    risk_evidence: list[dict[str, Any]],
    risk_read: bool,
    manifest: dict,
    self_report: SelfReport | None,
    rule: AlertRule | None,
) -> Item9Display:
    """The flag, its sources and its evidence from one window's scores, the card (manifest) of the model
    that made them, the patient's latest questionnaire and the item-9 rule in force (None: switched off;
    the flag is still shown, at the default line)."""
    model = model_item9(
        manifest,
        rule_value=rule.threshold if rule else RULE_VALUE,
        use_card=rule.use_model_threshold if rule else True,
    )
    sources = item9_sources(
        detector_fired=risk_language,
        model_value=model_value,
        model=model,
        self_report_item9=self_report.item9 if self_report else None,
    )
    return Item9Display(
        flag=bool(sources),
        sources=sources,
        evidence=fired_sentences(risk_evidence) if risk_language else (),
        risk_read=risk_read,
        model_value=model_value,
        model=model,
        self_report=self_report,
    )


def item9_for_prediction(
    prediction: Prediction | None, *, manifest: dict, self_report: SelfReport | None, rule: AlertRule | None
) -> Item9Display:
    """`item9_display` for one stored prediction (None: the patient has no score yet)."""
    return item9_display(
        model_value=prediction.self_harm_item if prediction else None,
        risk_language=bool(prediction and prediction.risk_language),
        risk_evidence=prediction.risk_evidence if prediction else [],
        risk_read=bool(prediction and prediction.detector_version),
        manifest=manifest,
        self_report=self_report,
        rule=rule,
    )


def fired_sentences(risk_evidence: list[dict[str, Any]]) -> tuple[FiredSentence, ...]:
    """A prediction's stored `risk_evidence`, as the pages show it."""
    return tuple(
        FiredSentence(
            text=str(e.get("text", "")),
            at=_when(e.get("sent_at")),
            session=str(e.get("session", "")),
        )
        for e in risk_evidence
        if e.get("text")
    )


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def model_cards(version_ids: set[int]) -> dict[int, dict]:
    """model version id -> its manifest (the card), in one query: the list pages read the few versions
    their rows were scored by, not a manifest per row."""
    rows = ModelVersion.objects.filter(pk__in=version_ids).values_list("pk", "manifest")
    return {pk: manifest or {} for pk, manifest in rows}


# All of a card that scoring.item9.model_item9 reads: a list page reads these parts in its one query of
# latest predictions, not a whole manifest (metrics, plans: kilobytes) per row.
CARD_KEYS = ("item9_flag", "training_data")
LATEST_FIELDS = (
    "patient_id",
    "items",
    "interval_low",
    "interval_high",
    "method",
    "validated_here",
    "risk_language",
    "risk_evidence",
    "detector_version",
    "model_version_id",
)


def latest_predictions(*, prediction_ids: list[int | None]) -> dict[int, Prediction]:
    """patient id -> their latest prediction (ids from their TrajectorySummary) with what the triage list
    shows of it (interval, method, item 9, risk language), its card's item-9 parts and whether its version
    is the active one (`version_active`), in one query."""
    rows = (
        Prediction.objects.filter(pk__in=[pk for pk in prediction_ids if pk])
        .only(*LATEST_FIELDS)
        .annotate(**{f"card_{key}": F(f"model_version__manifest__{key}") for key in CARD_KEYS})
        .annotate(
            version_active=ExpressionWrapper(
                Q(model_version__status=ModelVersion.Status.ACTIVE), output_field=BooleanField()
            )
        )
    )
    return {p.patient_id: p for p in rows}


def item9_for_latest(
    *,
    patient_ids: list[int],
    latest: dict[int, Prediction],
    self_reports: dict[int, SelfReport],
    rule: AlertRule | None,
) -> dict[int, Item9Display]:
    """patient id -> the item-9 display of their latest prediction (from `latest_predictions`; none: not
    scored yet) and their latest questionnaire, for every patient of the page: no query."""
    out = {}
    for patient_id in patient_ids:
        prediction = latest.get(patient_id)
        card = {key: getattr(prediction, f"card_{key}", None) for key in CARD_KEYS}
        out[patient_id] = item9_for_prediction(
            prediction, manifest=card, self_report=self_reports.get(patient_id), rule=rule
        )
    return out


@dataclass(frozen=True)
class AlertItem9:
    """What the inbox shows on an item-9 alert: the sources named, the sentences first."""

    source_names: list[str]
    evidence: tuple[FiredSentence, ...]
    model_label: str


def item9_for_alerts(alerts: list[Alert], *, rule: AlertRule | None) -> dict[int, AlertItem9]:
    """alert id -> its item-9 display, for the item-9 alerts among `alerts` (their predictions loaded
    with them); one query for the cards of the model versions involved."""
    item9 = [a for a in alerts if a.rule.kind == AlertRule.Kind.SELF_HARM]
    cards = model_cards({a.prediction.model_version_id for a in item9 if a.prediction is not None})
    out = {}
    for alert in item9:
        prediction = alert.prediction if not alert.is_self_report else None
        sources = alert_item9_sources(alert)
        label = ""
        if prediction is not None:
            shown = item9_for_prediction(
                prediction, manifest=cards.get(prediction.model_version_id, {}), self_report=None, rule=rule
            )
            label = shown.model_label
        out[alert.pk] = AlertItem9(
            source_names=[SOURCE_NAMES[s] for s in sources],
            evidence=fired_sentences(prediction.risk_evidence)
            if prediction is not None and "detector" in sources
            else (),
            model_label=label,
        )
    return out


def alert_item9_sources(alert: Alert) -> list[str]:
    """What raised an item-9 alert (scoring.item9.SOURCES names, in that order). Alerts opened before
    their sources were recorded: the rule's source says which it was."""
    recorded = alert.item9_sources or (["self-report"] if alert.is_self_report else ["model"])
    return [s for s in SOURCES if s in recorded]


def item9_patient_context(
    *,
    latest: Prediction | None,
    selected: Prediction | None,
    assessments: list[Assessment],
    alerts: list[Alert],
) -> dict[str, Any]:
    """The patient page's (and printed report's) item 9: the flag of the latest window with the
    patient's latest questionnaire, the banner (also for an open urgent item-9 alert, whatever raised
    it), the selected window's own flag for its evidence table, and whether the rule is switched off.
    Two queries: the rule in force and the cards of the (at most two) model versions shown."""
    rule = item9_rule_in_force()
    cards = model_cards({p.model_version_id for p in (latest, selected) if p is not None})
    last = assessments[-1] if assessments else None  # oldest first
    self_report = (
        SelfReport(total=last.total, item9=int(last.items[ITEM_SELF_HARM]), completed_at=last.completed_at)
        if last
        else None
    )
    item9 = item9_for_prediction(
        latest,
        manifest=cards.get(latest.model_version_id, {}) if latest else {},
        self_report=self_report,
        rule=rule,
    )
    selected_item9 = (
        item9_for_prediction(
            selected, manifest=cards.get(selected.model_version_id, {}), self_report=None, rule=rule
        )
        if selected
        else None
    )
    open_alerts = [
        (a, [SOURCE_NAMES[s] for s in alert_item9_sources(a)])
        for a in alerts
        if a.urgent and a.rule.kind == AlertRule.Kind.SELF_HARM
    ]
    return {
        "item9": item9,
        "item9_selected": selected_item9,
        "item9_banner": item9.flag or bool(open_alerts),
        "item9_alerts": open_alerts,
        "item9_rule_off": RULE_OFF_NOTICE if rule is None else "",
    }
