"""The browser socket's HTML for chat events: each made once per event and language (and,
for a message, once per side: one's own on the right, others' on the left), never per socket.

Every fragment is an out-of-band swap by id, from the same partials the pages render, so
the page looks the same whether a piece came with it or over the socket.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from chatty.wire import render_fragment as render

BADGE_SLOT = "@@chatty-badge@@"  # where a participant's own unread badge goes


def message(payload: dict[str, Any], *, mine: bool, lang: str) -> str:
    me_id = payload["senderId"] if mine else ""
    return render({"kind": "message", "message": payload, "me_id": me_id}, lang)


def preview(payload: dict[str, Any], *, lang: str) -> tuple[str, str]:
    """A chat row's preview of its newest message, split where the unread badge goes."""
    html = render({"kind": "lastMessage", "message": payload, "badge_slot": BADGE_SLOT}, lang)
    head, _, tail = html.partition(BADGE_SLOT)
    return head, tail


@lru_cache(maxsize=2048)
def badge(chat_id: str, unread: int, lang: str) -> str:
    """A room's unread badge for a count: a few distinct counts, made once each."""
    with translation.override(lang):
        return render_to_string("chats/partials/badge.html", {"chat_id": chat_id, "unread": unread}).strip()
