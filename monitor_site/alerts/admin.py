"""Rules are edited here; alerts and their e-mails can be read (clinicians act on them in the inbox)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from monitor_site.alerts.models import Alert, AlertNotification, AlertRule, EscalationStep
from monitor_site.alerts.selectors import alerts_reaching_nobody
from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record


class AlertRuleForm(forms.ModelForm):
    confirm_disable_item9 = forms.BooleanField(
        required=False,
        label="I confirm switching off an item-9 (self-harm) rule",
        help_text="Needed to switch off an item-9 rule: its alerts stop for every patient (audited).",
    )

    class Meta:
        model = AlertRule
        exclude: list[str] = []  # every field of the rule, plus the confirmation

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rule = self.instance
        if rule.pk and rule.kind != AlertRule.Kind.SELF_HARM:
            # The item-9 confirmation only on item-9 rules; what a rule reads, in its own words.
            self.fields.pop("confirm_disable_item9", None)
        if rule.pk and (rule.source == AlertRule.Source.SELF_REPORT or rule.kind == AlertRule.Kind.NO_DATA):
            for name in ("crossing", "use_model_threshold"):  # about predictions and their intervals only
                self.fields.pop(name, None)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        rule = self.instance
        switching_off = bool(rule.pk and rule.is_active) and cleaned.get("is_active") is False
        if (
            switching_off
            and rule.kind == AlertRule.Kind.SELF_HARM
            and not cleaned.get("confirm_disable_item9")
        ):
            stops = (
                "Switching off an item-9 rule stops its alerts about thoughts of self-harm for every patient."
            )
            raise ValidationError({"confirm_disable_item9": f"{stops} Tick to confirm."})
        return cleaned


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
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
    # No list_editable is_active: switching a rule off goes through the form (its confirmation and audit).

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """The item-9 confirmation only on item-9 rules; the prediction-only settings (crossing, the
        card's item-9 threshold) not on self-report or no-data rules, which have no point estimate."""
        fields = list(super().get_fields(request, obj))
        hidden = set()
        if obj is not None and obj.kind != AlertRule.Kind.SELF_HARM:
            hidden.add("confirm_disable_item9")
        if obj is not None and (
            obj.source == AlertRule.Source.SELF_REPORT or obj.kind == AlertRule.Kind.NO_DATA
        ):
            hidden |= {"crossing", "use_model_threshold"}
        return [f for f in fields if f not in hidden]

    list_filter = ("source", "kind", "urgent", "is_active")

    def save_model(self, request: HttpRequest, obj: AlertRule, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.ALERT_RULE_CHANGE,
            obj=obj,
            detail={
                "created": not change,
                "changed": [f for f in form.changed_data if f != "confirm_disable_item9"],
                "kind": obj.kind,
                "is_active": obj.is_active,
                "item9_switched_off": bool(
                    form.cleaned_data.get("confirm_disable_item9") and not obj.is_active
                ),
            },
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a rule's alerts refer to it; switch it off instead (is_active)


class NotificationInline(admin.TabularInline):
    model = AlertNotification
    extra = 0
    can_delete = False
    readonly_fields = ("attempted_at", "recipients", "outcome", "is_reminder", "error")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryFilter(admin.SimpleListFilter):
    title = "e-mail delivery"
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("nobody", "Still reaches nobody")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return alerts_reaching_nobody(queryset) if self.value() == "nobody" else queryset


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "opened_at",
        "crossed_at",
        "rule",
        "patient",
        "urgent",
        "status",
        "rounded_total",
        "episode_ended_at",
    )
    list_filter = ("status", "urgent", "rule", DeliveryFilter)
    list_select_related = ("rule", "patient")
    search_fields = ("patient__external_id",)
    readonly_fields = [f.name for f in Alert._meta.fields]
    inlines = [NotificationInline]

    @admin.display(description="total", ordering="total")
    def rounded_total(self, alert: Alert) -> str:
        if alert.total is None:
            return "—"
        return (
            f"{alert.total:.0f} (self-report)"
            if alert.is_self_report
            else f"{alert.total:.1f} (model-inferred)"
        )

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
