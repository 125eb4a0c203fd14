"""Writes for accounts: ending a user's other sessions when their second factor changes."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.utils import timezone


def user_other_sessions_end(*, user: User, keep_session_key: str | None) -> int:
    """Sign the user out everywhere but the session `keep_session_key`; returns sessions ended.

    Used when an authenticator is set up or replaced: a session that signed in before (perhaps by
    someone who had only the password) must not outlive the change. Live sessions are decoded one by
    one (database sessions; a clinic has hundreds, not millions)."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.session_key == keep_session_key:
            continue
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session.delete()
            ended += 1
    return ended
