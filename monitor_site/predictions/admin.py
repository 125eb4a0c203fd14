"""Predictions can be read here (never added or edited): figures rounded as the clinician pages show them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from monitor_site.predictions.models import Prediction


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = (
        "patient",
        "window_end",
        "model_inferred_total",
        "interval",
        "band",
        "method",
        "model_version",
    )
    list_filter = ("method", "band", "model_version")
    list_select_related = ("patient", "model_version")
    # Items rounded; the evidence (chunk ids and attention weights) is read on the patient page.
    readonly_fields = (
        *(f.name for f in Prediction._meta.fields if f.name not in ("id", "items", "evidence")),
        "rounded_items",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("evidence")

    @admin.display(description="total (model-inferred or LLM-rated)", ordering="total")
    def model_inferred_total(self, prediction: Prediction) -> str:
        return f"{prediction.total:.1f}"

    @admin.display(description="interval")
    def interval(self, prediction: Prediction) -> str:
        return prediction.interval_label

    @admin.display(description="items (model-inferred, 1..9)")
    def rounded_items(self, prediction: Prediction) -> str:
        return "  ".join(f"{i}: {v:.2f}" for i, v in enumerate(prediction.items, start=1))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
