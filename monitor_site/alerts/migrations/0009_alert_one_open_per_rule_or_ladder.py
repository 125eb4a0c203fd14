"""One live episode and one unresolved alert per patient and episode key, enforced by the database."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("alerts", "0008_alert_episode_keys_duplicates_merged")]

    operations = [
        migrations.AddConstraint(
            model_name='alert',
            constraint=models.UniqueConstraint(condition=models.Q(('episode_ended_at__isnull', True)), fields=('patient', 'episode_key'), name='alert_one_live_episode_per_key'),
        ),
        migrations.AddConstraint(
            model_name='alert',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'resolved'), _negated=True), fields=('patient', 'episode_key'), name='alert_one_unresolved_alert_per_key'),
        ),
    ]
