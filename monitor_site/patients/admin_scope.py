"""Patient data in the admin: a staff user sees the patients of their own care teams only (superusers
see all), and every read (a list page, an object's page) leaves an audit event, as the clinicians'
pages do. Used by the admins of patients, questionnaires and predictions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record

AUDITED_IDS = 100  # a list page records the first ids it showed and how many


class CareTeamScopedAdmin(admin.ModelAdmin):
    # The path from the model to its Patient: "" for Patient itself, "patient" for a questionnaire.
    patient_path = "patient"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        rows = super().get_queryset(request)
        user = request.user
        if user.is_superuser:
            return rows
        prefix = f"{self.patient_path}__" if self.patient_path else ""
        return rows.filter(**{f"{prefix}care_team__members": user})

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if request.method == "GET" else None
        if changelist is not None:
            shown = [str(obj.pk) for obj in changelist.result_list][:AUDITED_IDS]
            audit_record(
                actor=request.user,
                action=AuditEvent.Action.ADMIN_VIEW,
                detail={"model": self.model._meta.label_lower, "view": "list", "objects": shown},
            )
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = getattr(response, "context_data", {}).get("original") if request.method == "GET" else None
        if obj is not None:
            patient_id = obj.pk if not self.patient_path else _patient_id(obj, self.patient_path)
            audit_record(
                actor=request.user,
                action=AuditEvent.Action.ADMIN_VIEW,
                obj=obj,
                patient_id=patient_id,
                detail={"model": self.model._meta.label_lower, "view": "object"},
            )
        return response


def _patient_id(obj: Any, path: str) -> int | None:
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop, None)
    return getattr(obj, f"{last}_id", None)
