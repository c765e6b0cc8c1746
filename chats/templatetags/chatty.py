"""Small template helpers for the pages and the partials pushed over the websocket."""

from __future__ import annotations

import datetime as dt

from django import template

from accounts.models import is_web_url

register = template.Library()


@register.filter
def from_ms(value: int | str | None) -> dt.datetime | None:
    """A `timestamp` in milliseconds (SPEC §3) as an aware datetime."""
    if value in (None, ""):
        return None
    return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC)


@register.filter
def web_url(value: str | None) -> bool:
    """Only http(s) pictures become an <img src>."""
    return is_web_url(value or "")


@register.filter
def initial(name: str | None) -> str:
    name = (name or "").strip()
    return name[:1].upper() if name else "?"


@register.filter
def take(items: list, n: int) -> list:
    return list(items)[: int(n)]


@register.filter
def others(participants: list[dict], me_id: int | str) -> list[dict]:
    """Room participants without the viewer (for stacked avatars)."""
    return [p for p in participants if str(p["participantId"]) != str(me_id)]


@register.filter
def minus(value: int, other: int) -> int:
    return int(value) - int(other)


@register.filter
def ellipsis(text: str | None, length: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= int(length) else text[: int(length) - 1] + "…"
