"""Production settings, as .env.example sets them: `check --deploy` is clean and the session and CSRF
cookies carry the Secure and HttpOnly flags. Run in a child process: settings are read at start-up."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # a child manage.py per test
SECURITY_VARIABLES = (
    "CACHE_URL",  # shared counters for the throttles and rate limits (accounts.W001)
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_SECURE_COOKIES",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_SECURE_HSTS_SECONDS",
    "DJANGO_BEHIND_TLS_PROXY",
)


def _production_env() -> dict[str, str]:
    """The security variables exactly as .env.example gives them, and a real secret key."""
    example = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            example[name.strip()] = value.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({name: example[name] for name in SECURITY_VARIABLES})
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_the_example_production_settings() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _bare(**variables: str) -> dict[str, str]:
    """No DJANGO_ variable but these (and no production settings)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")} | variables


def _keyed(**variables: str) -> dict[str, str]:
    return _bare(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_ALLOWED_HOSTS="monitor.example.org", **variables
    )


def test_check_deploy_complains_about_the_demo_settings() -> None:
    """The other side: without the production variables the same check fails, so the first test
    proves the variables, not a check that passes whatever is set."""
    env = _keyed()
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0 and "SECURE_HSTS_SECONDS" in result.stdout + result.stderr


def test_cookies_are_secure_by_default_whenever_debug_is_off() -> None:
    """No production variable at all but DEBUG off: Secure cookies all the same (only the demo, DEBUG
    on and plain http, sends them without)."""
    code = "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    assert _manage("shell", "-c", code, env=_keyed()).stdout.split()[-2:] == ["True", "True"]
    demo = _bare(DJANGO_DEBUG="1")
    assert _manage("shell", "-c", code, env=demo).stdout.split()[-2:] == ["False", "False"]


def test_clinician_cookies_are_secure_and_http_only_in_production() -> None:
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) for k in "
        "('SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', "
        "'SECURE_HSTS_SECONDS', 'SESSION_COOKIE_SAMESITE', 'DEBUG')}))"
    )
    result = _manage("shell", "-c", code, env=_production_env())
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert (
        values["SESSION_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"] and values["CSRF_COOKIE_SECURE"]
    )
    assert values["SECURE_SSL_REDIRECT"] and values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict") and values["DEBUG"] is False


def test_check_deploy_warns_when_throttles_would_count_per_process() -> None:
    env = _production_env()
    env.pop("CACHE_URL")
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0 and "accounts.W001" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variables", "missing"),
    [
        ({}, "DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS"),
        ({"DJANGO_ALLOWED_HOSTS": "monitor.example.org"}, "set DJANGO_SECRET_KEY (see"),
        ({"DJANGO_SECRET_KEY": "a-real-key-from-the-environment"}, "set DJANGO_ALLOWED_HOSTS (see"),
    ],
)
def test_it_refuses_to_start_without_a_key_or_hosts_when_debug_is_off(variables: dict, missing: str) -> None:
    """No key written in the source, no default hosts in production: start-up stops, saying what to set."""
    result = _manage("check", env=_bare(**variables))
    assert result.returncode != 0 and "DJANGO_DEBUG is off" in result.stderr and missing in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


def test_the_demo_starts_without_a_key_or_hosts() -> None:
    code = "from django.conf import settings as s; print(s.ALLOWED_HOSTS)"
    result = _manage("shell", "-c", code, env=_bare(DJANGO_DEBUG="1"))
    assert result.returncode == 0 and "127.0.0.1" in result.stdout, result.stderr
