"""Reads about rooms and messages: the shapes the pages, the API and the socket all share."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from accounts.models import User, is_web_url
from chats.models import CATCH_UP_LIMIT, HISTORY_DEFAULT_LIMIT, ChatRoom, Message, Participant
from chatty.errors import Invalid, NotFound, NotParticipant, parse_id


def millis(value) -> int:
    return int(value.timestamp() * 1000)


def message_payload(message: Message) -> dict[str, Any]:
    """SPEC §3 `<message>`; `message.sender` should be selected with it."""
    sender = message.sender
    return {
        "id": str(message.pk),
        "chatroomId": str(message.room_id),
        "message": message.text,
        "senderId": str(sender.pk),
        "senderName": sender.display_name,
        "senderImage": sender.picture_url,
        "timestamp": millis(message.created_at),
    }


def room_title(*, kind: str, members: list[Any], viewer_id: int) -> str:
    others = [m.display_name for m in members if m.pk != viewer_id]
    return ", ".join(others) if others else "(just you)"


def participant_payload(user: Any) -> dict[str, Any]:
    return {"participantId": str(user.pk), "participantPicture": user.picture_url, "name": user.display_name}


@dataclass(frozen=True, slots=True)
class Member:
    """What a room shows of a participant; plain values, because building full User objects
    for every member of every room was most of chat_list's time."""

    pk: int
    display_name: str
    picture_url: str
    chosen_status: str


def _members_by_room(room_ids: list[int]) -> dict[int, list[Member]]:
    members: dict[int, list[Member]] = defaultdict(list)
    rows = (
        Participant.objects.filter(room_id__in=room_ids)
        .order_by("id")
        .values_list("room_id", "user_id", "user__name", "user__username", "user__picture", "user__chosen_status")
    )
    for room_id, user_id, name, username, picture, status in rows:
        members[room_id].append(Member(user_id, name or username, picture if is_web_url(picture) else "", status))
    return members


# A room row of the chat list: only the columns its summary shows.
_SUMMARY_COLUMNS = (
    "room_id",
    "user_id",
    "unread_count",
    "room__kind",
    "room__created_at",
    "room__last_activity_at",
    "room__last_message__room_id",
    "room__last_message__text",
    "room__last_message__created_at",
    "room__last_message__sender__username",
    "room__last_message__sender__name",
    "room__last_message__sender__picture",
)


def _summary(room: ChatRoom, members: list[Member], viewer_id: int, unread: int) -> dict[str, Any]:
    last = room.last_message
    return {
        "id": str(room.pk),
        "createdAt": millis(room.created_at),
        "kind": room.kind,
        "title": room_title(kind=room.kind, members=members, viewer_id=viewer_id),
        "participants": [participant_payload(u) for u in members],
        "lastMessage": message_payload(last) if last is not None else None,
        "unreadMessagesCount": unread,
    }


def chat_list(*, user: User) -> list[dict[str, Any]]:
    """Every room of the user, most recent activity first, in two queries whatever their number."""
    parts = list(
        Participant.objects.filter(user=user)
        .select_related("room", "room__last_message", "room__last_message__sender")
        .only(*_SUMMARY_COLUMNS)
        .order_by("-room__last_activity_at", "-room_id")
    )
    members = _members_by_room([p.room_id for p in parts])
    return [_summary(p.room, members[p.room_id], user.pk, p.unread_count) for p in parts]


def room_summary(*, room_id: int, user: User) -> dict[str, Any]:
    part = (
        Participant.objects.filter(room_id=room_id, user=user)
        .select_related("room", "room__last_message", "room__last_message__sender")
        .get()
    )
    return _summary(part.room, _members_by_room([room_id])[room_id], user.pk, part.unread_count)


def room_for_member(*, user_id: int, room_id: Any) -> ChatRoom:
    """The room, if the user takes part in it; NotFound / NotParticipant otherwise."""
    try:
        room_id = parse_id(room_id, "chatroomId")
    except Invalid:
        raise NotFound("No such chat.") from None
    room = ChatRoom.objects.filter(pk=room_id).first()
    if room is None:
        raise NotFound("No such chat.")
    if not Participant.objects.filter(room=room, user_id=user_id).exists():
        raise NotParticipant()
    return room


def room_members(*, room_id: int) -> list[Member]:
    return _members_by_room([room_id])[room_id]


def history(
    *, room_id: int, before: int | None = None, limit: int = HISTORY_DEFAULT_LIMIT
) -> tuple[list[Message], bool]:
    """A page of messages, oldest to newest: the newest page, or the one before `before`."""
    ids = Message.objects.filter(room_id=room_id)
    if before is not None:
        ids = ids.filter(id__lt=before)
    # Ids first, from the (room, id) index alone: asking for whole rows ordered by id let
    # PostgreSQL walk the primary key backwards through every newer message of other rooms.
    ids = ids.order_by("-id").values("id")[: limit + 1]
    page = list(Message.objects.filter(id__in=ids).select_related("sender").order_by("-id"))
    has_more = len(page) > limit
    page = page[:limit]
    page.reverse()
    return page, has_more


def messages_after(*, room_id: int, after_id: int, limit: int = CATCH_UP_LIMIT) -> tuple[list[Message], bool]:
    """What was stored after `after_id`, in id order; True as second item when more than `limit`."""
    page = list(
        Message.objects.filter(room_id=room_id, id__gt=after_id).select_related("sender").order_by("id")[: limit + 1]
    )
    return page[:limit], len(page) > limit


def unread_counts(*, room_id: int) -> dict[int, int]:
    """{participant id: unread count} for one room, in one query."""
    return dict(Participant.objects.filter(room_id=room_id).values_list("user_id", "unread_count"))


def room_ids_of(*, user_id: int) -> list[int]:
    return list(Participant.objects.filter(user_id=user_id).values_list("room_id", flat=True))
