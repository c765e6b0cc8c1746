from __future__ import annotations

from typing import Any

from django import template

from friends.selectors import blocked_by, blocked_payload

register = template.Library()


@register.inclusion_tag("friends/partials/blocked.html", takes_context=True)
def blocked_list(context: dict[str, Any]) -> dict[str, Any]:
    """The settings' blocked list, for the signed-in user of the page being rendered."""
    request = context["request"]
    return {
        "blocked": [blocked_payload(other) for other in blocked_by(user=request.user)],
        "csrf_token": context.get("csrf_token"),
        "next": request.get_full_path(),
    }
