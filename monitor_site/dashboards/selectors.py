"""Reads behind the patient page that span apps: a patient's evidence, events, and everything the
page and its exports show (engagement per week: engagement.py). The triage list's reads are in triage.py."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone

from monitor_site.alerts.models import Alert, EscalationStep
from monitor_site.alerts.selectors import alerts_in_inbox_order, item9_rule_in_force
from monitor_site.dashboards.charts import (
    EventMark,
    QuestionnairePoint,
    TrajectoryPoint,
    engagement_figure,
    item_heatmap,
    trajectory_figure,
)
from monitor_site.dashboards.engagement import engagement_by_week
from monitor_site.dashboards.events import patient_events
from monitor_site.dashboards.exports import (
    ExportPrediction,
    ExportQuestionnaire,
    fhir_bundle,
    trajectory_csv,
)
from monitor_site.dashboards.item9 import Item9Display, item9_for_prediction, item9_patient_context
from monitor_site.dashboards.series import current_series, version_names, week_before
from monitor_site.modelops.models import ModelVersion
from monitor_site.modelops.selectors import model_version_active
from monitor_site.patients.models import Assessment, ConversationSession, Patient
from monitor_site.patients.selectors import windows_for
from monitor_site.predictions.models import Prediction, PredictionFeedback, TrajectorySummary
from monitor_site.predictions.selectors import (
    assessment_list_for_patient,
    prediction_current_list_for_patient,
    prediction_list_for_patient,
)
from scoring.phq9 import ITEM_CHANGE_STEP, ITEM_LABELS, ITEM_SELF_HARM, change_status, item_answer

# Everything the patient page shows, assembled from selectors; no writes, no request handling.
#
# The evidence for a prediction is the attention its item heads paid to each chunk of the window
# (ensemble mean, stored with the prediction at scoring time; a chunk is a run of consecutive turns of
# one session, at most the backbone's chunk length). For each item we show the chunks with the largest
# weight and the user's messages in them: what the model read most when it scored that item. Attention
# is where the model looked, not a causal attribution; the page says so.

EVIDENCE_CHUNKS = 2  # per item, the chunks shown
MESSAGE_CHARS = 600  # a very long message is cut on the page (the full text stays in the database)


def patient_page_url(patient: Patient) -> str:
    return reverse("dashboards:patient_detail", args=[patient.pk])


DRIVER_MIN_CHANGE = ITEM_CHANGE_STEP  # half an answer step (scoring.phq9)
DRIVERS_SHOWN = 3


def score_explanation(prediction: Prediction, previous: Prediction | None) -> dict[str, Any]:
    """What changed since about a week before: the total's change and the items that drove it (item
    changes of at least DRIVER_MIN_CHANGE, largest first, rises and falls apart)."""
    if previous is None:
        return {"previous": None, "change": None, "rising": [], "falling": []}
    changes = [
        (i + 1, label, float(prediction.items[i]) - float(previous.items[i]))
        for i, label in enumerate(ITEM_LABELS)
    ]
    rising = sorted((c for c in changes if c[2] >= DRIVER_MIN_CHANGE), key=lambda c: -c[2])
    falling = sorted((c for c in changes if c[2] <= -DRIVER_MIN_CHANGE), key=lambda c: c[2])
    return {
        "previous": previous,
        "change": prediction.total - previous.total,
        "rising": rising[:DRIVERS_SHOWN],
        "falling": falling[:DRIVERS_SHOWN],
    }


def evidence_for(
    prediction: Prediction, previous: Prediction | None = None, *, item9: Item9Display | None = None
) -> list[dict]:
    """Per item: label, model-inferred value, the answer it rounds to, its change since `previous`, and
    the top chunks with the user's messages in them. Item 9 also carries the window's own flag (`item9`,
    computed here with the rule in force when not given): the sentences the risk-language detector fired
    on, shown first, and the label of a model item 9 its card does not validate."""
    if item9 is None:
        item9 = item9_for_prediction(
            prediction,
            manifest=prediction.model_version.manifest or {},
            self_report=None,
            rule=item9_rule_in_force(),
        )
    window = windows_for([(prediction.patient_id, prediction.window_end, "evidence")])[0]
    turns = {c.id: c.turns for c in window.conversations}
    items = []
    for i, label in enumerate(ITEM_LABELS):
        chunks = []
        for entry in (prediction.evidence[i] if i < len(prediction.evidence) else [])[:EVIDENCE_CHUNKS]:
            conversation = turns.get(entry["session"], ())
            texts = [
                conversation[t]
                for t in entry["turns"]
                if t < len(conversation) and conversation[t].role == "user"
            ]
            if texts:
                chunks.append(
                    {
                        "weight": entry["weight"],
                        "session": entry["session"],
                        "at": texts[0].sent_at,
                        "messages": [
                            t.text if len(t.text) <= MESSAGE_CHARS else t.text[:MESSAGE_CHARS] + "…"
                            for t in texts
                        ],
                    }
                )
        value = float(prediction.items[i])
        items.append(
            {
                "number": i + 1,
                "label": label,
                "value": value,
                "answer": item_answer(value),
                "change": value - float(previous.items[i]) if previous is not None else None,
                "flag": i == ITEM_SELF_HARM and item9.flag,
                "risk": item9.evidence if i == ITEM_SELF_HARM else (),
                "model_label": item9.model_label if i == ITEM_SELF_HARM else "",
                "chunks": chunks,
            }
        )
    return items


# A year of daily sessions is drawn point by point; beyond MAX_CHART_POINTS (a flood of sessions) the
# chart keeps the RECENT_POINTS newest and an even sample of the older ones, so a page's work is bounded.
MAX_CHART_POINTS = 1500
RECENT_POINTS = 500
SCORES_PAGE_SIZE = 50  # rows of the table of scores per page: its rows are most of the page's rendering


def chart_predictions(patient: Patient) -> tuple[list[Prediction], int]:
    """The predictions the patient page draws (oldest first, evidence deferred) and how many there are.

    Read once per request and shared by the chart, the heatmap, the table of scores and the history. The
    few model versions are read once and attached, rather than joined to every row (a second model
    instance per prediction was a fifth of the page's CPU); no count when all of them fit the chart."""
    rows = prediction_list_for_patient(patient=patient).defer("evidence")
    plain = rows.select_related(None)
    first = list(plain[: MAX_CHART_POINTS + 1])
    if len(first) <= MAX_CHART_POINTS:
        return _with_versions(first), len(first)
    total = rows.count()
    recent = list(plain.order_by("-window_end", "-model_version__created_at", "-pk")[:RECENT_POINTS])[::-1]
    older = list(rows.filter(window_end__lt=recent[0].window_end).values_list("pk", flat=True))
    step = -(-len(older) // (MAX_CHART_POINTS - RECENT_POINTS))
    return _with_versions(list(plain.filter(pk__in=older[::step])) + recent), total


def _with_versions(predictions: list[Prediction]) -> list[Prediction]:
    """Each prediction's model version (without its manifest and metrics), one query for all of them."""
    ids = {p.model_version_id for p in predictions}
    versions = ModelVersion.objects.defer("manifest", "metrics").in_bulk(ids) if ids else {}
    for p in predictions:
        p.model_version = versions[p.model_version_id]
    return predictions


def _scores_page(
    *,
    patient: Patient,
    series: list[Prediction],
    sampled: bool,
    active: ModelVersion | None,
    page: str | None,
) -> Page:
    """A page of the table of scores: one row per window, the active version's score, else the newest's,
    newest first. The chart's rows already hold every window unless it was sampled (a flood of sessions):
    then the rows are read from the database, a page at a time."""
    if not sampled:
        return Paginator(series[::-1], SCORES_PAGE_SIZE).get_page(page)
    rows = (
        prediction_current_list_for_patient(patient=patient, active_version_id=active.pk if active else None)
        .defer("evidence")
        .order_by("-window_end", "-model_version__created_at", "-pk")
    )
    return Paginator(rows, SCORES_PAGE_SIZE).get_page(page)


def patient_page_context(
    *, patient: Patient, user: User, selected_id: int | None, scores_page: str | None = None
) -> dict[str, Any]:
    # Evidence is read for the one shown prediction only (a deferred field: one more query).
    predictions, n_predictions = chart_predictions(patient)
    assessments = list(assessment_list_for_patient(patient=patient))
    series = current_series(predictions)
    latest = series[-1] if series else None
    active = model_version_active()
    selected = latest
    if selected_id is not None:
        selected = next((p for p in predictions if p.pk == selected_id), None) or (
            prediction_list_for_patient(patient=patient).filter(pk=selected_id).defer("evidence").first()
        )
    summary = TrajectorySummary.objects.filter(pk=patient.pk).first()
    model_status = (
        change_status(summary.baseline_total, latest.total)
        if latest and summary and summary.baseline_total is not None
        else None
    )
    self_report_status = (
        change_status(assessments[0].total, assessments[-1].total) if len(assessments) > 1 else None
    )
    weeks = engagement_by_week(patient=patient)
    feedback = (
        PredictionFeedback.objects.filter(prediction=selected, clinician=user).first() if selected else None
    )
    previous = week_before(selected, series) if selected else None
    events = patient_events(patient=patient, series=series, assessments=assessments)
    alerts = list(  # in the inbox's order: urgent, self-report, model; the most severe first
        alerts_in_inbox_order(
            Alert.objects.filter(patient=patient).exclude(status=Alert.Status.RESOLVED)
        ).select_related("rule", "acknowledged_by", "prediction")
    )
    item9 = item9_patient_context(latest=latest, selected=selected, assessments=assessments, alerts=alerts)
    return {
        **item9,
        "patient": patient,
        "latest": latest,
        "selected": selected,
        "selected_is_latest": selected is not None and selected == latest,
        # The latest window not scored by the active model (re-scoring still running, or older than
        # the re-scoring horizon): the page says so beside the score.
        "latest_not_current": bool(latest and active and latest.model_version_id != active.pk),
        "active_version": active,
        "evidence": evidence_for(selected, previous, item9=item9["item9_selected"]) if selected else [],
        "explanation": score_explanation(selected, previous) if selected else None,
        "feedback": feedback,
        "summary": summary,
        "model_status": model_status,
        "self_report_status": self_report_status,
        "figure": trajectory_figure(
            [
                TrajectoryPoint(
                    p.window_end,
                    p.total,
                    p.interval_low,
                    p.interval_high,
                    p.band,
                    p.model_version.version,
                    p.pk,
                    llm=p.is_llm,
                    validated=p.validated_here,
                )
                for p in predictions
            ],
            [QuestionnairePoint(a.completed_at, a.total) for a in assessments],
            [
                EventMark(e.at, e.kind, f"{e.kind_label}: {e.title}")
                for e in events
                if e.kind != "questionnaire"
            ],
            active_version=active.version if active else "",
            version_names=version_names(predictions),
        ),
        "scores": _scores_page(
            patient=patient,
            series=series,
            sampled=n_predictions > len(predictions),
            active=active,
            page=scores_page,
        ),
        "sampled": n_predictions > len(predictions),
        "heatmap": item_heatmap([(p.window_end, p.items) for p in series]) if series else None,
        "engagement": engagement_figure([(w.week, w.sessions, w.user_turns) for w in weeks])
        if weeks
        else None,
        "engagement_weeks": weeks[-4:][::-1],
        "assessments": assessments[::-1][:10],
        "escalation": EscalationStep.current_text(),
        "n_predictions": n_predictions,
        "alerts": alerts,
        "urgent_alerts": [a for a in alerts if a.urgent],  # the page's first screen names them
        "events": events,
        "notes": list(patient.notes.select_related("author")[:20]),
        "now": timezone.now(),
    }


FHIR_PAGE_SIZE = 1000  # predictions per FHIR Bundle: a flood of sessions comes in pages, not one 50 MB file


def _export_current(patient: Patient) -> tuple[QuerySet[Prediction], int | None]:
    """One score per window, as the page's table: the active version's, else the newest version's
    (marked as not scored by the current model), oldest first."""
    active = model_version_active()
    active_id = active.pk if active else None
    rows = prediction_current_list_for_patient(patient=patient, active_version_id=active_id)
    return rows.defer("evidence").order_by("window_end", "pk"), active_id


def _export_rows(
    patient: Patient, *, predictions_slice: slice | None = None, questionnaires: bool = True
) -> tuple[list[ExportPrediction], list[ExportQuestionnaire]]:
    rows, active_id = _export_current(patient)
    if predictions_slice is not None:
        rows = rows[predictions_slice]
    exported = [
        ExportPrediction(
            id=p.pk,
            at=p.window_end,
            window_start=p.window_start,
            total=p.total,
            items=tuple(float(v) for v in p.items),
            low=p.interval_low,
            high=p.interval_high,
            band=p.band,
            model_version=p.model_version.version,
            backbone=p.model_version.backbone,
            llm=p.is_llm,
            validated=p.validated_here,
            current=active_id is None or p.model_version_id == active_id,
        )
        for p in rows
    ]
    answers = [
        ExportQuestionnaire(id=a.pk, at=a.completed_at, total=a.total, items=tuple(int(v) for v in a.items))
        for a in (
            Assessment.objects.filter(patient=patient).order_by("completed_at") if questionnaires else []
        )
    ]
    return exported, answers


def patient_csv(*, patient: Patient) -> str:
    predictions, questionnaires = _export_rows(patient)
    return trajectory_csv(
        patient_source=patient.source.name,
        patient_external_id=patient.external_id,
        predictions=predictions,
        questionnaires=questionnaires,
    )


def patient_fhir_bundle(*, patient: Patient, base_url: str, page: int = 1) -> dict | None:
    """One page of the patient's FHIR Bundle (FHIR_PAGE_SIZE predictions, oldest first; the
    questionnaires on the first page), with `link` relations self/next/previous; None past the end."""
    count = _export_current(patient)[0].count()
    pages = max(1, -(-count // FHIR_PAGE_SIZE))
    if page > pages:
        return None
    start = (page - 1) * FHIR_PAGE_SIZE
    predictions, questionnaires = _export_rows(
        patient, predictions_slice=slice(start, start + FHIR_PAGE_SIZE), questionnaires=page == 1
    )
    bundle = fhir_bundle(
        patient_external_id=patient.external_id,
        patient_source=patient.source.name,
        patient_id=patient.pk,
        predictions=predictions,
        questionnaires=questionnaires,
        generated_at=timezone.now(),
        identifier_system_base=settings.FHIR_IDENTIFIER_SYSTEM_BASE,
        model_code_system=settings.FHIR_MODEL_CODE_SYSTEM,
    )
    url = base_url.rstrip("/") + reverse("dashboards:patient_export_fhir", args=[patient.pk])
    links = (
        [("self", page)]
        + ([("next", page + 1)] if page < pages else [])
        + ([("previous", page - 1)] if page > 1 else [])
    )
    bundle["link"] = [{"relation": relation, "url": f"{url}?page={n}"} for relation, n in links]
    return bundle


def demo_setup_status() -> dict[str, Any] | None:
    """In the demo (training in the web process's background, `make demo` serving before its starter
    model exists): whether a model is active yet and how many sessions have no score at all; None
    elsewhere (a table-wide count has no place on a production page)."""
    if not settings.TRAINING_IN_BACKGROUND_THREAD:
        return None
    scored = Prediction.objects.filter(session=OuterRef("pk"))
    waiting = ConversationSession.objects.filter(~Exists(scored)).count()
    no_model = not ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists()
    return {"no_model": no_model, "sessions_waiting": waiting} if (no_model or waiting) else None
