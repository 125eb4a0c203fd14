from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from monitor_site.accounts.admin_actions import SuperuserActions
from monitor_site.modelops.figures import evaluation_figure
from monitor_site.modelops.models import ModelVersion, PseudoLabel, TrainingRun
from monitor_site.modelops.selectors import training_run_labelling_cost
from monitor_site.modelops.services.registry import model_version_promote
from monitor_site.modelops.services.training_runs import TrainingAlreadyRunning, training_run_request
from monitor_site.modelops.tasks import training_run_enqueue

CARD_LIST_ITEMS = 12  # a long list (per-item figures, files) shows its first values and a count


def _figure(value: Any) -> str:
    """A number as the admin shows it: 2 decimals (3 under 1, for AUCs and correlations); "—" if none."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"


def _card_rows(data: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [
            row for key, value in data.items() for row in _card_rows(value, f"{path}.{key}" if path else key)
        ]
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        return [row for i, value in enumerate(data, start=1) for row in _card_rows(value, f"{path} [{i}]")]
    if isinstance(data, list):
        shown = ", ".join(_figure(v) for v in data[:CARD_LIST_ITEMS])
        more = f" … ({len(data)} values)" if len(data) > CARD_LIST_ITEMS else ""
        return [(path, f"[{shown}{more}]")]
    return [(path, _figure(data))]


def card_table(data: Any) -> str:
    """A model card (manifest or metrics JSON) as a two-column table, numbers rounded, nested keys
    joined with dots: readable by an admin, never raw JSON."""
    rows = _card_rows(data or {})
    if not rows:
        return "—"
    body = format_html_join("", "<tr><th scope='row'>{}</th><td>{}</td></tr>", rows)
    return format_html("<table class='model-card'><tbody>{}</tbody></table>", body)


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
    fields = readonly_fields = (
        "version",
        "status",
        "backbone",
        "members",
        "created_at",
        "promoted_at",
        "test_metrics",
        "model_card",
    )
    actions = ("promote",)

    @admin.display(description="MAE (test)", ordering="metrics__mae")
    def rounded_mae(self, version: ModelVersion) -> str:
        return _figure(version.mae)

    @admin.display(description="AUC at 10 (test)", ordering="metrics__auc_at_10")
    def rounded_auc(self, version: ModelVersion) -> str:
        return _figure(version.auc_at_10)

    @admin.display(description="test metrics")
    def test_metrics(self, version: ModelVersion) -> str:
        return card_table(version.metrics)

    @admin.display(description="model card (manifest)")
    def model_card(self, version: ModelVersion) -> str:
        return card_table(version.manifest)

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
    readonly_fields = [f.name for f in TrainingRun._meta.fields if f.name != "active_slot"]
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
        training_run_enqueue(run)
        self.message_user(request, f"Training run #{run.pk} queued on the gpu queue.", messages.SUCCESS)
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
