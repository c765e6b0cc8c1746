"""JSON endpoints of /api/chat (SPEC §3)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from chats.models import HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT
from chats.selectors import chat_list as select_chat_list
from chats.selectors import (
    history,
    message_payloads,
    participant_payload,
    read_positions,
    room_for_member,
    room_members,
    room_title,
)
from chats.services import room_create
from chatty.api import api_view
from chatty.errors import Invalid, parse_id


@api_view("GET")
def chat_list(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    return 200, {"chatRooms": select_chat_list(user=user)}


@api_view("POST")
def create_chat(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    room, created = room_create(creator=user, friend_ids=body.get("friendIds"))
    return (201 if created else 200), {"chatroomId": str(room.pk), "created": created}


@api_view("GET")
def chat_info(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    params = request.GET
    if "chatId" not in params:
        raise Invalid("chatId is required.")
    room_id = parse_id(params.get("chatId"), "chatId")
    before = parse_id(params["before"], "before") if "before" in params else None
    limit = HISTORY_DEFAULT_LIMIT
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise Invalid("limit must be a whole number.") from None
        if not 1 <= limit <= HISTORY_MAX_LIMIT:
            raise Invalid(f"limit must be between 1 and {HISTORY_MAX_LIMIT}.")
    room = room_for_member(user_id=user.pk, room_id=room_id)
    members = room_members(room_id=room.pk)
    messages, has_more = history(room_id=room.pk, before=before, limit=limit)
    return 200, {
        "id": str(room.pk),
        "title": room_title(kind=room.kind, members=members, viewer_id=user.pk, custom=room.title),
        "kind": room.kind,
        "participants": [participant_payload(m) for m in members],
        "messages": message_payloads(messages),
        "hasMore": has_more,
        "readPositions": read_positions(room_id=room.pk),
    }
