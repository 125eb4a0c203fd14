import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0003_cliniciannote"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="named_clinician",
            field=models.ForeignKey(
                blank=True,
                help_text="The care-team member who leads this patient's care (their 'My patients' list).",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="named_patients",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
