"""Ingestion endpoints. Thin: size check, validation, one service call, the contract's status codes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from monitor_site.alerts.services import alerts_evaluate_self_report
from monitor_site.alerts.tasks import alerts_notify_enqueue
from monitor_site.api.errors import PayloadTooLarge, error_response
from monitor_site.api.serializers import AssessmentIn, AssessmentOut, ErrorOut, SessionIn, SessionOut
from monitor_site.patients.models import IngestSource, IngestToken
from monitor_site.patients.services.ingest import (
    IngestConflict,
    IngestForbidden,
    IngestRefused,
    assessment_ingest,
    session_ingest,
)
from monitor_site.predictions.tasks import session_scoring_enqueue

COMMON_ERRORS = {
    400: OpenApiResponse(ErrorOut, description="Invalid input; `errors` names each bad field."),
    401: OpenApiResponse(ErrorOut, description="Missing, invalid or revoked bearer token."),
    403: OpenApiResponse(
        ErrorOut,
        description="The patient belongs to another care team than the token's (or the token's source has "
        "no care team); `errors.patient` says so. Nothing is stored.",
    ),
    409: OpenApiResponse(ErrorOut, description="This id was already received with other content."),
    413: OpenApiResponse(ErrorOut, description="Body larger than API_MAX_BODY_BYTES."),
    415: OpenApiResponse(ErrorOut, description="Content-Type is not application/json."),
    429: OpenApiResponse(
        ErrorOut, description="More than INGEST_RATE_LIMIT_PER_MINUTE requests this minute; see Retry-After."
    ),
}


SESSION_EXAMPLE = OpenApiExample(
    "A short session",
    request_only=True,
    value={
        "patient": "pt-1042",
        "session_id": "chat-2026-03-01-0930",
        "started_at": "2026-03-01T09:30:00+01:00",
        "messages": [
            {
                "role": "user",
                "text": "I haven't slept properly all week.",
                "sent_at": "2026-03-01T09:30:05+01:00",
            },
            {
                "role": "assistant",
                "text": "That sounds exhausting. What keeps you up?",
                "sent_at": "2026-03-01T09:30:09+01:00",
            },
        ],
    },
)
ASSESSMENT_EXAMPLE = OpenApiExample(
    "A completed questionnaire",
    request_only=True,
    value={
        "patient": "pt-1042",
        "completed_at": "2026-03-01T10:00:00Z",
        "items": [1, 2, 0, 3, 1, 0, 2, 1, 0],
    },
)


def body_limit() -> int:
    """API_MAX_BODY_BYTES, unless Django's own DATA_UPLOAD_MAX_MEMORY_SIZE is lower: DRF reads JSON through
    request.body, which enforces it, so that lower limit is the one really in force."""
    django_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return (
        settings.API_MAX_BODY_BYTES
        if django_limit is None
        else min(settings.API_MAX_BODY_BYTES, django_limit)
    )


def _source(request: Request) -> IngestSource:
    """The source of the bearer token that authenticated this request (IngestTokenAuthentication)."""
    token = request.auth
    assert isinstance(token, IngestToken), "ingestion views authenticate with an ingest token"
    return token.source


def _validated(request: Request, serializer_class: type) -> dict[str, Any]:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = body_limit()
    if length > limit:
        raise PayloadTooLarge(f"Request body is {length} bytes; the limit is {limit}.")
    try:
        data = request.data
    except RecursionError:  # json.loads on [[[[...]]]]: deep nesting is malformed input, not a crash
        raise ParseError("JSON nested too deeply.") from None
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _conflict(exc: IngestConflict) -> Response:
    return error_response(
        status_code=status.HTTP_409_CONFLICT,
        detail=exc.message,
        code="conflict",
        errors={exc.field: [exc.message]},
    )


def _refused(exc: IngestRefused) -> Response:
    return error_response(
        status_code=status.HTTP_400_BAD_REQUEST,
        detail=exc.message,
        code="invalid",
        errors={exc.field: [exc.message]},
    )


def _forbidden(exc: IngestForbidden) -> Response:
    """Another care team's patient: 403 naming the field, nothing stored."""
    return error_response(
        status_code=status.HTTP_403_FORBIDDEN,
        detail=exc.message,
        code="permission_denied",
        errors={exc.field: [exc.message]},
    )


@extend_schema(
    request=SessionIn,
    responses={
        201: SessionOut,
        200: OpenApiResponse(SessionOut, description="Identical replay."),
        **COMMON_ERRORS,
    },
    examples=[SESSION_EXAMPLE],
    summary="Push one AI-chat session",
    description="Stores the session and its messages in one transaction and queues scoring of the "
    "patient's 14-day window. Re-sending the same body is safe (200, same id).",
)
@api_view(["POST"])
def session_create(request: Request) -> Response:
    data = _validated(request, SessionIn)
    try:
        result = session_ingest(
            source=_source(request),
            patient_external_id=data["patient"],
            session_external_id=data["session_id"],
            started_at=data["started_at"],
            messages=data["messages"],
            care_team=_source(request).default_care_team,
        )
    except IngestConflict as exc:
        return _conflict(exc)
    except IngestRefused as exc:
        return _refused(exc)
    except IngestForbidden as exc:
        return _forbidden(exc)
    session = result.obj
    if result.created:  # scored (or, in a cold start, rated) once the session is committed
        session_scoring_enqueue(session_id=session.pk)
    body = {
        "id": session.pk,
        "session_id": session.external_id,
        "patient": data["patient"],
        "messages": session.message_count,
        "created": result.created,
    }
    return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


@extend_schema(
    request=AssessmentIn,
    responses={
        201: AssessmentOut,
        200: OpenApiResponse(AssessmentOut, description="Identical replay."),
        **COMMON_ERRORS,
    },
    examples=[ASSESSMENT_EXAMPLE],
    summary="Push one completed PHQ-9 questionnaire (ground truth, self-report)",
)
@api_view(["POST"])
def assessment_create(request: Request) -> Response:
    data = _validated(request, AssessmentIn)
    try:
        result = assessment_ingest(
            source=_source(request),
            patient_external_id=data["patient"],
            completed_at=data["completed_at"],
            items=data["items"],
            care_team=_source(request).default_care_team,
        )
    except IngestConflict as exc:
        return _conflict(exc)
    except IngestRefused as exc:
        return _refused(exc)
    except IngestForbidden as exc:
        return _forbidden(exc)
    assessment = result.obj
    if result.created:  # the patient's own answers: the self-report rules, then their e-mails
        alerts_notify_enqueue(alerts=alerts_evaluate_self_report(patient_ids=[assessment.patient_id]))
    body = {
        "id": assessment.pk,
        "patient": data["patient"],
        "completed_at": assessment.completed_at,
        "total": assessment.total,
        "created": result.created,
    }
    return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
