"""JSON endpoints of /api/chat (SPEC §3 and §9): parse the body, call one service, answer."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from chats.inputs import clean_emoji, clean_text, clean_title, parse_bool, parse_ids
from chats.models import HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT
from chats.selectors import chat_list as select_chat_list
from chats.selectors import (
    history,
    message_payload,
    message_payloads,
    participant_payload,
    read_positions,
    room_for_member,
    room_members,
    room_title,
)
from chats.services import (
    mark_unread,
    message_edit,
    message_remove,
    reaction_toggle,
    room_add_members,
    room_create,
    room_leave,
    room_mute,
    room_rename,
)
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


def _message_id(body: dict) -> int:
    if "messageId" not in body:
        raise Invalid("messageId is required.")
    return parse_id(body["messageId"], "messageId")


def _chat_id(body: dict) -> int:
    if "chatId" not in body:
        raise Invalid("chatId is required.")
    return parse_id(body["chatId"], "chatId")


@api_view("POST")
def edit_message(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    message_id = _message_id(body)
    text = clean_text(body.get("message"))
    message = message_edit(user=user, message_id=message_id, text=text)
    return 200, message_payload(message)


@api_view("POST")
def delete_message(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    message_id = message_remove(user=user, message_id=_message_id(body))
    return 200, {"messageId": str(message_id)}


@api_view("POST")
def react(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    message_id = _message_id(body)
    emoji = clean_emoji(body.get("emoji"))
    message, reactions = reaction_toggle(user=user, message_id=message_id, emoji=emoji)
    return 200, {"messageId": str(message.pk), "reactions": reactions}


@api_view("POST")
def mark_unread_view(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    room_id = _chat_id(body)
    message_id = _message_id(body)
    unread = mark_unread(user=user, room_id=room_id, message_id=message_id)
    return 200, {"chatId": str(room_id), "unreadMessagesCount": unread}


@api_view("POST")
def mute(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    room_id = _chat_id(body)
    muted = room_mute(user=user, room_id=room_id, muted=parse_bool(body.get("muted"), "muted"))
    return 200, {"chatId": str(room_id), "muted": muted}


@api_view("POST")
def rename(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    room_id = _chat_id(body)
    if "title" not in body:
        raise Invalid("title is required.")
    return 200, room_rename(user=user, room_id=room_id, title=clean_title(body["title"]))


@api_view("POST")
def add_members(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    room_id = _chat_id(body)
    friend_ids = parse_ids(body.get("friendIds"), "friendIds")
    return 200, room_add_members(user=user, room_id=room_id, friend_ids=friend_ids)


@api_view("POST")
def leave(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    room_id = room_leave(user=user, room_id=_chat_id(body))
    return 200, {"chatId": str(room_id)}
