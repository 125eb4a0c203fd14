"""The default rules (editable in the admin): thresholds 10/15/20 with 2-prediction hysteresis,
reliable deterioration (6 points over baseline), item 9 (urgent, re-notified every 4 hours while
unacknowledged), no session for 7 days."""

from django.db import migrations

DEFAULT_RULES = [
    {"name": "PHQ-9 at or above 10 (moderate)", "kind": "threshold", "threshold": 10, "consecutive": 2},
    {"name": "PHQ-9 at or above 15 (moderately severe)", "kind": "threshold", "threshold": 15, "consecutive": 2},
    {"name": "PHQ-9 at or above 20 (severe)", "kind": "threshold", "threshold": 20, "consecutive": 2},
    {"name": "Reliable deterioration (6+ points over baseline)", "kind": "deterioration", "threshold": 6, "consecutive": 2},
    # 0.5: a model-inferred item 9 that rounds to 1 ("several days") or more; safety first.
    {"name": "Item 9: thoughts of self-harm", "kind": "self_harm", "threshold": 0.5, "consecutive": 1, "urgent": True, "renotify_after_hours": 4},
    {"name": "No session for 7 days", "kind": "no_data", "threshold": 0, "consecutive": 1, "days": 7},
]


def create(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    for rule in DEFAULT_RULES:
        AlertRule.objects.get_or_create(name=rule["name"], defaults=rule)


def remove(apps, schema_editor):
    apps.get_model("alerts", "AlertRule").objects.filter(name__in=[r["name"] for r in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
