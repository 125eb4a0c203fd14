from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from monitor_site.accounts.admin_actions import SuperuserActions
from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from monitor_site.modelops.figures import evaluation_figure
from monitor_site.modelops.model_card import model_card, run_config_rows, run_count_rows
from monitor_site.modelops.models import ModelVersion, PseudoLabel, TrainingRun
from monitor_site.modelops.selectors import training_run_labelling_cost
from monitor_site.modelops.services.cold_start import llm_scoring_outcome
from monitor_site.modelops.services.registry import model_version_promote
from monitor_site.modelops.services.training_runs import TrainingAlreadyRunning, training_run_request
from monitor_site.modelops.tasks import training_run_enqueue
from monitor_site.patients.models import CareTeam


def _figure(value: Any) -> str:
    """A number as the admin lists it: 2 decimals (3 under 1, for AUCs and correlations); "—" if none."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"


@admin.register(ModelVersion)
class ModelVersionAdmin(SuperuserActions, admin.ModelAdmin):
    list_display = (
        "version",
        "status",
        "backbone",
        "members",
        "rounded_mae",
        "rounded_auc",
        "created_at",
        "promoted_at",
    )
    list_filter = ("status",)
    change_form_template = "admin/modelops/modelversion/change_form.html"
    fields = readonly_fields = ("version", "status", "backbone", "members", "created_at", "promoted_at")
    actions = ("promote",)

    @admin.display(description="MAE (test)", ordering="metrics__mae")
    def rounded_mae(self, version: ModelVersion) -> str:
        return _figure(version.mae)

    @admin.display(description="AUC at 10 (test)", ordering="metrics__auc_at_10")
    def rounded_auc(self, version: ModelVersion) -> str:
        return _figure(version.auc_at_10)

    def get_urls(self) -> list:
        manifest = self.admin_site.admin_view(self.manifest_view)
        return [
            path("<int:pk>/manifest/", manifest, name="modelops_modelversion_manifest"),
            *super().get_urls(),
        ]

    def manifest_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The raw manifest and metrics behind the card, as stored (JSON), for whoever needs a key."""
        version = get_object_or_404(ModelVersion, pk=pk)
        if not self.has_view_permission(request, version):
            raise PermissionDenied
        return JsonResponse(
            {"version": version.version, "manifest": version.manifest, "metrics": version.metrics},
            json_dumps_params={"indent": 2},
        )

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        version = ModelVersion.objects.filter(pk=object_id).first() if object_id else None
        extra = dict(extra_context or {})
        if version is not None:
            extra["card"] = model_card(version)
            extra["manifest_url"] = reverse("admin:modelops_modelversion_manifest", args=[version.pk])
        return super().changeform_view(request, object_id, form_url, extra)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """The active version scores every new session: it cannot be deleted (promote another first)."""
        if obj is not None and obj.status == ModelVersion.Status.ACTIVE:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(
        description="Promote to active (or roll back to it), after a confirmation page",
        permissions=["superuser"],
    )
    def promote(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        """A confirmation page first (every clinician's latest scores change), then the promotion or
        roll-back: audited, dated now, and shown in every affected patient's history."""
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to promote.", messages.ERROR)
            return None
        chosen = queryset.get()
        if request.POST.get("confirm") != "yes":
            active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
            context = {
                **self.admin_site.each_context(request),
                "title": "Roll back to this model?" if chosen.promoted_at else "Promote this model?",
                "chosen": chosen,
                "active": active,
                "rollback": chosen.promoted_at is not None,
                "rescore_days": settings.SCORING_RESCORE_DAYS,
                "opts": self.model._meta,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/modelops/modelversion/promote_confirmation.html", context)
        try:
            version = model_version_promote(model_version=chosen, actor=request.user, reason="admin")
        except ValueError as exc:  # the cold-start LLM rater is not a trained model
            self.message_user(request, str(exc), messages.ERROR)
            return None
        self.message_user(
            request,
            f"{version.version} is now active; the last {settings.SCORING_RESCORE_DAYS} days and each "
            "patient's baseline windows are being re-scored.",
            messages.SUCCESS,
        )
        return None


@admin.register(TrainingRun)
class TrainingRunAdmin(SuperuserActions, admin.ModelAdmin):
    change_list_template = "admin/modelops/trainingrun/change_list.html"
    change_form_template = "admin/modelops/trainingrun/change_form.html"
    list_display = (
        "__str__",
        "status",
        "stage",
        "progress_percent",
        "trigger",
        "requested_by",
        "model_version",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "trigger")
    # Counts, config, report and log are shown in words by the page's template, never as raw JSON.
    fields = readonly_fields = (
        "status",
        "trigger",
        "requested_by",
        "model_version",
        "label_batch_id",
        "created_at",
        "started_at",
        "finished_at",
    )
    actions = ("mark_failed",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs start with "Retrain now"

    @admin.display(description="progress")
    def progress_percent(self, run: TrainingRun) -> str:
        return f"{run.progress:.0%}"

    def get_urls(self) -> list:
        retrain = self.admin_site.admin_view(require_POST(self.retrain_view))
        return [path("retrain/", retrain, name="modelops_trainingrun_retrain"), *super().get_urls()]

    def retrain_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied("Only admins can start a training run.")
        try:
            run = training_run_request(user=request.user, trigger="admin")
        except TrainingAlreadyRunning as exc:
            self.message_user(request, f"Not started: {exc}. Wait for it to finish.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:modelops_trainingrun_changelist"))
        where = training_run_enqueue(run)
        self.message_user(request, f"Training run #{run.pk} {where}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:modelops_trainingrun_change", args=[run.pk]))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        run = TrainingRun.objects.filter(pk=object_id).first() if object_id else None
        extra = dict(extra_context or {})
        if run is not None:
            extra["count_rows"] = run_count_rows(run.counts or {})
            extra["config_rows"] = run_config_rows(run.config or {})
            extra["labelling_cost"] = training_run_labelling_cost(
                counts=run.counts or {}, token_budget=int((run.config or {}).get("token_budget") or 0)
            )
        if run is not None and run.report.get("test"):
            test = run.report["test"]
            figure = evaluation_figure(run.report.get("points", []), test.get("auc_by_threshold", {}))
            extra["evaluation_figure"] = json.loads(figure.to_json())
            extra["test_metrics"] = test
            extra["active_metrics"] = run.report.get("active_test")
            extra["members"] = run.report.get("members", [])
            extra["blend"] = run.report.get("blend", {})
            extra["label_validation"] = run.report.get("label_validation") or {}
        return super().changeform_view(request, object_id, form_url, extra)

    @admin.action(
        description="Mark as failed (a run whose worker died); frees the slot for a new run",
        permissions=["superuser"],
    )
    def mark_failed(self, request: HttpRequest, queryset: Any) -> None:
        stuck = queryset.filter(active_slot=True)
        n = stuck.update(
            status=TrainingRun.Status.FAILED,
            active_slot=None,
            finished_at=timezone.now(),
            decision="marked failed by an admin",
        )
        self.message_user(request, f"{n} run(s) marked failed.", messages.SUCCESS)


@admin.register(PseudoLabel)
class PseudoLabelAdmin(admin.ModelAdmin):
    list_display = ("window_hash", "model", "confidence", "input_tokens", "output_tokens", "created_at")
    list_filter = ("model",)
    readonly_fields = [f.name for f in PseudoLabel._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(CareTeam)
class CareTeamAdmin(admin.ModelAdmin):
    """Care teams are the patients app's, but their one switch is the cold start's (modelops): what it
    will do depends on the registry and the key, so the admin lives here, above both."""

    list_display = ("name", "llm_scoring")
    list_filter = ("llm_scoring",)
    filter_horizontal = ("members",)

    def save_model(self, request: HttpRequest, obj: CareTeam, form: Any, change: bool) -> None:
        """Turning cold-start LLM scoring on sends consented patients' redacted text to Anthropic: audited,
        and the admin is told what will happen now (not just "changed successfully")."""
        super().save_model(request, obj, form, change)
        if "llm_scoring" in form.changed_data:
            audit_record(
                actor=request.user,
                action=AuditEvent.Action.CARE_TEAM_LLM_SCORING,
                obj=obj,
                detail={"llm_scoring": obj.llm_scoring, "created": not change},
            )
            warning, text = llm_scoring_outcome(team=obj)
            self.message_user(request, text, messages.WARNING if warning else messages.INFO)
