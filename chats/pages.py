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


def read_state(*, user: User, room: Any, positions: dict[str, str | None], participants: list[dict]) -> dict:
    """What the page's receipts and its "New messages" line start from: how far each other
    participant read, their names, and where the reader was before this visit read the room."""
    me = str(user.pk)
    return {
        "kind": room.kind,
        "lastRead": positions.get(me),
        "positions": {uid: mid for uid, mid in positions.items() if uid != me},
        "names": {str(p["participantId"]): p["name"] for p in participants if not p["is_me"]},
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
