"""The reads and writes of an edit and a reaction in plain SQL, portable between PostgreSQL and
SQLite: one statement reads the message for a member with everything the service decides on.

An edit or a reaction toggle used to cost six or seven ORM queries (the message for the member
with its sender and quote, the read-only rule, the lock, the reaction row, the summary), and
compiling them was most of it: with edits and reactions in the benchmark's mix
`message_for_member` alone held the GIL 24 % of the time and an edit or a reaction cost
about 3.5 ms of a server's CPU against 1.3 ms for a send (docs/performance.md).

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
from django.utils.dateparse import parse_datetime

from accounts.models import User
from chats.attachments import Attachment
from chats.models import ChatRoom, Message, Participant, Reaction
from chatty.errors import NotFound
from friends.models import Friendship


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A message as a member sees it, with what an edit or a toggle needs to decide."""

    pk: int
    room_id: int
    sender_id: int
    text: str
    created_at: dt.datetime
    edited_at: dt.datetime | None
    reply_to_id: int | None
    reply_to_sender_id: int | None
    reactions: list[dict[str, Any]]
    read_only: bool  # a direct room whose two people are no longer friends
    has_attachments: bool
    quoted_text: str | None  # None: no quote, or the quoted message is gone
    quoted_sender_name: str | None
    quoted_sender_username: str | None


def _when(value: Any) -> dt.datetime | None:
    """A datetime column as the ORM would give it (SQLite's driver returns text)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = parse_datetime(value)
    return timezone.make_aware(parsed, dt.UTC) if parsed is not None and timezone.is_naive(parsed) else parsed


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _select(*, with_room: bool, lock: bool) -> str:
    q = connection.ops.quote_name
    message, member, room = q(Message._meta.db_table), q(Participant._meta.db_table), q(ChatRoom._meta.db_table)
    user, friendship = q(User._meta.db_table), q(Friendship._meta.db_table)
    attachment = q(Attachment._meta.db_table)
    in_room = " AND m.room_id = %(room)s" if with_room else ""
    locked = " FOR UPDATE OF m" if lock and connection.features.has_select_for_update_of else ""
    return (
        "SELECT m.id, m.room_id, m.sender_id, m.text, m.created_at, m.edited_at, m.reply_to_id,"  # noqa: S608
        " m.reply_to_sender_id, m.reaction_summary,"
        f" CASE WHEN r.kind = %(direct)s AND EXISTS (SELECT 1 FROM {member} o"
        "   WHERE o.room_id = m.room_id AND o.user_id <> %(user)s AND NOT EXISTS ("
        f"     SELECT 1 FROM {friendship} f WHERE f.user_id = %(user)s AND f.friend_id = o.user_id))"
        "  THEN 1 ELSE 0 END,"
        f" EXISTS (SELECT 1 FROM {attachment} a WHERE a.message_id = m.id),"
        " q.text, s.name, s.username"
        f" FROM {message} m"
        f" JOIN {member} p ON p.room_id = m.room_id AND p.user_id = %(user)s"
        f" JOIN {room} r ON r.id = m.room_id"
        f" LEFT JOIN {message} q ON q.id = m.reply_to_id"
        f" LEFT JOIN {user} s ON s.id = m.reply_to_sender_id"
        f" WHERE m.id = %(message)s{in_room}{locked}"
    )


_SELECTS: dict[tuple[str, bool, bool], str] = {}


def message_row(*, user_id: int, message_id: int, room_id: int | None = None, lock: bool = False) -> MessageRow:
    """The message, if the user takes part in its room (and it is in `room_id` when given);
    NotFound otherwise, as `selectors.message_for_member`. `lock`: its row locked for the
    caller's transaction (PostgreSQL; SQLite writes one at a time anyway)."""
    key = (connection.vendor, room_id is not None, lock)
    statement = _SELECTS.get(key)
    if statement is None:
        statement = _SELECTS[key] = _select(with_room=room_id is not None, lock=lock)
    params = {"user": user_id, "message": message_id, "room": room_id, "direct": ChatRoom.DIRECT}
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    if row is None:
        raise NotFound("No such message.")
    (pk, room, sender, text, created, edited, reply_to, reply_sender, reactions, read_only, files) = row[:11]
    quoted_text, quoted_name, quoted_username = row[11:]
    return MessageRow(
        pk=pk,
        room_id=room,
        sender_id=sender,
        text=text,
        created_at=_when(created),
        edited_at=_when(edited),
        reply_to_id=reply_to,
        reply_to_sender_id=reply_sender,
        reactions=_json(reactions) or [],
        read_only=bool(read_only),
        has_attachments=bool(files),
        quoted_text=quoted_text,
        quoted_sender_name=quoted_name,
        quoted_sender_username=quoted_username,
    )


def as_message(row: MessageRow, *, sender: User | None = None) -> Message:
    """The row as a Message with its quote in place and `sender` (who must be its sender) as
    its sender, as `message_payload` reads it (no query); without `sender`, only its id."""
    message = Message(
        pk=row.pk,
        room_id=row.room_id,
        sender_id=row.sender_id,
        text=row.text,
        created_at=row.created_at,
        edited_at=row.edited_at,
        reply_to_id=row.reply_to_id,
        reply_to_sender_id=row.reply_to_sender_id,
        reaction_summary=row.reactions,
    )
    message._state.adding = False
    message._state.db = connection.alias
    if sender is not None:
        Message._meta.get_field("sender").set_cached_value(message, sender)
    if row.reply_to_id is not None:
        quoted = None
        if row.quoted_text is not None:
            quoted = Message(pk=row.reply_to_id, text=row.quoted_text)
        quoted_sender = None
        if row.reply_to_sender_id is not None and row.quoted_sender_username is not None:
            quoted_sender = User(
                pk=row.reply_to_sender_id, name=row.quoted_sender_name, username=row.quoted_sender_username
            )
        Message._meta.get_field("reply_to").set_cached_value(message, quoted)
        Message._meta.get_field("reply_to_sender").set_cached_value(message, quoted_sender)
    return message


def store_edit(*, message_id: int, text: str, edited_at: dt.datetime) -> bool:
    """The new text; False when the message is gone (a deletion committed meanwhile)."""
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET text = %s, edited_at = %s WHERE id = %s",  # noqa: S608 (our table)
            [text, connection.ops.adapt_datetimefield_value(edited_at), message_id],
        )
        return cursor.rowcount > 0


def store_reaction(*, message_id: int, user_id: int, emoji: str, added: bool, reactions: list[dict[str, Any]]) -> None:
    """The user's reaction row added or taken away, and the message's summary rewritten; under
    the message's lock (`message_row(lock=True)`), which the summary was read under."""
    q = connection.ops.quote_name
    reaction, message = q(Reaction._meta.db_table), q(Message._meta.db_table)
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
