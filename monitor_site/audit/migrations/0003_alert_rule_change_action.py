from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_erase_action")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("patient.view", "viewed a patient page"),
                    ("patient.export", "exported a patient's trajectory"),
                    ("patient.note", "wrote a note on a patient"),
                    ("prediction.feedback", "agreed or disagreed with a prediction"),
                    ("alert.acknowledge", "acknowledged an alert"),
                    ("alert.resolve", "resolved an alert"),
                    ("training.start", "started a training run"),
                    ("model.promote", "promoted a model version"),
                    ("model.rollback", "rolled back to a model version"),
                    ("patient.erase", "erased a patient (right to be forgotten)"),
                    ("alert_rule.change", "added or changed an alert rule"),
                    ("admin.action", "ran an admin action"),
                ],
                max_length=32,
            ),
        ),
    ]
