"""Clinician pages. Every patient read goes through the care-team selectors: other teams get 404."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from monitor_site.dashboards.charts import QuestionnairePoint, TrajectoryPoint, trajectory_figure
from monitor_site.patients.selectors import patient_get_for_user, patient_list_for_user
from monitor_site.predictions.selectors import (
    assessment_list_for_patient,
    patients_with_latest_prediction,
    prediction_list_for_patient,
)
from scoring.bands import ITEM_LABELS, ITEM_SELF_HARM, SELF_HARM_FLAG

PAGE_SIZE = 50


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    patients = patients_with_latest_prediction(patient_list_for_user(user=request.user)).select_related(
        "care_team"
    )
    query = request.GET.get("q", "").strip()
    if query:
        patients = patients.filter(external_id__icontains=query)
    patients = patients.order_by("-latest_total", "external_id")
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    for patient in page:
        items = patient.latest_items or []
        patient.self_harm = items[ITEM_SELF_HARM] if items else None
        patient.self_harm_flag = bool(items) and items[ITEM_SELF_HARM] >= SELF_HARM_FLAG
    any_synthetic = any(p.is_synthetic for p in page)
    return render(
        request,
        "dashboards/patient_list.html",
        {"page": page, "query": query, "any_synthetic": any_synthetic},
    )


@login_required
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    if patient is None:
        raise Http404("No such patient in your care teams.")
    predictions = list(prediction_list_for_patient(patient=patient))
    assessments = list(assessment_list_for_patient(patient=patient))
    figure = trajectory_figure(
        [
            TrajectoryPoint(
                p.window_end, p.total, p.interval_low, p.interval_high, p.band, p.model_version.version
            )
            for p in predictions
        ],
        [QuestionnairePoint(a.completed_at, a.total) for a in assessments],
    )
    latest = predictions[-1] if predictions else None
    items = (
        [
            {"label": label, "value": value, "flag": i == ITEM_SELF_HARM and value >= SELF_HARM_FLAG}
            for i, (label, value) in enumerate(zip(ITEM_LABELS, latest.items, strict=True))
        ]
        if latest
        else []
    )
    return render(
        request,
        "dashboards/patient_detail.html",
        {
            "patient": patient,
            "latest": latest,
            "items": items,
            "figure": json.loads(figure.to_json()),
            "assessments": assessments[::-1][:10],
            "n_predictions": len(predictions),
        },
    )
