"""Log-in throttles that slow an attacker down and never lock the real user out.

The design, exactly (docs/security.md says the same):

- The client's address is the one the trusted proxy saw (TRUSTED_PROXY_IP_HEADER, e.g.
  X-Forwarded-For: the entry TRUSTED_PROXY_COUNT places from the right, the one our own proxy
  appended), else REMOTE_ADDR. Behind an HTTPS proxy every user would otherwise share its address.
- An address that fails LOGIN_IP_FAILURE_LIMIT times across any usernames within
  LOGIN_THROTTLE_MINUTES is refused (429) for the window: a sprayer tries many usernames.
- A username that failed LOGIN_USERNAME_SLOWDOWN_AFTER times within the window, from anywhere, is
  slowed down to one evaluated attempt per LOGIN_USERNAME_DELAY_SECONDS (429 with Retry-After in
  between): a handful of guesses a minute for an attacker with many addresses.
- None of these (nor django-axes' lock of one username from one address) stops the real user:
  1. a browser that signed in as that user before carries a signed device cookie (LOGIN_DEVICE_DAYS);
     its attempts skip the address limit, the slow-down and the lock, and are counted on their own
     (LOGIN_DEVICE_FAILURE_LIMIT failures within the window and the cookie is not honoured until it
     passes), so an attacker pacing failures cannot keep a clinician out of a known browser;
  2. on a new browser, while the username is slowed down, the right password together with a right
     code from the user's authenticator app passes at once; without an app, the user waits the
     few seconds between attempts.

Counters live in the cache (CACHE_URL: Redis in production, shared by every web process).
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

DEVICE_COOKIE = "login_device"
DEVICE_SALT = "monitor_site.accounts.login-device"


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the trusted proxy saw it (AXES_CLIENT_IP_CALLABLE, so django-axes
    counts the same address). A header value that is not an address is ignored."""
    meta_data = getattr(request, "META", None) or {}
    header = settings.TRUSTED_PROXY_IP_HEADER
    if header:
        meta = "HTTP_" + header.upper().replace("-", "_")
        hops = [h.strip() for h in str(meta_data.get(meta, "")).split(",") if h.strip()]
        if len(hops) >= settings.TRUSTED_PROXY_COUNT:
            candidate = hops[-settings.TRUSTED_PROXY_COUNT]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return meta_data.get("REMOTE_ADDR") or None


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


def _name(username: str) -> str:
    return username.strip().lower()[:150]


def _keys(request: HttpRequest, username: str) -> tuple[str, str, str]:
    name = _name(username)
    return (
        f"login-fail-ip:{client_ip(request) or 'unknown'}",
        f"login-fail-user:{name}",
        f"login-last-fail-user:{name}",
    )


def _device_nonce(request: HttpRequest, username: str) -> str | None:
    """The nonce of this browser's device cookie when it was issued to `username`, else None."""
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = signing.loads(raw, salt=DEVICE_SALT, max_age=settings.LOGIN_DEVICE_DAYS * 86400)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or value.get("u") != _name(username):
        return None
    return str(value.get("n", ""))


def trusted_device(request: HttpRequest, username: str) -> bool:
    """A browser that signed in as this user before, and has not failed too often since."""
    nonce = _device_nonce(request, username)
    return bool(nonce) and _count(f"login-fail-device:{nonce}") < settings.LOGIN_DEVICE_FAILURE_LIMIT


def axes_whitelisted(request: HttpRequest, credentials: dict | None = None) -> bool:
    """AXES_WHITELIST_CALLABLE: django-axes never locks a trusted browser out of its own user."""
    return trusted_device(request, str((credentials or {}).get("username", "")))


def device_cookie_set(response: HttpResponse, *, username: str) -> None:
    """After a successful log-in: this browser is known for this user from now on."""
    value = signing.dumps({"u": _name(username), "n": secrets.token_urlsafe(12)}, salt=DEVICE_SALT)
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=settings.LOGIN_DEVICE_DAYS * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def login_refusal(request: HttpRequest, username: str) -> tuple[str, int] | None:
    """(message, seconds to wait) when this attempt is throttled: then only the right password with a
    right authenticator code passes (LoginView); None to go on as usual."""
    if trusted_device(request, username):
        return None
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
                "Many failed log-ins for this username: wait a few seconds between attempts, or sign in "
                "with your authenticator code.",
                max(1, int(delay - waited + 0.999)),
            )
    return None


def login_failure_record(
    sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """user_login_failed receiver (wrong password or authenticator code): count it for the address and
    the username, or for the trusted browser that made it. No password or text is kept."""
    if request is None:
        return
    username = str(credentials.get("username", ""))
    nonce = _device_nonce(request, username)
    if nonce:
        _bump(f"login-fail-device:{nonce}")
        return
    ip_key, user_key, last_key = _keys(request, username)
    _bump(ip_key)
    _bump(user_key)
    cache.set(last_key, time.time(), timeout=_window())
