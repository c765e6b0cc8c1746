"""The reads and writes of an edit and a reaction in plain SQL, portable between PostgreSQL and
SQLite: one statement reads the message for a member with everything the service decides on.

An edit or a reaction toggle used to cost six or seven ORM queries (the message for the member
with its sender and quote, the read-only rule, the lock, the reaction row, the summary), and
compiling them was most of it: with edits and reactions in the benchmark's mix
`message_for_member` alone held the GIL 24 % of the time and an edit or a reaction cost
about 3.5 ms of a server's CPU against 1.3 ms for a send (docs/performance.md).

The SELECT is written once and its values converted as the ORM would (chatty/rows.py).
Who may write is chats/rules.py's rule (a direct room only while its two people are friends),
written again in SQL here as in chats/fastsend.py: change the three together
(tests/chats/test_conversations.py runs every case through the services).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from accounts.models import User
from chats.attachments import Attachment
from chats.models import ChatRoom, Message, Participant, Reaction
from chatty import rows
from chatty.errors import NotFound
from friends.models import Friendship


@dataclass(frozen=True, slots=True)
class ForWriter:
    """A message as a member sees it (its quote and the quote's sender in place, as
    `message_payload` reads them), with what an edit or a toggle decides on."""

    message: Message
    read_only: bool  # a direct room whose two people are no longer friends
    has_attachments: bool


def _joins() -> str:
    member, room, user = rows.table(Participant), rows.table(ChatRoom), rows.table(User)
    message = rows.table(Message)
    return (
        f"JOIN {member} p ON p.room_id = t.room_id AND p.user_id = %(user)s"
        f" JOIN {room} r ON r.id = t.room_id"
        f" LEFT JOIN {message} q ON q.id = t.reply_to_id"
        f" LEFT JOIN {user} s ON s.id = t.reply_to_sender_id"
    )


def _extra() -> tuple[str, ...]:
    member, friendship, attachment = rows.table(Participant), rows.table(Friendship), rows.table(Attachment)
    return (
        f"CASE WHEN r.kind = %(direct)s AND EXISTS (SELECT 1 FROM {member} o"  # noqa: S608 (our tables)
        "  WHERE o.room_id = t.room_id AND o.user_id <> %(user)s AND NOT EXISTS ("
        f"    SELECT 1 FROM {friendship} f WHERE f.user_id = %(user)s AND f.friend_id = o.user_id))"
        " THEN 1 ELSE 0 END",
        f"EXISTS (SELECT 1 FROM {attachment} a WHERE a.message_id = t.id)",  # noqa: S608 (our table)
        "q.text",
        "s.name",
        "s.username",
    )


def message_row(*, user_id: int, message_id: int, room_id: int | None = None, lock: bool = False) -> ForWriter:
    """The message, if the user takes part in its room (and it is in `room_id` when given);
    NotFound otherwise, as `selectors.message_for_member`. `lock`: its row locked for the
    caller's transaction. One statement (chatty/rows.py)."""
    found = rows.load(
        Message,
        joins=_joins(),
        where="t.id = %(message)s" + (" AND t.room_id = %(room)s" if room_id is not None else ""),
        extra=_extra(),
        params={"user": user_id, "message": message_id, "room": room_id, "direct": ChatRoom.DIRECT},
        lock=lock,
    )
    if not found:
        raise NotFound("No such message.")
    message, (read_only, files, quoted_text, quoted_name, quoted_username) = found[0]
    if message.reply_to_id is not None:
        # None once the quoted message (or its sender) is gone: the reply still names them.
        quoted = Message(pk=message.reply_to_id, text=quoted_text) if quoted_text is not None else None
        sender = None
        if message.reply_to_sender_id is not None and quoted_username is not None:
            sender = User(pk=message.reply_to_sender_id, name=quoted_name, username=quoted_username)
        Message._meta.get_field("reply_to").set_cached_value(message, quoted)
        Message._meta.get_field("reply_to_sender").set_cached_value(message, sender)
    return ForWriter(message=message, read_only=bool(read_only), has_attachments=bool(files))


def store_edit(*, message_id: int, text: str, edited_at: dt.datetime) -> bool:
    """The new text; False when the message is gone (a deletion committed meanwhile)."""
    table = rows.table(Message)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET text = %s, edited_at = %s WHERE id = %s",  # noqa: S608 (our table)
            [text, connection.ops.adapt_datetimefield_value(edited_at), message_id],
        )
        return cursor.rowcount > 0


def store_reaction(*, message_id: int, user_id: int, emoji: str, added: bool, reactions: list[dict[str, Any]]) -> None:
    """The user's reaction row added or taken away, and the message's summary rewritten; under
    the message's lock (`message_row(lock=True)`), which the summary was read under."""
    reaction, message = rows.table(Reaction), rows.table(Message)
    summary = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        if added:
            cursor.execute(
                f"INSERT INTO {reaction} (message_id, user_id, emoji, created_at) VALUES (%s, %s, %s, %s)"  # noqa: S608
                " ON CONFLICT DO NOTHING",
                [message_id, user_id, emoji, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
        else:
            cursor.execute(
                f"DELETE FROM {reaction} WHERE message_id = %s AND user_id = %s AND emoji = %s",  # noqa: S608
                [message_id, user_id, emoji],
            )
        cursor.execute(
            f"UPDATE {message} SET reaction_summary = {summary} WHERE id = %s",  # noqa: S608
            [json.dumps(reactions), message_id],
        )
