"""Read API for clinicians (their Django login session): the same care-team scoping as the pages,
so a patient of another team is a 404 here too. Every score is labelled model-inferred."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from monitor_site.accounts.selectors import user_signed_in
from monitor_site.alerts.models import Alert
from monitor_site.alerts.selectors import alert_list_for_user
from monitor_site.api.fields import StrictCharField
from monitor_site.api.serializers import ErrorOut
from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.dashboards.triage import patients_for_triage
from monitor_site.patients.models import Patient
from monitor_site.patients.selectors import patient_get_for_user, patient_list_for_user
from monitor_site.predictions.selectors import (
    assessment_list_for_patient,
    prediction_intervals,
    prediction_list_for_patient,
)
from scoring.phq9 import METHOD_LLM, METHOD_MODEL, METHOD_SELF_REPORT

METHOD = METHOD_MODEL
LLM_RATED = METHOD_LLM  # a cold-start rating by Claude (scoring.phq9: exports use the same word)
PAGE_SIZE = 50
PATIENT_ID = re.compile(r"[1-9][0-9]{0,17}")  # a positive bigint; anything else names no patient


class SummaryOut(serializers.Serializer):
    method = serializers.SerializerMethodField()
    latest_total = serializers.FloatField(allow_null=True)
    latest_band = serializers.CharField()
    latest_self_harm = serializers.FloatField(allow_null=True)
    latest_at = serializers.DateTimeField(allow_null=True)
    baseline_total = serializers.FloatField(allow_null=True)
    change_since_baseline = serializers.FloatField(allow_null=True)
    trend = serializers.ListField(child=serializers.FloatField())

    def get_method(self, obj: object) -> str:
        """Of the latest score: "llm-rated" for a cold-start LLM rating (set on the page's rows by
        patient_list), else "model-inferred"."""
        return LLM_RATED if getattr(obj, "latest_llm", False) else METHOD


class PatientOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    external_id = serializers.CharField()
    care_team = serializers.CharField(source="care_team.name", default=None)
    is_synthetic = serializers.BooleanField()
    open_alerts = serializers.IntegerField(default=0)
    urgent_alerts = serializers.IntegerField(default=0)
    summary = serializers.SerializerMethodField()

    def get_summary(self, obj: Patient) -> dict | None:
        summary = getattr(obj, "summary", None)
        return SummaryOut(summary).data if summary is not None else None


class PredictionOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    method = serializers.SerializerMethodField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    total = serializers.FloatField()
    items = serializers.ListField(child=serializers.FloatField())
    interval = serializers.SerializerMethodField()
    band = serializers.CharField()
    model_version = serializers.CharField(source="model_version.version")
    risk_language = serializers.BooleanField(
        help_text="The self-harm risk-language detector fired on a patient sentence of this window (the "
        "sentences are shown on the patient page, not here)."
    )
    detector_version = serializers.CharField(help_text="The detector that read this window; empty: none did.")

    def get_method(self, obj: object) -> str:
        """ "model-inferred", or "llm-rated" for a cold-start rating by Claude (never a questionnaire)."""
        return LLM_RATED if obj.is_llm else METHOD  # type: ignore[attr-defined]

    def get_interval(self, obj: object) -> list[float] | None:
        """[low, high]; null for an LLM rating not yet validated here (no interval known)."""
        if not obj.validated_here:  # type: ignore[attr-defined]
            return None
        return [obj.interval_low, obj.interval_high]  # type: ignore[attr-defined]


class QuestionnaireOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    method = serializers.SerializerMethodField()
    completed_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    items = serializers.ListField(child=serializers.IntegerField())

    def get_method(self, obj: object) -> str:
        return METHOD_SELF_REPORT


class TrajectoryOut(serializers.Serializer):
    patient = PatientOut()
    count = serializers.IntegerField(help_text="Predictions in all pages.")
    next = serializers.CharField(allow_null=True, help_text="The next page of predictions, or null.")
    previous = serializers.CharField(allow_null=True)
    predictions = PredictionOut(many=True, help_text="This page's predictions, oldest first.")
    questionnaires = QuestionnaireOut(many=True, help_text="Every questionnaire (on every page).")


TRAJECTORY_PAGE_SIZE = 500  # predictions a page: a year of daily sessions in one, a flood in many


class TrajectoryQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, help_text="1-based page of predictions.")
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=TRAJECTORY_PAGE_SIZE, help_text="Predictions a page."
    )


class AlertOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    patient = serializers.IntegerField(source="patient_id")
    patient_external_id = serializers.CharField(source="patient.external_id")
    rule = serializers.CharField(source="rule.name")
    kind = serializers.CharField(source="rule.kind")
    urgent = serializers.BooleanField()
    status = serializers.CharField()
    summary = serializers.CharField()
    item9_sources = serializers.ListField(
        child=serializers.CharField(),
        help_text='Item-9 alerts: what raised the flag ("detector": risk language in the patient\'s '
        'messages, "model": the model-inferred item 9, "self-report": the patient\'s own answer).',
    )
    opened_at = serializers.DateTimeField()


class PatientListQuery(serializers.Serializer):
    """Checked before any query runs: a NUL in `q` is a 400, not a database error; so is `page=abc`."""

    q = StrictCharField(
        required=False, allow_blank=True, trim_whitespace=False, default="", help_text="Part of an id."
    )
    page = serializers.IntegerField(
        required=False, min_value=1, help_text=f"1-based page number ({PAGE_SIZE} patients a page)."
    )


class PatientPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PatientOut(many=True)


NOT_SIGNED_IN = {403: OpenApiResponse(ErrorOut, description="Not signed in.")}
NOT_FOUND = {404: OpenApiResponse(ErrorOut, description="No such patient in your care teams.")}


def _clinician_api(view: Callable) -> Callable:
    view = permission_classes([IsAuthenticated])(view)
    return authentication_classes([SessionAuthentication])(view)


def _patient(request: Request, patient_id: str) -> Patient:
    if not PATIENT_ID.fullmatch(patient_id):
        raise Http404("No such patient in your care teams.")
    patient = patient_get_for_user(user=user_signed_in(request.user), patient_id=int(patient_id))
    if patient is None:
        raise Http404("No such patient in your care teams.")
    return patient


@extend_schema(
    responses={
        200: PatientPageOut,
        400: OpenApiResponse(ErrorOut, description="Invalid query parameter."),
        **NOT_SIGNED_IN,
        404: OpenApiResponse(ErrorOut, description="No such page."),
    },
    parameters=[PatientListQuery],
    operation_id="v1_patients_list",
    summary="My care teams' patients (triage order)",
)
@api_view(["GET"])
@_clinician_api
def patient_list(request: Request) -> Response:
    query = PatientListQuery(data={k: request.GET[k] for k in ("q", "page") if k in request.GET})
    query.is_valid(raise_exception=True)
    rows = patients_for_triage(
        patient_list_for_user(user=user_signed_in(request.user)), query=query.validated_data["q"]
    )
    paginator = PageNumberPagination()
    paginator.page_size = PAGE_SIZE
    page = paginator.paginate_queryset(rows, request) or []
    _mark_llm_summaries(page)
    return paginator.get_paginated_response(PatientOut(page, many=True).data)


def _mark_llm_summaries(patients: list[Patient]) -> None:
    """Which of these patients' latest scores are cold-start LLM ratings (one query), for SummaryOut."""
    summaries = [s for s in (getattr(p, "summary", None) for p in patients) if s is not None]
    latest = prediction_intervals(prediction_ids=[s.latest_prediction_id for s in summaries])
    for summary in summaries:
        summary.latest_llm = latest.get(summary.latest_prediction_id, (None, False))[1]


@extend_schema(
    parameters=[OpenApiParameter("patient_id", OpenApiTypes.INT, OpenApiParameter.PATH), TrajectoryQuery],
    responses={
        200: TrajectoryOut,
        400: OpenApiResponse(ErrorOut, description="Invalid query parameter."),
        **NOT_SIGNED_IN,
        **NOT_FOUND,
    },
    summary="One patient's trajectory: model-inferred (paged, oldest first) and self-report",
)
@api_view(["GET"])
@_clinician_api
def patient_trajectory(request: Request, patient_id: str) -> Response:
    patient = _patient(request, patient_id)
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.PATIENT_VIEW,
        obj=patient,
        patient_id=patient.pk,
        detail={"via": "api"},
    )
    query = TrajectoryQuery(data={k: request.GET[k] for k in ("page", "page_size") if k in request.GET})
    query.is_valid(raise_exception=True)
    paginator = PageNumberPagination()
    paginator.page_size = TRAJECTORY_PAGE_SIZE
    paginator.page_size_query_param = "page_size"
    paginator.max_page_size = TRAJECTORY_PAGE_SIZE
    page = paginator.paginate_queryset(
        prediction_list_for_patient(patient=patient).defer("evidence"), request
    )
    assert paginator.page is not None
    _mark_llm_summaries([patient])
    body = {
        "patient": patient,
        "count": paginator.page.paginator.count,
        "next": paginator.get_next_link(),
        "previous": paginator.get_previous_link(),
        "predictions": page,
        "questionnaires": list(assessment_list_for_patient(patient=patient)),
    }
    return Response(TrajectoryOut(body).data)


ALERT_PAGE_SIZE = 200


class AlertListQuery(serializers.Serializer):
    page = serializers.IntegerField(
        required=False, min_value=1, help_text=f"1-based page number ({ALERT_PAGE_SIZE} alerts a page)."
    )


class AlertPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AlertOut(many=True)


@extend_schema(
    responses={
        200: AlertPageOut,
        400: OpenApiResponse(ErrorOut, description="Invalid query parameter."),
        **NOT_SIGNED_IN,
        404: OpenApiResponse(ErrorOut, description="No such page."),
    },
    parameters=[AlertListQuery],
    summary="Unresolved alerts of my care teams' patients (paged, urgent first)",
)
@api_view(["GET"])
@_clinician_api
def alert_list(request: Request) -> Response:
    """Every unresolved alert, ALERT_PAGE_SIZE a page with count/next/previous: none is cut off."""
    AlertListQuery(data={k: request.GET[k] for k in ("page",) if k in request.GET}).is_valid(
        raise_exception=True
    )
    paginator = PageNumberPagination()
    paginator.page_size = ALERT_PAGE_SIZE
    alerts: list[Alert] = (
        paginator.paginate_queryset(alert_list_for_user(user=user_signed_in(request.user)), request) or []
    )
    return paginator.get_paginated_response(AlertOut(alerts, many=True).data)
