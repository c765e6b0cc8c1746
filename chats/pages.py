"""What the pages show: the app shell (me, friends, chats) and a room, from the selectors."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from chats.selectors import chat_list, history, message_payloads, participant_payload, room_members, room_title
from chatty.live import statuses
from friends.selectors import blocked_either_way, friend_payload, friends_of


def shell_context(*, user: User) -> dict[str, Any]:
    friends = friends_of(user=user)
    status = statuses([user, *friends])
    chats = chat_list(user=user)
    return {
        "my_status": status[user.pk],
        "friends": [friend_payload(f, status[f.pk]) for f in friends],
        "chats": chats,
        "unread_total": sum(c["unreadMessagesCount"] for c in chats),
    }


def room_context(*, user: User, room: Any, before: int | None = None) -> dict[str, Any]:
    members = room_members(room_id=room.pk)
    messages, has_more = history(room_id=room.pk, before=before)
    member_status = statuses(members)
    for other in blocked_either_way(user_id=user.pk):  # SPEC §9: no presence across a block
        if other in member_status:
            member_status[other] = "offline"
    return {
        "room": room,
        "room_title": room_title(kind=room.kind, members=members, viewer_id=user.pk, custom=room.title),
        "participants": [
            {**participant_payload(m), "status": member_status[m.pk], "is_me": m.pk == user.pk} for m in members
        ],
        "creator": next((m for m in members if m.pk == room.created_by_id), None),
        "chat_messages": message_payloads(messages),
        "has_more": has_more,
        "oldest_id": messages[0].pk if messages else None,
    }


def room_page_context(*, user: User, room: Any, before: int | None = None) -> dict[str, Any]:
    """The room's page: the shell, the room, and what its header's tools need (this user's
    mute, the names a group falls back to, the friends who could be added)."""
    context = shell_context(user=user) | room_context(user=user, room=room, before=before)
    context.update(
        room_tools_context(
            room=room, chats=context["chats"], friends=context["friends"], participants=context["participants"]
        )
    )
    return context


def room_tools_context(
    *, room: Any, chats: list[dict[str, Any]], friends: list[dict[str, Any]], participants: list[dict[str, Any]]
) -> dict[str, Any]:
    member_ids = {p["participantId"] for p in participants}
    return {
        "room_muted": next((bool(c["muted"]) for c in chats if c["id"] == str(room.pk)), False),
        "names_title": ", ".join(p["name"] for p in participants if not p.get("is_me")),
        "addable": [f for f in friends if f["userId"] not in member_ids],
    }
