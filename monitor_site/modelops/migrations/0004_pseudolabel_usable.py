from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("modelops", "0003_pseudolabel_patient")]

    operations = [
        migrations.AddField(
            model_name="pseudolabel",
            name="usable",
            field=models.JSONField(
                default=list,
                help_text="Per item: rated and its quotes found in the patient's turns (empty: all).",
            ),
        ),
        migrations.AddField(
            model_name="pseudolabel",
            name="invalid_quotes",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="Items whose quotes were not in the patient's turns (not used)."
            ),
        ),
    ]
