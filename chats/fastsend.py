"""The common send on PostgreSQL in one round trip: a message without a reply or attachments.

`message_send` (chats/services.py) takes this path when it can. Lock the room's row (for the
sender, a participant; a direct room only while its two people are friends), insert the
message, move the room's newest message forward and count the new message for everyone: the
same steps as the portable path, sent as one query string of four statements (BEGIN; the
lock; the rest as data-modifying CTEs; COMMIT), so a send is one round trip instead of six.
Each round trip of a database thread also waits for the GIL that a busy event loop holds
(TRAPS: the switch interval), so the trips, not the SQL, were the cost (docs/performance.md).

Concurrent sends go together (`send_many`, fed by chats/sendbatch.py): one string of all
their statements, one transaction, one commit and one flush of the write-ahead log for all,
one hand-over to a database thread. The rooms are locked in the order of their ids.

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
import functools
import re
from dataclasses import dataclass

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


def _body() -> str:
    """One send's two statements: the room's lock, then the rest."""
    q = connection.ops.quote_name
    room, member = q(ChatRoom._meta.db_table), q(Participant._meta.db_table)
    message, friendship = q(Message._meta.db_table), q(Friendship._meta.db_table)
    return f"""
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
    """  # noqa: S608 (our tables; every value is a parameter)


_PARAM = re.compile(r"%\((\w+)\)s")


@functools.cache
def _body_for(index: int) -> str:
    """The body with its parameters named for the index-th send of a batch (`room_3` ...)."""
    return _PARAM.sub(lambda m: f"%({m.group(1)}_{index})s", _body())


@dataclass(frozen=True, slots=True)
class Plain:
    """A plain send, its text and clientId already cleaned."""

    room_id: int
    sender: User
    text: str
    client_id: str | None
    reader_ids: frozenset[int]


Sent = tuple[Message, int | None, list[tuple[int, int]]]


def send_many(items: list[Plain]) -> list[Sent | None]:
    """Plain sends in one transaction and one round trip (group commit: one flush of the
    write-ahead log for all of them). For each: (message, the room's newest id before it,
    [(user id, unread count)]), stored and committed; or None when its sender may not send
    there (not a participant, the room is gone, a direct room of people no longer friends):
    the portable path then says which. The rooms are locked in the order of their ids,
    whatever the order of the sends (two batches never wait for each other's rooms in a
    circle); sends to one room keep their order. Any error rolls back the whole batch and is
    raised: IntegrityError for a clientId a sender used before (chats/sendbatch.py then sends
    each on its own, and message_send answers the repeat), or the database's own."""
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    order = sorted(range(len(items)), key=lambda i: items[i].room_id)
    params: dict[str, object] = {}
    parts = ["BEGIN;"]
    for position, i in enumerate(order):
        item = items[i]
        parts.append(_body_for(position))
        params.update(
            {
                f"room_{position}": item.room_id,
                f"sender_{position}": item.sender.pk,
                f"group_{position}": ChatRoom.GROUP,
                f"text_{position}": item.text,
                f"now_{position}": stamp,
                f"client_{position}": item.client_id,
                # An array literal: psycopg's list dumper, run for every send, cost more than the SQL.
                f"readers_{position}": "{" + ",".join(str(int(r)) for r in sorted(item.reader_ids)) + "}",
            }
        )
    parts.append("COMMIT")
    results: list[Sent | None] = [None] * len(items)
    with connection.cursor() as cursor:
        try:
            cursor.execute("".join(parts), params)
            for i in order:
                cursor.nextset()  # the lock's rows
                cursor.nextset()  # the send's rows
                rows = cursor.fetchall()
                if rows:
                    results[i] = _sent(items[i], now, rows)
        except Exception:
            # The string's transaction stays open and failed (a repeated clientId, a lost
            # connection): end it, so that the connection is usable again.
            with contextlib.suppress(Exception):
                cursor.execute("ROLLBACK")
            raise
    return results


def _sent(item: Plain, now: object, rows: list[tuple]) -> Sent:
    message_id, previous_id = rows[0][0], rows[0][1]
    message = Message(
        pk=message_id,
        room_id=item.room_id,
        sender=item.sender,
        text=item.text,
        created_at=now,
        client_id=item.client_id,
    )
    message._state.adding = False
    message._state.db = connection.alias
    return message, previous_id, [(user_id, unread) for _m, _p, user_id, unread in rows]
