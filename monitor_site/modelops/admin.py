from django.contrib import admin, messages

from monitor_site.modelops.models import ModelVersion
from monitor_site.modelops.services import model_version_promote


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "version",
        "status",
        "backbone",
        "members",
        "mae",
        "auc_at_10",
        "created_at",
        "promoted_at",
    )
    list_filter = ("status",)
    readonly_fields = (
        "version",
        "status",
        "backbone",
        "members",
        "manifest",
        "metrics",
        "created_at",
        "promoted_at",
    )
    actions = ("promote",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Promote to active (rescoring follows)")
    def promote(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to promote.", messages.ERROR)
            return
        version = model_version_promote(model_version=queryset.get())
        self.message_user(request, f"{version.version} is now active.", messages.SUCCESS)
