"""Alerts get an episode key and a history (filled in by the next migration); the old guard, one live
episode per rule, goes (the constraints of 0009 replace it). Three migrations: PostgreSQL cannot add
an index in the transaction that updated the rows."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0006_alert_item9_sources'),
        ('patients', '0005_careteam_llm_scoring'),
        ('predictions', '0008_risk_language'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='alert',
            name='alert_one_open_episode_per_rule',
        ),
        migrations.AddField(
            model_name='alert',
            name='episode_key',
            field=models.CharField(blank=True, help_text="AlertRule.episode_key when opened: 'lines:<source>' for the ladder of threshold lines, 'rule:<id>' for a rule that never folds. One live episode and one unresolved alert per key.", max_length=40),
        ),
        migrations.AddField(
            model_name='alert',
            name='folded_into',
            field=models.ForeignKey(blank=True, help_text="Set while this alert is folded into another open alert of the patient at a higher line (at the same line, the patient's own questionnaire), or, for a reliable deterioration, at any line. It re-opens if that alert's condition ends first.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='folded', to='alerts.alert'),
        ),
        migrations.AddField(
            model_name='alert',
            name='history',
            field=models.JSONField(blank=True, default=list, help_text="What happened to the episode, oldest first: [{'at': ISO time, 'text': ...}]; numbers and lines only, never conversation text."),
        ),
        migrations.AlterField(
            model_name='alertnotification',
            name='outcome',
            field=models.CharField(choices=[('sent', 'Sent'), ('failed', 'Failed (will retry)'), ('no_recipient', 'Nobody to send to'), ('not_sent', 'Not sent: opened on seeded demo history, not news')], max_length=16),
        ),
    ]
