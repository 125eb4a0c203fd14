"""The 4-week change becomes the change its sparkline draws: last weekly mean minus the first."""

from django.db import migrations, models


def recompute(apps, schema_editor):
    TrajectorySummary = apps.get_model("predictions", "TrajectorySummary")
    for summary in TrajectorySummary.objects.only("pk", "trend").iterator():
        trend = summary.trend or []
        change = round(trend[-1] - trend[0], 2) if len(trend) > 1 else None
        TrajectorySummary.objects.filter(pk=summary.pk).update(change_4_weeks=change)


class Migration(migrations.Migration):
    dependencies = [("predictions", "0003_backfill_summaries")]

    operations = [
        migrations.AlterField(
            model_name="trajectorysummary",
            name="change_4_weeks",
            field=models.FloatField(
                help_text="Last weekly mean minus the first, over 4 weeks (as the sparkline draws it).",
                null=True,
            ),
        ),
        migrations.RunPython(recompute, migrations.RunPython.noop),
    ]
