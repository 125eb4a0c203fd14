"""Who is asking."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied


def user_signed_in(user: User | AnonymousUser) -> User:
    """The signed-in user of a view that requires a log-in (login_required, IsAuthenticated): those
    guards run first, so an anonymous user here is a wiring mistake and is refused, never served."""
    if not isinstance(user, User):
        raise PermissionDenied("Log in first.")
    return user
