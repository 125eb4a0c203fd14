"""One open alert per patient and rule, or per ladder of threshold lines (the non-urgent threshold
rules of one source): each alert gets its episode key; duplicates are merged into the alert kept (the
live one at the highest line, else the newest), each saying so in its history."""

from django.db import migrations
from django.utils import timezone


def _key(rule):
    if rule.kind == "threshold" and not rule.urgent:
        return f"lines:{rule.source}"
    return f"rule:{rule.pk}"


def _rank(alert):
    return (alert.episode_ended_at is None, alert.rule.threshold, alert.opened_at)


def fill_keys_and_merge(apps, schema_editor):
    Alert = apps.get_model("alerts", "Alert")
    now = timezone.now()
    groups = {}
    for alert in Alert.objects.select_related("rule").order_by("pk"):
        alert.episode_key = _key(alert.rule)
        Alert.objects.filter(pk=alert.pk).update(episode_key=alert.episode_key)
        groups.setdefault((alert.patient_id, alert.episode_key), []).append(alert)
    for alerts in groups.values():
        unresolved = sorted((a for a in alerts if a.status != "resolved"), key=_rank, reverse=True)
        live = sorted((a for a in alerts if a.episode_ended_at is None), key=_rank, reverse=True)
        keep = unresolved[0] if unresolved else None
        for alert in unresolved[1:]:
            text = f"merged into alert {keep.pk}: one open alert per patient and rule (or ladder of lines)"
            history = [*alert.history, {"at": now.isoformat(), "text": text}]
            Alert.objects.filter(pk=alert.pk).update(
                status="resolved",
                resolved_at=now,
                resolve_note=text,
                history=history,
                episode_ended_at=alert.episode_ended_at or now,
            )
            alert.episode_ended_at = alert.episode_ended_at or now
        kept_live = keep if keep is not None and keep.episode_ended_at is None else None
        for alert in live:
            if kept_live is None and alert.episode_ended_at is None:
                kept_live = alert
            elif alert.pk != kept_live.pk and alert.episode_ended_at is None:
                Alert.objects.filter(pk=alert.pk).update(episode_ended_at=now)


class Migration(migrations.Migration):

    dependencies = [("alerts", "0007_alert_episode_key_and_history")]

    operations = [migrations.RunPython(fill_keys_and_merge, migrations.RunPython.noop)]
