"""Predictions can be read here (never added or edited): figures rounded as the clinician pages show them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from monitor_site.patients.admin_scope import CareTeamScopedAdmin
from monitor_site.predictions.models import Prediction, ScoringFailure


@admin.register(Prediction)
class PredictionAdmin(CareTeamScopedAdmin):
    list_display = (
        "patient",
        "window_end",
        "model_inferred_total",
        "interval",
        "band",
        "method",
        "model_version",
        "detector_version",
        "risk_language",
    )
    list_filter = ("method", "band", "risk_language", "model_version", "detector_version")
    list_select_related = ("patient", "model_version")
    # Items rounded; the evidence (chunk ids and attention weights) and the sentences the self-harm
    # detector fired on (conversation text) are read on the care-team-scoped patient page, not here.
    readonly_fields = (
        *(
            name
            for f in Prediction._meta.fields
            if f.name not in ("id", "items", "evidence", "risk_evidence", "detector_version")
            # the detector's version beside the model's: both say what read this window
            for name in ((f.name, "detector_version") if f.name == "model_version" else (f.name,))
        ),
        "risk_sentences",
        "rounded_items",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("evidence", "risk_evidence")

    @admin.display(description="total (model-inferred or LLM-rated)", ordering="total")
    def model_inferred_total(self, prediction: Prediction) -> str:
        return f"{prediction.total:.1f}"

    @admin.display(description="interval")
    def interval(self, prediction: Prediction) -> str:
        return prediction.interval_label

    @admin.display(description="risk-language sentences")
    def risk_sentences(self, prediction: Prediction) -> str:
        n = len(prediction.risk_evidence)
        return f"{n} (read them on the patient page)" if n else "none"

    @admin.display(description="items (model-inferred, 1..9)")
    def rounded_items(self, prediction: Prediction) -> str:
        return "  ".join(f"{i}: {v:.2f}" for i, v in enumerate(prediction.items, start=1))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ScoringFailure)
class ScoringFailureAdmin(CareTeamScopedAdmin):
    patient_path = "session__patient"
    """Sessions a model version could not score, and why (the sweeper went on with the rest). Delete
    a row to have that version try the session again."""

    list_display = ("session", "model_version", "failed_at", "reason")
    list_select_related = ("session", "model_version")
    readonly_fields = ("session", "model_version", "reason", "failed_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
