"""Where each Celery task runs and which run on a timer (settings.py reads both as
CELERY_TASK_ROUTES and CELERY_BEAT_SCHEDULE). Task names, not imports: nothing here loads an app."""

from celery.schedules import crontab

TASK_ROUTES = {
    "monitor_site.modelops.tasks.poll_label_batches": {"queue": "default"},  # never waits on the gpu queue
    # Cold-start LLM ratings are network calls: they never hold the gpu worker either.
    "monitor_site.predictions.tasks.rate_session": {"queue": "default"},
    "monitor_site.predictions.tasks.rate_pending": {"queue": "default"},
    "monitor_site.modelops.tasks.validate_llm_rater": {"queue": "default"},
    "monitor_site.predictions.tasks.*": {"queue": "gpu"},
    "monitor_site.modelops.tasks.*": {"queue": "gpu"},
}

BEAT_SCHEDULE = {
    # Safety net: anything committed but never enqueued (broker down at the time) gets scored.
    "score-pending": {"task": "monitor_site.predictions.tasks.score_pending", "schedule": 600.0},
    # No-data alerts, retries of refused e-mails, reminders for unacknowledged urgent alerts.
    "alerts-housekeeping": {"task": "monitor_site.alerts.tasks.alerts_housekeeping", "schedule": 300.0},
    # Training runs waiting for a Message Batch of Claude labels are re-queued once it has ended.
    "label-batches-poll": {"task": "monitor_site.modelops.tasks.poll_label_batches", "schedule": 300.0},
    # Cold start: sessions of LLM-scored teams not rated yet (budget reached, broker down), and the
    # rater's daily validation against the questionnaires (both do nothing while no team uses it).
    "llm-rate-pending": {"task": "monitor_site.predictions.tasks.rate_pending", "schedule": 900.0},
    "llm-rater-validate": {
        "task": "monitor_site.modelops.tasks.validate_llm_rater",
        "schedule": crontab(minute="30", hour="1"),
    },
    # Weekly retraining (Sunday 02:00); edit or disable it in the admin under Scheduled tasks.
    "weekly-retraining": {
        "task": "monitor_site.modelops.tasks.scheduled_training",
        "schedule": crontab(minute="0", hour="2", day_of_week="sun"),
    },
}
