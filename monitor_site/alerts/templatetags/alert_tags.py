"""Alert facts for the admin's templates."""

from __future__ import annotations

from django import template

from monitor_site.alerts.selectors import alerts_undelivered_count

register = template.Library()


@register.simple_tag
def undelivered_alerts() -> int:
    """Unresolved alerts that reached nobody: the admin index says so, linking to them."""
    return alerts_undelivered_count()
