"""Rules are edited here; alerts and their e-mails can be read (clinicians act on them in the inbox)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from monitor_site.alerts.models import Alert, AlertNotification, AlertRule, EscalationStep


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "source",
        "kind",
        "threshold",
        "crossing",
        "use_model_threshold",
        "consecutive",
        "days",
        "urgent",
        "renotify_after_hours",
        "is_active",
    )
    list_editable = ("is_active",)
    list_filter = ("source", "kind", "urgent", "is_active")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a rule's alerts refer to it; switch it off instead (is_active)


class NotificationInline(admin.TabularInline):
    model = AlertNotification
    extra = 0
    can_delete = False
    readonly_fields = ("attempted_at", "recipients", "outcome", "is_reminder", "error")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "opened_at",
        "crossed_at",
        "rule",
        "patient",
        "urgent",
        "status",
        "total",
        "episode_ended_at",
    )
    list_filter = ("status", "urgent", "rule")
    search_fields = ("patient__external_id",)
    readonly_fields = [f.name for f in Alert._meta.fields]
    inlines = [NotificationInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # clinicians resolve alerts; the record of what was raised stays


@admin.register(EscalationStep)
class EscalationStepAdmin(admin.ModelAdmin):
    list_display = ("text", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not EscalationStep.objects.exists()  # one row
