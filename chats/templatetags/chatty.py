"""Small template helpers for the pages and the partials pushed over the websocket."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from accounts.models import is_web_url

register = template.Library()

# SPEC §9's small Markdown and nothing more: **bold**, *italic*, `code`, fenced code, > quote,
# bare http(s) links, line breaks as typed. Raw HTML stays text (html=False).
_MARKDOWN_RULES = ["emphasis", "backticks", "fence", "blockquote", "linkify", "newline"]
_ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "blockquote", "a"}


@functools.cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "linkify": True, "breaks": True}).enable(_MARKDOWN_RULES)
    # Only links written out with their scheme; "www.x.org" and e-mail addresses stay text.
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})
    return md


@register.filter
def markdown(text: str | None) -> SafeString:
    """A message's text as HTML: rendered by markdown-it, then sanitized by nh3 (ammonia) to
    the few tags above; links only http(s), opening in a new tab, rel="noopener noreferrer nofollow"."""
    return mark_safe(_markdown_html(text or ""))  # noqa: S308 (sanitized by nh3; the source text was escaped by markdown-it)


@functools.lru_cache(maxsize=1024)
def _markdown_html(text: str) -> str:
    """The sanitized HTML of a text, kept for the newest texts: a message reaching the
    browser's sockets is rendered once per side and language, and a page shows it again
    (markdown-it and nh3 were half of each render, py-spy --gil on /ws/ui/)."""
    # markdown-it ends lines after its tags; the bubble keeps white space as typed
    # (pre-wrap), so those would show as blank lines. Every literal ">" in its output closes a
    # tag (text is escaped), so this drops only the newlines that follow tags.
    html = _markdown().render(text).replace(">\n", ">")
    cleaned = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
    return cleaned.strip()


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


@register.filter
def to_json(value: Any) -> str:
    """A value as JSON text for a data- attribute, escaped there like any text (the pages'
    CSP and tests/security allow no inline script, not even a JSON one)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
