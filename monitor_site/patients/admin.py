from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from monitor_site.accounts.admin_actions import SuperuserActions
from monitor_site.patients.admin_scope import CareTeamScopedAdmin
from monitor_site.patients.models import Assessment, IngestSource, IngestToken, Patient
from monitor_site.patients.services.erasure import patient_erase
from monitor_site.patients.services.tokens import ingest_token_revoke


@admin.register(IngestSource)
class IngestSourceAdmin(admin.ModelAdmin):
    list_display = ("name", "default_care_team", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Changing a source's team re-points all its tokens: `manage.py move_ingest_source`, which says
        # what moves, never a silent edit here.
        return ("name", "default_care_team") if obj is not None else ()


@admin.register(IngestToken)
class IngestTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_ingest_token`; here they can only be revoked."""

    list_display = ("source", "prefix", "created_at", "revoked_at")
    readonly_fields = ("source", "prefix", "token_hash", "created_at")
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = ingest_token_revoke(tokens=queryset)
        self.message_user(
            request,
            f"{revoked} token(s) revoked; web processes refuse them within "
            f"{settings.INGEST_TOKEN_CACHE_SECONDS} seconds.",
        )


@admin.register(Patient)
class PatientAdmin(SuperuserActions, CareTeamScopedAdmin):
    patient_path = ""
    list_display = ("external_id", "source", "care_team", "named_clinician", "is_synthetic", "created_at")
    list_filter = ("care_team", "is_synthetic")
    list_select_related = ("source", "care_team", "named_clinician")
    autocomplete_fields = ("named_clinician",)
    search_fields = ("external_id",)
    actions = ("erase",)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # erasure is the one way to remove a patient: it is audited
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(
        description="Erase selected patients and all their data (right to be forgotten)",
        permissions=["superuser"],
    )
    def erase(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/patients/patient/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "patients": list(queryset),
                    "opts": self.model._meta,
                },
            )
        totals: dict[str, int] = {}
        patients = list(queryset)
        for patient in patients:
            for key, n in patient_erase(patient=patient, actor=request.user).items():
                totals[key] = totals.get(key, 0) + n
        summary = ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in totals.items())
        self.message_user(
            request,
            f"Erased {len(patients)} patient(s): {summary}. "
            "The audit trail keeps who erased which patient id.",
            messages.SUCCESS,
        )
        return None


@admin.register(Assessment)
class AssessmentAdmin(CareTeamScopedAdmin):
    list_display = ("patient", "source", "completed_at", "total")
    readonly_fields = ("source", "patient", "completed_at", "items", "total", "content_hash", "created_at")
