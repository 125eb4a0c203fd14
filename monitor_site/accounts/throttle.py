"""Log-in throttles against password spraying, beside django-axes' lock-out of one username from one
address (AXES_FAILURE_LIMIT):

- one address that fails LOGIN_IP_FAILURE_LIMIT times across any usernames within
  LOGIN_THROTTLE_MINUTES is refused (429) until the window passes: a sprayer tries many usernames;
- a username that failed LOGIN_USERNAME_SLOWDOWN_AFTER times within the window, from wherever, is
  slowed down, never locked: one attempt per LOGIN_USERNAME_DELAY_SECONDS (429 with Retry-After in
  between), so an attacker using many addresses gets a handful of guesses a minute while the
  clinician can still sign in, a few seconds later, to an alerting system.

Counters live in the cache (CACHE_URL: Redis in production, shared by every web process).
"""

from __future__ import annotations

import time
from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _window() -> int:
    return settings.LOGIN_THROTTLE_MINUTES * 60


def _count(key: str) -> int:
    return int(cache.get(key) or 0)


def _bump(key: str) -> None:
    cache.add(key, 0, timeout=_window())
    try:
        cache.incr(key)
    except ValueError:  # expired in between
        cache.add(key, 1, timeout=_window())


def _keys(request: HttpRequest, username: str) -> tuple[str, str, str]:
    ip = get_client_ip_address(request) or "unknown"
    name = username.strip().lower()[:150]
    return f"login-fail-ip:{ip}", f"login-fail-user:{name}", f"login-last-fail-user:{name}"


def login_refusal(request: HttpRequest, username: str) -> tuple[str, int] | None:
    """(message, seconds to wait) when this attempt must not even be tried; None to go on."""
    ip_key, user_key, last_key = _keys(request, username)
    if _count(ip_key) >= settings.LOGIN_IP_FAILURE_LIMIT:
        return (
            "Too many failed log-ins from this network address. Try again later, or ask an admin.",
            _window(),
        )
    if _count(user_key) >= settings.LOGIN_USERNAME_SLOWDOWN_AFTER:
        waited = time.time() - float(cache.get(last_key) or 0)
        delay = settings.LOGIN_USERNAME_DELAY_SECONDS
        if waited < delay:
            return (
                "Many failed log-ins for this username: wait a few seconds between attempts.",
                max(1, int(delay - waited + 0.999)),
            )
    return None


def login_failure_record(
    sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """user_login_failed receiver (wrong password or authenticator code): count it for the address and
    the username. No password or text is kept."""
    if request is None:
        return
    ip_key, user_key, last_key = _keys(request, str(credentials.get("username", "")))
    _bump(ip_key)
    _bump(user_key)
    cache.set(last_key, time.time(), timeout=_window())
