"""Every admin action of every registered admin, the project's and third-party apps', declares the
permission it needs and leaves an audit event.

Django offers an action to anyone who may see the change list unless the action names permissions
(`@admin.action(permissions=[...])`); third-party actions mostly do not (django-celery-beat's "Run
selected tasks" would let view-only staff start a training run). At start-up, `admin_actions_guard`
makes each action without declared permissions superuser-only and wraps every action so that using
it writes an `AuditEvent` (which action, which model, which objects; never text).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record

AUDITED_IDS = 100  # an action on thousands of rows records the first ids and the count


def has_superuser_permission(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


class SuperuserActions:
    """For admins whose own actions declare `permissions=["superuser"]`."""

    def has_superuser_permission(self, request: HttpRequest) -> bool:
        return has_superuser_permission(request)


def _audited(func: Callable, name: str) -> Callable:
    @functools.wraps(func)
    def action(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: Any) -> Any:
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)[:AUDITED_IDS]]
        response = func(model_admin, request, queryset)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.ADMIN_ACTION,
            detail={
                "action": name,
                "model": model_admin.model._meta.label_lower,
                "objects": ids,
                "count": queryset.count(),
                # An action that answers with a page (a confirmation) has not acted yet.
                "answered_with_page": response is not None,
            },
        )
        return response

    action.allowed_permissions = getattr(func, "allowed_permissions", None) or ("superuser",)  # type: ignore[attr-defined]
    action.__dict__["audited"] = True
    return action


def admin_actions_guard(site: admin.AdminSite | None = None) -> int:
    """Guard and audit the actions of every admin registered on `site`. Returns actions guarded."""
    site = site or admin.site
    guarded = 0
    for model_admin in site._registry.values():
        actions = []
        for action in model_admin.actions or ():
            func = action if callable(action) else getattr(type(model_admin), action)
            if getattr(func, "audited", False):
                actions.append(func)
                continue
            name = action if isinstance(action, str) else func.__name__
            actions.append(_audited(func, name))
            guarded += 1
        model_admin.actions = actions
        if not hasattr(model_admin, "has_superuser_permission"):
            model_admin.has_superuser_permission = has_superuser_permission  # type: ignore[attr-defined]
    return guarded
