"""GET /api/chat/search (SPEC §10)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from chats.search import parse_search, search_messages
from chatty.api import api_view


@api_view("GET")
def search(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    results, has_more = search_messages(user_id=user.pk, query=parse_search(request.GET))
    return 200, {"results": results, "hasMore": has_more}
