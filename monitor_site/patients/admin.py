from django.contrib import admin

from monitor_site.patients.models import Assessment, CareTeam, IngestSource, IngestToken, Patient


@admin.register(CareTeam)
class CareTeamAdmin(admin.ModelAdmin):
    list_display = ("name",)
    filter_horizontal = ("members",)


@admin.register(IngestSource)
class IngestSourceAdmin(admin.ModelAdmin):
    list_display = ("name", "default_care_team", "created_at")


@admin.register(IngestToken)
class IngestTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_ingest_token`; here they can only be revoked."""

    list_display = ("source", "prefix", "created_at", "revoked_at")
    readonly_fields = ("source", "prefix", "token_hash", "created_at")
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        from django.utils import timezone

        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("external_id", "source", "care_team", "is_synthetic", "created_at")
    list_filter = ("care_team", "is_synthetic")
    search_fields = ("external_id",)


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ("patient", "completed_at", "total")
    readonly_fields = ("source", "patient", "completed_at", "items", "total", "content_hash", "created_at")
