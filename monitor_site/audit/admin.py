"""The audit trail in the admin: readable, filterable, never editable or deletable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from monitor_site.audit.models import AuditEvent


class PatientFilter(admin.SimpleListFilter):
    """Events about one patient, by the number in the patient's page address (kept after erasure)."""

    title = "patient (id number)"
    parameter_name = "patient"
    template = "admin/input_filter.html"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "")]  # the input box replaces the choices; Django shows a filter only with some

    def choices(self, changelist: Any) -> Any:
        # One "choice": the other filters in force, kept as hidden fields of the input box's form.
        keep = [
            (k, v)
            for k, values in changelist.params.items()
            if k != self.parameter_name
            for v in (values if isinstance(values, list) else [values])
        ]
        yield {"selected": bool(self.value()), "keep": keep, "display": self.value() or ""}

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or ""
        if not value:
            return queryset
        return queryset.filter(patient_id=int(value)) if value.isdigit() else queryset.none()


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_username", "action", "object_type", "object_id", "patient_id")
    list_filter = ("action", ("actor", admin.RelatedOnlyFieldListFilter), PatientFilter)
    search_fields = ("actor_username", "object_id", "=patient_id")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
