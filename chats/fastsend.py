"""The common send on PostgreSQL in one round trip: a message without a reply or attachments.

`message_send` (chats/services.py) takes this path when it can. Lock the room's row (for the
sender, a participant; a direct room only while its two people are friends), insert the
message, move the room's newest message forward and count the new message for everyone: the
same steps as the portable path, sent as one query string of four statements (BEGIN; the
lock; the rest as data-modifying CTEs; COMMIT), so a send is one round trip instead of six.
Each round trip of a database thread also waits for the GIL that a busy event loop holds
(TRAPS: the switch interval), so the trips, not the SQL, were the cost (docs/performance.md).

The lock is a statement of its own: PostgreSQL gives each statement of the string its own
snapshot, taken when it starts, so the counting statement sees every participant committed
while the send waited for the lock (members added meanwhile get their unread count). The
order of sends in a room is kept as before: the message's id is drawn under the lock, and the
room's previous newest id is read under it.

Who may write and how the new message is counted are the rules of chats/rules.py
(`_direct_stranger`) and chats/services.py (`_count_the_new_message`), written again here in
SQL: change them together (tests/chats/test_fastsend.py runs both paths).
"""

from __future__ import annotations

import contextlib

from django.db import connection
from django.utils import timezone

from accounts.models import User
from chats.models import ChatRoom, Message, Participant
from friends.models import Friendship


def usable(*, reply_to_id: int | None, attachment_ids: list[int]) -> bool:
    """This path stores plain sends on PostgreSQL outside a caller's transaction."""
    return (
        connection.vendor == "postgresql"
        and reply_to_id is None
        and not attachment_ids
        and not connection.in_atomic_block
    )


def _statement() -> str:
    q = connection.ops.quote_name
    room, member = q(ChatRoom._meta.db_table), q(Participant._meta.db_table)
    message, friendship = q(Message._meta.db_table), q(Friendship._meta.db_table)
    return f"""
    BEGIN;
    SELECT id FROM {room} WHERE id = %(room)s FOR UPDATE;
    WITH r AS (
        SELECT r.id, r.last_message_id FROM {room} r JOIN {member} p ON p.room_id = r.id
        WHERE r.id = %(room)s AND p.user_id = %(sender)s
          AND (r.kind = %(group)s OR NOT EXISTS (
              SELECT 1 FROM {member} o WHERE o.room_id = r.id AND o.user_id <> %(sender)s
                AND NOT EXISTS (
                    SELECT 1 FROM {friendship} f WHERE f.user_id = %(sender)s AND f.friend_id = o.user_id)))
        FOR UPDATE OF r
    ), m AS (
        INSERT INTO {message} (room_id, sender_id, text, created_at, client_id, reply_to_id, reply_to_sender_id)
        SELECT r.id, %(sender)s, %(text)s, %(now)s, %(client)s, NULL, NULL FROM r
        RETURNING id
    ), a AS (
        UPDATE {room} SET last_message_id = m.id, last_activity_at = %(now)s FROM m
        WHERE {room}.id = %(room)s AND ({room}.last_message_id IS NULL OR {room}.last_message_id < m.id)
    ), c AS (
        UPDATE {member} p SET
            last_read_id = CASE WHEN p.user_id = ANY(%(readers)s::bigint[]) AND p.last_read_id < m.id
                                THEN m.id ELSE p.last_read_id END,
            unread_count = CASE WHEN p.user_id = ANY(%(readers)s::bigint[]) THEN 0 ELSE p.unread_count + 1 END
        FROM m WHERE p.room_id = %(room)s
        RETURNING p.user_id, p.unread_count
    )
    SELECT (SELECT id FROM m), (SELECT last_message_id FROM r), c.user_id, c.unread_count FROM c;
    COMMIT
    """  # noqa: S608 (our tables; every value is a parameter)


_STATEMENT: str | None = None


def send(
    *, room_id: int, sender: User, text: str, client_id: str | None, reader_ids: set[int]
) -> tuple[Message, int | None, list[tuple[int, int]]] | None:
    """(message, the room's newest id before it, [(user id, unread count)]), stored and
    committed; None when the sender may not send here (not a participant, the room is gone,
    a direct room of people no longer friends): the portable path then says which.
    IntegrityError for a clientId the sender used before, as the portable path."""
    global _STATEMENT
    if _STATEMENT is None:
        _STATEMENT = _statement()
    now = timezone.now()
    params = {
        "room": room_id,
        "sender": sender.pk,
        "group": ChatRoom.GROUP,
        "text": text,
        "now": connection.ops.adapt_datetimefield_value(now),
        "client": client_id,
        # An array literal: psycopg's list dumper, run for every send, cost more than the SQL.
        "readers": "{" + ",".join(str(int(i)) for i in sorted(reader_ids)) + "}",
    }
    with connection.cursor() as cursor:
        try:
            cursor.execute(_STATEMENT, params)
        except Exception:
            # The string's transaction stays open and failed (a repeated clientId, a lost
            # connection): end it, so that the connection is usable again.
            with contextlib.suppress(Exception):
                cursor.execute("ROLLBACK")
            raise
        cursor.nextset()  # past BEGIN: the lock's rows
        cursor.nextset()  # the send's rows
        rows = cursor.fetchall()
    if not rows:
        return None
    message_id, previous_id = rows[0][0], rows[0][1]
    message = Message(pk=message_id, room_id=room_id, sender=sender, text=text, created_at=now, client_id=client_id)
    message._state.adding = False
    message._state.db = connection.alias
    return message, previous_id, [(user_id, unread) for _m, _p, user_id, unread in rows]
