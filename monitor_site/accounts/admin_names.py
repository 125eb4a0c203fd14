"""Third-party apps in the admin, in the words of the people who use it: the index reads "Sign-in
lockouts", "Two-factor authenticator apps" and "Scheduled tasks", not "AXES", "OTP_TOTP" or "Periodic
Tasks"; the beat models this project never schedules with (solar events, one-off clocked times) and
axes' failure log (off unless AXES_ENABLE_ACCESS_FAILURE_LOG) are not shown at all.

Applied once, from accounts' AppConfig.ready(), after every admin module has registered its models."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.contrib import admin

APP_NAMES = {
    "auth": "Users and groups",
    "axes": "Sign-in lockouts",
    "otp_totp": "Two-factor authenticator apps",
    "django_celery_beat": "Scheduled tasks",
}
# (app, model): (singular, plural)
MODEL_NAMES = {
    ("axes", "accessattempt"): ("locked or failing sign-in", "locked or failing sign-ins (unlock here)"),
    ("axes", "accesslog"): ("sign-in record", "sign-in records"),
    ("axes", "accessfailurelog"): ("failed sign-in record", "failed sign-in records"),
    ("otp_totp", "totpdevice"): ("authenticator app", "authenticator apps"),
    ("django_celery_beat", "periodictask"): ("scheduled task", "scheduled tasks"),
    ("django_celery_beat", "crontabschedule"): ("time-of-day schedule", "time-of-day schedules"),
    ("django_celery_beat", "intervalschedule"): ("repeat interval", "repeat intervals"),
}
UNUSED = [("django_celery_beat", "solarschedule"), ("django_celery_beat", "clockedschedule")]


def admin_names_apply() -> None:
    installed = {config.label for config in apps.get_app_configs()}
    for label, name in APP_NAMES.items():
        if label in installed:
            apps.get_app_config(label).verbose_name = name
    for (label, model_name), (singular, plural) in MODEL_NAMES.items():
        try:
            model = apps.get_model(label, model_name)
        except LookupError:
            continue
        model._meta.verbose_name, model._meta.verbose_name_plural = singular, plural
    unused = list(UNUSED)
    if not getattr(settings, "AXES_ENABLE_ACCESS_FAILURE_LOG", False):
        unused.append(("axes", "accessfailurelog"))
    for label, model_name in unused:
        try:
            model = apps.get_model(label, model_name)
        except LookupError:
            continue
        if admin.site.is_registered(model):
            admin.site.unregister(model)
