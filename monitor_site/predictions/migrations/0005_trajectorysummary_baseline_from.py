"""The baseline period is fixed once set: existing summaries take their first prediction's window end."""

from django.db import migrations, models
from django.db.models import Min


def fix_existing(apps, schema_editor):
    Prediction = apps.get_model("predictions", "Prediction")
    TrajectorySummary = apps.get_model("predictions", "TrajectorySummary")
    firsts = dict(
        Prediction.objects.values("patient_id").annotate(first=Min("window_end")).values_list("patient_id", "first")
    )
    for patient_id in TrajectorySummary.objects.values_list("patient_id", flat=True).iterator():
        if patient_id in firsts:
            TrajectorySummary.objects.filter(pk=patient_id).update(baseline_from=firsts[patient_id])


class Migration(migrations.Migration):
    dependencies = [("predictions", "0004_change_4_weeks_from_weekly_means")]

    operations = [
        migrations.AddField(
            model_name="trajectorysummary",
            name="baseline_from",
            field=models.DateTimeField(
                help_text="Start of the baseline period (the first prediction's window end when first summarised); "
                "fixed, so that a late, earlier session never moves the baseline.",
                null=True,
            ),
        ),
        migrations.RunPython(fix_existing, migrations.RunPython.noop),
    ]
