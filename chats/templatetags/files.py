"""Template helpers for attachments (SPEC §10): the size a thumbnail is shown at."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

# The longest side of a thumbnail in a message (CSS pixels); the server's thumbnail is larger
# (chats/uploads.py THUMBNAIL_BOX), so it stays sharp on dense screens.
SHOWN_BOX = 240


def _shown(attachment: dict[str, Any]) -> tuple[int, int]:
    width, height = attachment.get("width") or SHOWN_BOX, attachment.get("height") or SHOWN_BOX
    scale = min(1.0, SHOWN_BOX / width, SHOWN_BOX / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


@register.filter
def shown_width(attachment: dict[str, Any]) -> int:
    """The width to reserve for an image's thumbnail (no layout shift when it loads)."""
    return _shown(attachment)[0]


@register.filter
def shown_height(attachment: dict[str, Any]) -> int:
    return _shown(attachment)[1]
