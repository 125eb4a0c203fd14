"""A pytest plugin (`-p tests.environment` in pyproject's addopts), imported before pytest-django reads
the settings: with DEBUG off, as in production, they refuse to start without a secret key and hosts of
their own. The suite makes a key per run; the processes tests start (gunicorn, workers, manage.py)
inherit both."""

from __future__ import annotations

import os
import secrets

os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
