"""Summaries for patients scored before TrajectorySummary existed."""

from django.db import migrations


def backfill(apps, schema_editor):
    from monitor_site.predictions.services.summaries import trajectory_summaries_refresh

    Prediction = apps.get_model("predictions", "Prediction")
    ids = Prediction.objects.values_list("patient_id", flat=True).distinct()
    trajectory_summaries_refresh(patient_ids=list(ids))


class Migration(migrations.Migration):
    dependencies = [("predictions", "0002_trajectorysummary_predictionfeedback")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
