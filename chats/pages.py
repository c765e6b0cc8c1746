"""What the pages show: the app shell (me, friends, chats) and a room, from the selectors."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.models import User
from chats.search import parse_search, search_messages
from chats.selectors import (
    chat_list,
    history,
    history_around,
    history_newer,
    latest_message_id,
    message_payloads,
    participant_payload,
    room_members,
    room_title,
)
from chatty.errors import ChattyError, NotFound, NotParticipant
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


def room_context(
    *, user: User, room: Any, before: int | None = None, around: int | None = None, after: int | None = None
) -> dict[str, Any]:
    """The room page: its newest messages, or those before `before`, around the message
    `around` (a search result), or after `after` (scrolling down from there)."""
    members = room_members(room_id=room.pk)
    has_newer = False
    page = history_around(room_id=room.pk, message_id=around) if around is not None else None
    if page is not None:
        messages, has_more, has_newer = page
    elif after is not None:
        messages, has_more, has_newer = history_newer(room_id=room.pk, after=after)
    else:
        around = None
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
        # Jumped into the middle (SPEC §10 search): newer pages load on scrolling down.
        "around_id": around,
        "has_newer": has_newer,
        "newest_id": messages[-1].pk if messages else after,
        "latest_id": latest_message_id(room_id=room.pk) if has_newer else None,
        "max_upload_mb": settings.CHATTY_MAX_UPLOAD_MB,
    }


def room_page_context(*, user: User, room: Any, **where: int | None) -> dict[str, Any]:
    """The room's page: the shell, the room (`where`: before, around or after a message, as
    room_context takes them), and what its header's tools need (this user's mute, the names
    a group falls back to, the friends who could be added)."""
    context = shell_context(user=user) | room_context(user=user, room=room, **where)
    context.update(
        room_tools_context(
            room=room, chats=context["chats"], friends=context["friends"], participants=context["participants"]
        )
    )
    return context


def room_tools_context(
    *, room: Any, chats: list[dict[str, Any]], friends: list[dict[str, Any]], participants: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "room_muted": next((bool(c["muted"]) for c in chats if c["id"] == str(room.pk)), False),
        "names_title": ", ".join(p["name"] for p in participants if not p.get("is_me")),
        "addable": _not_in(friends, {p["participantId"] for p in participants}),
    }


def addable_friends(*, user: User, room: Any) -> list[dict[str, Any]]:
    """The user's friends not in the room yet: all that the group settings' answers (the fresh
    pick list) show, in two queries, without building the room's page."""
    member_ids = {str(m.pk) for m in room_members(room_id=room.pk)}
    # The pick list shows names, pictures and tags: no presence is read for it.
    return _not_in([friend_payload(f, "") for f in friends_of(user=user)], member_ids)


def _not_in(friends: list[dict[str, Any]], member_ids: set[str]) -> list[dict[str, Any]]:
    return [f for f in friends if f["userId"] not in member_ids]


def search_context(*, user: User, params: Any) -> dict[str, Any]:
    """What the search results show: the results (SPEC §10; each snippet is the server's
    escaped HTML), the query and room searched, where "More" goes on, or why nothing was asked."""
    q = params.get("q", "")
    chat_id = params.get("chatId", "")
    context: dict[str, Any] = {"q": q, "chat_id": chat_id, "results": [], "has_more": False, "error": None}
    if not q.strip():
        return context
    try:
        results, has_more = search_messages(user_id=user.pk, query=parse_search(params))
    except (NotFound, NotParticipant):
        raise  # the view's 404: a room one is not in is not found
    except ChattyError as exc:
        return context | {"error": str(exc.detail)}
    context |= {"results": results, "has_more": has_more}
    if results:
        context["next_before"] = results[-1]["message"]["id"]
    return context
