"""Reads about rooms and messages: the shapes the pages, the API and the socket all share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from accounts.models import User, is_web_url
from chats.models import (
    CATCH_UP_LIMIT,
    HISTORY_DEFAULT_LIMIT,
    REPLY_EXCERPT_LENGTH,
    ChatRoom,
    Message,
    Participant,
)
from chats.uploads import attachments_by_message
from chatty import rows
from chatty.errors import Invalid, NotFound, NotParticipant, parse_id


def millis(value) -> int:
    return int(value.timestamp() * 1000)


# What a page of messages selects with them: the sender, the quoted message and its sender.
MESSAGE_RELATED = ("sender", "reply_to", "reply_to_sender")


def _reply_payload(message: Message) -> dict[str, Any] | None:
    if message.reply_to_id is None:
        return None
    try:
        quoted = message.reply_to  # None once the quoted message is deleted (no constraint)
    except Message.DoesNotExist:  # the same, when it was not selected with the message
        quoted = None
    sender = message.reply_to_sender
    return {
        "id": str(message.reply_to_id),
        "senderName": sender.display_name if sender is not None else "",
        "excerpt": quoted.text[:REPLY_EXCERPT_LENGTH] if quoted is not None else None,
    }


def _payload(message: Message, attachments: list[dict[str, Any]]) -> dict[str, Any]:
    sender = message.sender
    return {
        "id": str(message.pk),
        "chatroomId": str(message.room_id),
        "message": message.text,
        "senderId": str(sender.pk),
        "senderName": sender.display_name,
        "senderImage": sender.picture_url,
        "timestamp": millis(message.created_at),
        "editedAt": millis(message.edited_at) if message.edited_at is not None else None,
        "replyTo": _reply_payload(message),
        "reactions": message.reaction_summary or [],
        "attachments": attachments,
    }


def message_payloads(messages: Sequence[Message], *, fresh: bool = False) -> list[dict[str, Any]]:
    """SPEC §9 `<message>` for each message, in a fixed number of queries whatever their number.

    The messages come with MESSAGE_RELATED selected (else each reply costs a query); the
    reactions ride on the row (reaction_summary). Attachments join here, in one query for
    all of them, once they exist; `fresh` (just stored, nothing attached by another path)
    is the send's way to skip every extra query.
    """
    if fresh or not messages:
        return [_payload(m, []) for m in messages]
    attachments = attachments_by_message([m.pk for m in messages])  # files: one query for all
    return [_payload(m, attachments.get(m.pk, [])) for m in messages]


def message_payload(message: Message, *, fresh: bool = False) -> dict[str, Any]:
    """One `<message>` (see message_payloads)."""
    return message_payloads([message], fresh=fresh)[0]


def room_title(*, kind: str, members: list[Any], viewer_id: int, custom: str = "") -> str:
    if custom and kind == ChatRoom.GROUP:
        return custom
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
    "muted",
    "room__kind",
    "room__title",
    "room__created_at",
    "room__last_activity_at",
    "room__last_message__room_id",
    "room__last_message__text",
    "room__last_message__created_at",
    "room__last_message__sender__username",
    "room__last_message__sender__name",
    "room__last_message__sender__picture",
    "room__last_message__edited_at",
    "room__last_message__reaction_summary",
    "room__last_message__reply_to_id",
    "room__last_message__reply_to__text",
    "room__last_message__reply_to_sender__username",
    "room__last_message__reply_to_sender__name",
)
_SUMMARY_RELATED = (
    "room",
    "room__last_message",
    "room__last_message__sender",
    "room__last_message__reply_to",
    "room__last_message__reply_to_sender",
)


def _summary(
    room: ChatRoom, members: list[Member], viewer_id: int, unread: int, muted: bool, last: dict[str, Any] | None
) -> dict[str, Any]:
    summary = {
        "id": str(room.pk),
        "createdAt": millis(room.created_at),
        "kind": room.kind,
        "title": room_title(kind=room.kind, members=members, viewer_id=viewer_id, custom=room.title),
        "participants": [participant_payload(u) for u in members],
        "lastMessage": last,
        "unreadMessagesCount": unread,
        "muted": muted,
    }
    if room.kind == ChatRoom.GROUP:
        summary["customTitle"] = room.title or None
    return summary


def _summaries(parts: list[Participant]) -> list[dict[str, Any]]:
    """Each participant row's summary, from that participant's side."""
    members = _members_by_room([p.room_id for p in parts])
    lasts = [p.room.last_message for p in parts if p.room.last_message is not None]
    payloads = {int(m["id"]): m for m in message_payloads(lasts)}
    return [
        _summary(
            p.room, members[p.room_id], p.user_id, p.unread_count, p.muted, payloads.get(p.room.last_message_id or 0)
        )
        for p in parts
    ]


def chat_list(*, user: User) -> list[dict[str, Any]]:
    """Every room of the user, most recent activity first, in three queries whatever their number."""
    parts = list(
        Participant.objects.filter(user=user)
        .select_related(*_SUMMARY_RELATED)
        .only(*_SUMMARY_COLUMNS)
        .order_by("-room__last_activity_at", "-room_id")
    )
    return _summaries(parts)


def room_summary(*, room_id: int, user: User) -> dict[str, Any]:
    part = Participant.objects.filter(room_id=room_id, user=user).select_related(*_SUMMARY_RELATED).get()
    return _summaries([part])[0]


def room_summaries(*, room_id: int) -> dict[int, dict[str, Any]]:
    """{user id: the room's summary from that participant's side}, in three queries."""
    parts = list(Participant.objects.filter(room_id=room_id).select_related(*_SUMMARY_RELATED).order_by("id"))
    return {p.user_id: s for p, s in zip(parts, _summaries(parts), strict=True)} if parts else {}


def room_and_position(*, user_id: int, room_id: Any) -> tuple[ChatRoom, int]:
    """The room, if the user takes part in it, and the id of the last message they read;
    NotFound / NotParticipant otherwise. One query in plain SQL (chatty/rows.py): every join
    of every socket asks, and the ORM's two queries were a sixth of a reconnect storm's CPU."""
    try:
        room_id = parse_id(room_id, "chatroomId")
    except Invalid:
        raise NotFound("No such chat.") from None
    found = rows.load(
        ChatRoom,
        joins=f"LEFT JOIN {rows.table(Participant)} p ON p.room_id = t.id AND p.user_id = %(user)s",
        where="t.id = %(room)s",
        extra=("p.id", "p.last_read_id"),
        params={"user": user_id, "room": room_id},
    )
    if not found:
        raise NotFound("No such chat.")
    room, (participant_id, position) = found[0]
    if participant_id is None:
        raise NotParticipant()
    return room, position


def room_for_member(*, user_id: int, room_id: Any) -> ChatRoom:
    """The room, if the user takes part in it; NotFound / NotParticipant otherwise."""
    return room_and_position(user_id=user_id, room_id=room_id)[0]


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
    page = list(Message.objects.filter(id__in=ids).select_related(*MESSAGE_RELATED).order_by("-id"))
    has_more = len(page) > limit
    page = page[:limit]
    page.reverse()
    return page, has_more


def messages_after(*, room_id: int, after_id: int, limit: int = CATCH_UP_LIMIT) -> tuple[list[Message], bool]:
    """What was stored after `after_id`, in id order; True as second item when more than `limit`."""
    page = list(
        Message.objects.filter(room_id=room_id, id__gt=after_id)
        .select_related(*MESSAGE_RELATED)
        .order_by("id")[: limit + 1]
    )
    return page[:limit], len(page) > limit


def unread_counts(*, room_id: int) -> dict[int, int]:
    """{participant id: unread count} for one room, in one query."""
    return dict(Participant.objects.filter(room_id=room_id).values_list("user_id", "unread_count"))


def room_ids_of(*, user_id: int) -> list[int]:
    """The rooms the user takes part in: every socket's opening asks (plain SQL)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT room_id FROM {rows.table(Participant)} WHERE user_id = %s", [user_id])  # noqa: S608
        return [room_id for (room_id,) in cursor.fetchall()]


def message_for_member(*, user_id: int, message_id: int, room_id: int | None = None) -> Message:
    """A message of a room the user takes part in (and of `room_id` when given); NotFound
    otherwise, so that ids of rooms one is not in tell nothing."""
    messages = Message.objects.filter(pk=message_id, room__participants__user_id=user_id)
    if room_id is not None:
        messages = messages.filter(room_id=room_id)
    message = messages.select_related(*MESSAGE_RELATED).first()
    if message is None:
        raise NotFound("No such message.")
    return message


def read_positions(*, room_id: int) -> dict[str, str | None]:
    """{participant id: the id of the last message they read, or None}, in one query."""
    rows = Participant.objects.filter(room_id=room_id).order_by("id").values_list("user_id", "last_read_id")
    return {str(user_id): (str(last) if last else None) for user_id, last in rows}


def history_around(
    *, room_id: int, message_id: int, before: int = HISTORY_DEFAULT_LIMIT // 2, after: int = HISTORY_DEFAULT_LIMIT // 2
) -> tuple[list[Message], bool, bool] | None:
    """The page of a room's history around one of its messages (a search result to jump to):
    up to `before` older messages, the message, up to `after` newer ones, oldest to newest,
    and whether older and newer ones exist beyond. None when the room has no such message."""
    newer, has_newer = messages_after(room_id=room_id, after_id=message_id - 1, limit=after + 1)
    if not newer or newer[0].pk != message_id:
        return None
    older, has_older = history(room_id=room_id, before=message_id, limit=before)
    return older + newer, has_older, has_newer


def history_newer(*, room_id: int, after: int, limit: int = HISTORY_DEFAULT_LIMIT) -> tuple[list[Message], bool, bool]:
    """The page of messages after `after`, oldest to newest, whether older ones exist before
    it and whether newer ones exist after it (scrolling down from a jump)."""
    page, has_newer = messages_after(room_id=room_id, after_id=after, limit=limit)
    first = page[0].pk if page else after + 1
    has_older = Message.objects.filter(room_id=room_id, id__lt=first).exists()
    return page, has_older, has_newer


def latest_message_id(*, room_id: int) -> int | None:
    return Message.objects.filter(room_id=room_id).order_by("-id").values_list("id", flat=True).first()
