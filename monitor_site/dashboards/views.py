"""Clinician pages. Every patient read goes through the care-team selectors: other teams get 404."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from monitor_site.accounts.selectors import user_signed_in
from monitor_site.alerts.models import Alert, AlertRule, EscalationStep
from monitor_site.alerts.selectors import (
    PatientAlerts,
    alert_get_for_user,
    alert_list_for_user,
    alert_patient_order,
    alerts_grouped,
    item9_rule_in_force,
    latest_self_reports,
)
from monitor_site.alerts.services import alert_acknowledge, alert_resolve
from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.dashboards.item9 import (
    RULE_OFF_NOTICE,
    item9_for_alerts,
    item9_for_latest,
    latest_predictions,
)
from monitor_site.dashboards.selectors import (
    demo_setup_status,
    patient_csv,
    patient_fhir_bundle,
    patient_page_context,
    patient_page_url,
)
from monitor_site.dashboards.triage import (
    ALERT_FILTERS,
    CHANGE_FILTERS,
    SORTS,
    caseload_overview,
    patients_for_triage,
)
from monitor_site.patients.models import Patient
from monitor_site.patients.selectors import patient_get_for_user, patient_list_for_user
from monitor_site.patients.services.notes import clinician_note_create
from monitor_site.predictions.models import Prediction
from monitor_site.predictions.services.feedback import prediction_feedback_record
from scoring.phq9 import BANDS

PAGE_SIZE = 50
# The inbox grouped by patient pages patients, each with all their open alerts (two on average on the
# load set): 25 patients draw about as many alerts as the flat inbox's 50; 50 patients' rendering was
# most of the page's 74 ms of CPU (manage.py bench_pages).
GROUPED_PAGE_SIZE = 25


def _patient_or_404(request: HttpRequest, patient_id: int) -> Patient:
    patient = patient_get_for_user(user=user_signed_in(request.user), patient_id=patient_id)
    if patient is None:
        raise Http404("No such patient in your care teams.")
    return patient


SCOPES = {"team": "My care teams", "mine": "My patients"}


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    user = user_signed_in(request.user)
    teams = list(user.care_teams.order_by("name"))
    team = _id_param(request, "team")
    filters: dict[str, Any] = {
        "q": request.GET.get("q", "").strip(),
        "band": _choice(request, "band", [b.key for b in BANDS] + ["unscored"]),
        "alert": _choice(request, "alert", ALERT_FILTERS),
        "change": _choice(request, "change", CHANGE_FILTERS),
        "overdue": "1" if request.GET.get("overdue") == "1" else "",
        "scope": _choice(request, "scope", SCOPES),
        "team": team if any(t.pk == team for t in teams) else None,
        "sort": _choice(request, "sort", SORTS),
    }
    in_scope = patient_list_for_user(user=user)
    if filters["scope"] == "mine":
        in_scope = in_scope.filter(named_clinician=user)
    if filters["team"] is not None:
        in_scope = in_scope.filter(care_team_id=filters["team"])
    rows = patients_for_triage(
        in_scope,
        query=filters["q"],
        band=filters["band"],
        alert=filters["alert"],
        change=filters["change"],
        overdue=bool(filters["overdue"]),
        sort=filters["sort"] or "urgency",
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    reports = latest_self_reports(patient_ids=[p.pk for p in page])
    latest = latest_predictions(
        prediction_ids=[p.summary.latest_prediction_id for p in page if getattr(p, "summary", None)]
    )
    rule = item9_rule_in_force()
    item9 = item9_for_latest(patient_ids=[p.pk for p in page], latest=latest, self_reports=reports, rule=rule)
    for row in page:
        prediction = latest.get(row.pk)
        row.self_report = reports.get(row.pk)  # type: ignore[attr-defined] # beside the model item 9, always
        row.item9 = item9[row.pk]  # type: ignore[attr-defined]
        row.latest_interval = (  # type: ignore[attr-defined] # none for an LLM rating not yet validated here
            (prediction.interval_low, prediction.interval_high)
            if prediction and prediction.validated_here
            else None
        )
        row.latest_llm = bool(prediction and prediction.is_llm)  # type: ignore[attr-defined]
        # Scored by a version that is not the active one (re-scoring running, or a window older than
        # the re-scoring horizon): the list says so beside the score and its date.
        # Read with the page's latest predictions: joined to all 5,000 rows before the sort it cost ~140 ms.
        row.latest_not_current = bool(prediction) and not prediction.version_active  # type: ignore[attr-defined,union-attr]
    # The overview describes the scope (my patients or a team), not the row filters below it.
    scope_only = {k: filters[k] for k in ("scope", "team") if filters[k]}
    return render(
        request,
        "dashboards/patient_list.html",
        {
            "page": page,
            "filters": filters,
            "keep": urlencode({k: v for k, v in filters.items() if v}),
            "scope_keep": urlencode(scope_only),
            "overview": caseload_overview(in_scope, cache_key=f"{user.pk}:{urlencode(scope_only)}"),
            "bands": BANDS,
            "sorts": {k: label for k, (label, _) in SORTS.items()},
            "alert_filters": ALERT_FILTERS,
            "change_filters": CHANGE_FILTERS,
            "scopes": SCOPES,
            "teams": teams,
            "any_synthetic": any(p.is_synthetic for p in page),
            "item9_rule_off": RULE_OFF_NOTICE if rule is None else "",
            "demo_setup": demo_setup_status(),
        },
    )


def _choice(request: HttpRequest, name: str, allowed: Iterable[str]) -> str:
    """A filter's value from the query string if it is one of `allowed`; anything else means no filter."""
    value = request.GET.get(name, "")
    return value if value in allowed else ""


@login_required
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    selected_id = request.GET.get("prediction")
    if selected_id and not re.fullmatch(r"[0-9]{1,18}", selected_id):
        raise Http404("No such prediction for this patient.")  # never a 500 for a hand-edited URL
    context = patient_page_context(
        patient=patient,
        user=user_signed_in(request.user),
        selected_id=int(selected_id) if selected_id else None,
        scores_page=request.GET.get("scores_page"),
    )
    if selected_id and context["selected"] is None:
        raise Http404("No such prediction for this patient.")
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.PATIENT_VIEW,
        obj=patient,
        patient_id=patient.pk,
        detail={"prediction": context["selected"].pk} if context["selected"] else {},
    )
    return render(request, "dashboards/patient_detail.html", context)


@login_required
def patient_report(request: HttpRequest, patient_id: int) -> HttpResponse:
    """A printable summary for a session or a referral: chart, items, MBC status, alerts and notes. No
    conversation text unless asked for (?evidence=1), and then it says so on every printed page."""
    patient = _patient_or_404(request, patient_id)
    with_evidence = request.GET.get("evidence") == "1"
    context = patient_page_context(patient=patient, user=user_signed_in(request.user), selected_id=None)
    if not with_evidence:
        context["evidence"] = [{**item, "chunks": [], "risk": ()} for item in context["evidence"]]
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.PATIENT_EXPORT,
        obj=patient,
        patient_id=patient.pk,
        detail={"format": "report", "conversation_text": with_evidence},
    )
    context.update({"with_evidence": with_evidence, "generated_by": request.user.get_username()})
    return render(request, "dashboards/patient_report.html", context)


@login_required
@require_POST
def patient_note(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    try:
        clinician_note_create(
            patient=patient, author=user_signed_in(request.user), text=request.POST.get("text", "")
        )
    except ValueError as exc:
        messages.error(request, f"Note not saved: {exc}")
    else:
        messages.success(request, "Note saved.")
    return redirect(f"{patient_page_url(patient)}#notes")


@login_required
@require_POST
def prediction_feedback(request: HttpRequest, patient_id: int, prediction_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    prediction = Prediction.objects.filter(pk=prediction_id, patient=patient).first()
    if prediction is None:
        raise Http404("No such prediction for this patient.")
    try:
        prediction_feedback_record(
            prediction=prediction,
            clinician=user_signed_in(request.user),
            verdict=request.POST.get("verdict", ""),
            comment=request.POST.get("comment", ""),
        )
    except ValueError as exc:
        messages.error(request, f"Feedback not saved: {exc}")
    else:
        messages.success(request, "Thank you: your feedback is kept for the next training run.")
    return redirect(f"{patient_page_url(patient)}?prediction={prediction.pk}#evidence")


@login_required
def patient_export_csv(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    body = patient_csv(patient=patient)
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.PATIENT_EXPORT,
        obj=patient,
        patient_id=patient.pk,
        detail={"format": "csv"},
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="phq9-{patient.pk}-trajectory.csv"'
    return response


@login_required
def patient_export_fhir(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    page = _id_param(request, "page") if "page" in request.GET else 1
    base_url = request.build_absolute_uri("/").rstrip("/")
    bundle = patient_fhir_bundle(patient=patient, base_url=base_url, page=page) if page else None
    if page is None or bundle is None:
        raise Http404("No such page of this patient's FHIR export.")
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.PATIENT_EXPORT,
        obj=patient,
        patient_id=patient.pk,
        detail={"format": "fhir-r4", "page": page},
    )
    response = HttpResponse(json.dumps(bundle, indent=1), content_type="application/fhir+json")
    suffix = f"-page-{page}" if page > 1 else ""
    response["Content-Disposition"] = f'attachment; filename="phq9-{patient.pk}-fhir-bundle{suffix}.json"'
    return response


def _id_param(request: HttpRequest, name: str) -> int | None:
    """A filter's id from the query string; anything but a plain number means no filter."""
    value = request.GET.get(name, "")
    return int(value) if re.fullmatch(r"[0-9]{1,18}", value) else None


@login_required
def alert_inbox(request: HttpRequest) -> HttpResponse:
    resolved = request.GET.get("show") == "resolved"
    user = user_signed_in(request.user)
    filters: dict[str, Any] = {name: _id_param(request, name) for name in ("patient", "rule", "team")}
    filters["group"] = "patient" if request.GET.get("group") == "patient" else None
    alerts = alert_list_for_user(
        user=user,
        resolved=resolved,
        patient_id=filters["patient"],
        rule_id=filters["rule"],
        team_id=filters["team"],
    ).select_related("prediction")
    groups: list[PatientAlerts] = []
    if filters["group"]:
        # One row per patient with all their alerts; the pages are pages of patients.
        page = Paginator(alert_patient_order(alerts), GROUPED_PAGE_SIZE).get_page(request.GET.get("page"))
        groups = alerts_grouped(alerts, patient_ids=[row["patient_id"] for row in page])
        shown = [a for g in groups for a in g.alerts]
    else:
        page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
        shown = list(page)
    reports = latest_self_reports(patient_ids=[a.patient_id for a in shown])
    rule = item9_rule_in_force()
    item9 = item9_for_alerts(shown, rule=rule)
    for i, a in enumerate(shown):
        # Where "resolve" lands: the alert that followed (it stays in the list), else the list's top.
        a.after_anchor = f"alert-{shown[i + 1].pk}" if i + 1 < len(shown) else ""  # type: ignore[attr-defined]
        a.self_report = reports.get(a.patient_id)  # type: ignore[attr-defined]
        a.item9 = item9.get(a.pk)  # type: ignore[attr-defined] # item-9 alerts: sources, sentences first
    context = {
        "page": page,
        "groups": groups,
        "resolved": resolved,
        "filters": filters,
        "keep": urlencode({k: v for k, v in filters.items() if v is not None}),
        "rules": AlertRule.objects.order_by("source", "name"),
        "teams": user.care_teams.order_by("name"),
        "escalation": EscalationStep.current_text() if any(a.urgent for a in shown) else "",
        "item9_rule_off": RULE_OFF_NOTICE if rule is None else "",
    }
    return render(request, "dashboards/alert_inbox.html", context)


@login_required
@require_POST
def alert_action(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    alert = alert_get_for_user(user=user_signed_in(request.user), alert_id=alert_id)
    if alert is None:
        raise Http404("No such alert for your care teams.")
    note = request.POST.get("note", "")
    act, done = (
        (alert_acknowledge, "acknowledged") if action == "acknowledge" else (alert_resolve, "resolved")
    )
    try:
        act(alert=alert, user=user_signed_in(request.user), note=note)
    except ValueError as exc:  # NoteRequired, or a note that cannot be stored: nothing changed
        messages.error(request, f"Not {done}: {exc}")
    else:
        messages.success(request, f"Alert {done}: {alert.rule.name}, patient {alert.patient.external_id}.")
    back = request.POST.get("next", "").split("#")[0]
    safe = url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    # Keep the clinician's place: back to the same page, at this alert, or once resolved (gone from
    # the list) at the one that followed it.
    anchor = f"alert-{alert.pk}"
    after = request.POST.get("after", "")
    if alert.status == Alert.Status.RESOLVED and re.fullmatch(r"(alert|patient)-[0-9]{1,18}", after):
        anchor = after
    return redirect(f"{back if back and safe else reverse('dashboards:alert_inbox')}#{anchor}")
