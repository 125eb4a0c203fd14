from django.contrib import admin

from monitor_site.predictions.models import Prediction


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("patient", "window_end", "total", "band", "model_version")
    list_filter = ("band", "model_version")
    list_select_related = ("patient", "model_version")
    readonly_fields = [f.name for f in Prediction._meta.fields]

    def has_add_permission(self, request):
        return False
