from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("predictions", "0005_trajectorysummary_baseline_from")]

    operations = [
        migrations.AddField(
            model_name="prediction",
            name="n_turns_left_out",
            field=models.PositiveIntegerField(
                default=0, help_text="The window's oldest turns beyond its text budget, not read by the model."
            ),
        ),
    ]
