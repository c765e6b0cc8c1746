"""Writes about rooms and messages, and the events they cause (published after commit)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, IntegerField, Max, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from chats import fastsend, message_rows
from chats.inputs import clean_client_id, clean_emoji, clean_text, clean_title, parse_ids
from chats.models import MAX_REACTIONS_PER_MESSAGE, ChatRoom, Message, Participant
from chats.rules import READ_ONLY, ensure_writable
from chats.selectors import (
    MESSAGE_RELATED,
    message_for_member,
    message_payload,
    room_and_position,
    room_for_member,
    room_summaries,
    room_summary,
)
from chats.uploads import attach_to_message, parse_attachment_ids
from chatty.errors import Forbidden, Invalid, NotFound, NotParticipant, parse_id
from chatty.live import room_viewer_ids
from chatty.realtime import members_group, publish_on_commit, room_group, user_group
from friends.models import Friendship


def _parse_ids(raw: Any) -> list[int]:
    return parse_ids(raw, "friendIds")


def _announce_room(room: ChatRoom, creator: User, members: Iterable[User]) -> None:
    for member in members:
        if member.pk == creator.pk:
            continue
        summary = room_summary(room_id=room.pk, user=member)
        publish_on_commit(user_group(member.pk), {"type": "chat.added", "chatroom": summary})
    # The creator's open sockets (other tabs too) follow the new room's lastMessage from now on.
    publish_on_commit(user_group(creator.pk), {"type": "chat.created", "room_id": room.pk})


def room_create(*, creator: User, friend_ids: Any) -> tuple[ChatRoom, bool]:
    """One friend: the direct room (new or existing). Several: a new group. All must be friends."""
    ids = _parse_ids(friend_ids)
    if creator.pk in ids:
        raise Invalid("friendIds must not include yourself.")
    friends = list(
        User.objects.filter(
            pk__in=Friendship.objects.filter(user=creator, friend_id__in=ids).values("friend_id"),
            is_active=True,
        )
    )
    if len(friends) != len(ids):
        raise Invalid("Every id in friendIds must be one of your friends.")
    if len(friends) == 1:
        return room_create_direct(creator=creator, friend=friends[0])
    return room_create_group(creator=creator, friends=friends), True


def room_create_direct(*, creator: User, friend: User) -> tuple[ChatRoom, bool]:
    """The one direct room of a pair; two concurrent calls get the same room."""
    low, high = sorted((creator.pk, friend.pk))
    key = f"{low}:{high}"
    existing = ChatRoom.objects.filter(direct_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            room = ChatRoom.objects.create(kind=ChatRoom.DIRECT, direct_key=key, created_by=creator)
            Participant.objects.bulk_create([Participant(room=room, user=creator), Participant(room=room, user=friend)])
            _announce_room(room, creator, [friend])
    except IntegrityError:
        # Someone created it between our look and our insert: the database kept one.
        return ChatRoom.objects.get(direct_key=key), False
    return room, True


def room_create_group(*, creator: User, friends: list[User]) -> ChatRoom:
    with transaction.atomic():
        room = ChatRoom.objects.create(kind=ChatRoom.GROUP, created_by=creator)
        Participant.objects.bulk_create(
            [Participant(room=room, user=creator)] + [Participant(room=room, user=f) for f in friends]
        )
        _announce_room(room, creator, friends)
    return room


def _count_the_new_message(*, room_id: int, message_id: int, reader_ids: set[int]) -> list[tuple[int, int]]:
    """The room's participants after a new message: readers (its sender, whoever has the
    room open) have read it, everyone else has one more unread. [(user id, unread count)].

    chats/fastsend.py counts the same way in SQL of its own: change both. One statement
    whatever the room's history: the counts are kept, not counted. Called under
    the room's lock with the newest id; the CASE on last_read_id still keeps the rule that a
    read position never moves back.
    """
    table = connection.ops.quote_name(Participant._meta.db_table)
    readers = sorted(reader_ids)
    marks = ", ".join(["%s"] * len(readers))
    # Portable between PostgreSQL and SQLite (3.35+ for RETURNING): CASE, not GREATEST.
    sql = (
        f"UPDATE {table} SET"  # noqa: S608 (our table; values are parameters)
        f" last_read_id = CASE WHEN user_id IN ({marks}) AND last_read_id < %s THEN %s ELSE last_read_id END,"
        f" unread_count = CASE WHEN user_id IN ({marks}) THEN 0 ELSE unread_count + 1 END"
        " WHERE room_id = %s RETURNING user_id, unread_count"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*readers, message_id, message_id, *readers, room_id])
        return [(user_id, unread) for user_id, unread in cursor.fetchall()]


_NOT_A_MEMBER = object()


def _sql(statement: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _lock_room_for_sender(*, room_id: int, sender_id: int) -> Any:
    """(The room's newest message id (None: no message yet), its kind), its row locked for
    this transaction; _NOT_A_MEMBER when the sender does not take part in it (or it is gone).
    These three statements are the hot path of every send: plain SQL, no ORM compiling."""
    room = connection.ops.quote_name(ChatRoom._meta.db_table)
    member = connection.ops.quote_name(Participant._meta.db_table)
    lock = " FOR UPDATE OF r" if connection.features.has_select_for_update_of else ""
    rows = _sql(
        f"SELECT r.last_message_id, r.kind FROM {room} r JOIN {member} p ON p.room_id = r.id"  # noqa: S608
        f" WHERE r.id = %s AND p.user_id = %s{lock}",
        [room_id, sender_id],
    )
    return (rows[0][0], rows[0][1]) if rows else _NOT_A_MEMBER


def _insert_message(
    *, room_id: int, sender: User, text: str, client_id: str | None, reply_to: Message | None = None
) -> Message:
    now = timezone.now()
    table = connection.ops.quote_name(Message._meta.db_table)
    reply_id = reply_to.pk if reply_to is not None else None
    reply_sender_id = reply_to.sender_id if reply_to is not None else None
    rows = _sql(
        f"INSERT INTO {table} (room_id, sender_id, text, created_at, client_id, reply_to_id, reply_to_sender_id)"  # noqa: S608
        " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        [room_id, sender.pk, text, connection.ops.adapt_datetimefield_value(now), client_id, reply_id, reply_sender_id],
    )
    message = Message(
        pk=rows[0][0],
        room_id=room_id,
        sender=sender,
        text=text,
        created_at=now,
        client_id=client_id,
        reply_to=reply_to,
        reply_to_sender=reply_to.sender if reply_to is not None else None,
    )
    message._state.adding = False
    message._state.db = connection.alias
    return message


def _advance_room(*, room_id: int, message: Message) -> None:
    """The room's newest message, only ever forward (a moderator's deletion may have moved it
    back meanwhile)."""
    table = connection.ops.quote_name(ChatRoom._meta.db_table)
    _sql(
        f"UPDATE {table} SET last_message_id = %s, last_activity_at = %s"  # noqa: S608
        " WHERE id = %s AND (last_message_id IS NULL OR last_message_id < %s)",
        [message.pk, connection.ops.adapt_datetimefield_value(message.created_at), room_id, message.pk],
    )


def _quoted(*, user_id: int, room_id: int, reply_to_id: int) -> Message:
    """The message a reply quotes: one query (with its sender); it must be of the same room."""
    quoted = Message.objects.select_related("sender").filter(pk=reply_to_id).first()
    if quoted is None or quoted.room_id != room_id:
        if quoted is not None and Participant.objects.filter(room_id=quoted.room_id, user_id=user_id).exists():
            raise Invalid("replyToId must be a message of the same chat.")
        raise NotFound("No such message to reply to.")
    return quoted


def _publish_new_message(
    *, room_id: int, payload: dict[str, Any], previous_id: int | None, counts: list[tuple[int, int]]
) -> None:
    """One event to the room's members: the sockets joined to the room take the message from
    it, every socket of every participant the room's lastMessage with its own unread count
    (edge/hub.py). One publish per send, not one per group: each costs a Redis round trip
    here and a decode in every process."""
    publish_on_commit(
        members_group(room_id),
        {
            "type": "chat.message",
            "message": payload,
            "previous_id": previous_id or 0,
            "unread": {str(k): v for k, v in counts},
        },
    )


def message_send(
    *,
    sender: User,
    room_id: int,
    text: Any,
    client_id: Any = None,
    viewer_ids: Iterable[int] | None = None,
    reply_to_id: int | None = None,
    attachment_ids: Any = None,
) -> tuple[Message, bool]:
    """Store a message, then tell the room. Returns (message, created).

    A `client_id` the sender used before returns the first message and stores nothing.
    After commit: `chat.message` (with every participant's own unread count) to the members
    of the room, for its live stream and everyone's chat list. `viewer_ids`, the users who
    have the room open (they have read the message), is looked up when not given.
    `reply_to_id`: the message of the same room it quotes (one more query).
    """
    attachment_ids = parse_attachment_ids(attachment_ids)  # files: uploads of the sender, not yet sent
    text = clean_text(text, allow_empty=bool(attachment_ids))
    client_id = clean_client_id(client_id)
    reply_to = None if reply_to_id is None else _quoted(user_id=sender.pk, room_id=room_id, reply_to_id=reply_to_id)
    viewers = room_viewer_ids(room_id) if viewer_ids is None else viewer_ids
    try:
        if fastsend.usable(reply_to_id=reply_to_id, attachment_ids=attachment_ids):
            readers = frozenset({sender.pk, *viewers})
            [sent] = messages_send_plain(items=[fastsend.Plain(room_id, sender, text, client_id, readers)])
            if sent is not None:  # else the portable path below says why the sender may not
                return sent
        with transaction.atomic():
            # One send at a time per room (the room row's lock; SQLite's write lock): ids are
            # handed out in commit order, and each event names the message before it, so a
            # socket that sees a gap (events of two processes crossing) fetches what it missed.
            # The same query checks that the sender takes part in the room.
            locked = _lock_room_for_sender(room_id=room_id, sender_id=sender.pk)
            if locked is _NOT_A_MEMBER:
                room_for_member(user_id=sender.pk, room_id=room_id)  # raises NotFound / NotParticipant
                raise NotParticipant()
            previous_id, kind = locked
            # A direct room of ex-friends is read-only (a group costs no query for it).
            ensure_writable(room_id=room_id, user_id=sender.pk, kind=kind)
            # A repeated clientId fails here on the unique constraint (sender, client_id).
            message = _insert_message(room_id=room_id, sender=sender, text=text, client_id=client_id, reply_to=reply_to)
            _advance_room(room_id=room_id, message=message)
            counts = _count_the_new_message(room_id=room_id, message_id=message.pk, reader_ids={sender.pk, *viewers})
            # Invalid (the message goes back with it) unless each is the sender's unsent upload.
            attach_to_message(message_id=message.pk, uploader_id=sender.pk, attachment_ids=attachment_ids)
            # No query without attachments: nothing reacted to it yet.
            payload = message_payload(message, fresh=not attachment_ids)
            _publish_new_message(room_id=room_id, payload=payload, previous_id=previous_id, counts=counts)
    except IntegrityError:
        if client_id is None:
            raise
        # The sender used this clientId before (a retry, or a race from another connection).
        return Message.objects.select_related(*MESSAGE_RELATED).get(sender=sender, client_id=client_id), False
    return message, True


def messages_send_plain(*, items: list[fastsend.Plain]) -> list[tuple[Message, bool] | None]:
    """Plain sends on PostgreSQL outside a transaction, several in one transaction and one
    round trip (chats/fastsend.py `send_many`, chats/sendbatch.py), each told to its room as
    `message_send` tells it. None for a send refused here: `message_send` then says why.
    Any error (a repeated clientId) stores none of them: send each with `message_send`."""
    results: list[tuple[Message, bool] | None] = []
    for sent in fastsend.send_many(items):
        if sent is None:
            results.append(None)
            continue
        message, previous_id, counts = sent
        payload = message_payload(message, fresh=True)
        _publish_new_message(room_id=message.room_id, payload=payload, previous_id=previous_id, counts=counts)
        results.append((message, True))
    return results


def _position_moved(*, user_id: int, room_id: int, before: int, after: int) -> int:
    """After a read position moved: the user's tabs get its unread count; when it moved
    forward, the other participants learn how far the user read (read receipts). Returns
    the count (one query)."""
    unread = Participant.objects.filter(room_id=room_id, user_id=user_id).values_list("unread_count", flat=True).first()
    unread = unread or 0
    publish_on_commit(user_group(user_id), {"type": "chat.unread", "room_id": room_id, "unread": unread})
    if after > before:
        publish_on_commit(
            members_group(room_id),
            {"type": "chat.read_by", "room_id": room_id, "user_id": user_id, "message_id": after},
        )
    return unread


def read_mark(
    *, user: User, room_id: int, message_id: Any = None, room: ChatRoom | None = None, position: int | None = None
) -> int:
    """Move the user's read position forward to `message_id` (default: the newest message).

    When it moves: `chat.unread` to the user's group, `chat.read_by` to the room's members.
    `room` and `position`: the room and the user's read position as the caller has just read
    them (a join, with room_and_position), which saves those queries here.
    """
    if room is None or position is None or room.pk != room_id:
        room, position = room_and_position(user_id=user.pk, room_id=room_id)
    asked = None if message_id is None else parse_id(message_id, "messageId", minimum=0)
    if asked is None and position >= (room.last_message_id or 0):
        # Nothing to move (a join or a leave of a room read already): no row lock, no commit
        # to wait for. A send that came meanwhile was counted as read or unread by itself.
        return room.last_message_id or 0
    with transaction.atomic():
        # The row's lock first, the count in a later statement: a send that changed the row
        # meanwhile has committed by then, so its message is in the count (PostgreSQL would
        # otherwise recheck a locked row but count with the snapshot from before the wait).
        position = list(
            Participant.objects.select_for_update()
            .filter(room_id=room.pk, user=user)
            .values_list("last_read_id", flat=True)
        )
        if asked is None:  # the newest when the reader asked (not one that came meanwhile)
            target = room.last_message_id or 0
        else:  # an id past the newest reads up to the newest as of now, under the lock
            latest = ChatRoom.objects.filter(pk=room.pk).values_list("last_message_id", flat=True).first()
            target = min(asked, latest or 0)
        if position and position[0] < target:
            Participant.objects.filter(room_id=room.pk, user=user).update(
                last_read_id=target, unread_count=_unread_after(target)
            )
            _position_moved(user_id=user.pk, room_id=room.pk, before=position[0], after=target)
        elif position and asked is not None and target and position[0] == target:
            # A page confirms it showed the message its socket was counted as reading when it
            # arrived (a send moves its viewers' positions silently): the others learn now.
            publish_on_commit(
                members_group(room.pk),
                {"type": "chat.read_by", "room_id": room.pk, "user_id": user.pk, "message_id": target},
            )
    return target


def mark_unread(*, user: User, room_id: int, message_id: int) -> int:
    """The one way back: the read position moves to just before `message_id` (a message of
    the room), and the unread count is counted again. Returns the new count."""
    room = room_for_member(user_id=user.pk, room_id=room_id)
    if not Message.objects.filter(pk=message_id, room_id=room.pk).exists():
        raise NotFound("No such message in this chat.")
    with transaction.atomic():
        position = list(
            Participant.objects.select_for_update()
            .filter(room_id=room.pk, user=user)
            .values_list("last_read_id", flat=True)
        )
        if not position:
            raise NotParticipant()
        before = Message.objects.filter(room_id=room.pk, id__lt=message_id).aggregate(m=Max("id"))["m"] or 0
        Participant.objects.filter(room_id=room.pk, user=user).update(
            last_read_id=before, unread_count=_unread_after(before)
        )
        return _position_moved(user_id=user.pk, room_id=room.pk, before=position[0], after=before)


def _unread_after(position: int) -> Coalesce:
    """For a Participant row: messages of its room after `position` that others sent."""
    counted = (
        Message.objects.filter(room_id=OuterRef("room_id"), id__gt=position)
        .exclude(sender_id=OuterRef("user_id"))
        .order_by()
        .values("room_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def message_delete(*, message: Message) -> None:
    """Remove a message (its sender's wish or a moderator's); live clients take it off their
    screens. After commit: `chat.message_deleted` with the room's newest message now."""
    room_id, message_id, sender_id = message.room_id, message.pk, message.sender_id
    with transaction.atomic():
        # The room's lock, as a send takes it, so both change participants in the same order.
        list(ChatRoom.objects.select_for_update().filter(pk=room_id).values_list("pk", flat=True))
        _, deleted = Message.objects.filter(pk=message_id).delete()
        room = ChatRoom.objects.filter(pk=room_id).first()
        newest_id = room.last_message_id if room is not None else None
        if room is not None and room.last_message_id is None:
            newest = Message.objects.filter(room_id=room_id).order_by("-id").first()
            ChatRoom.objects.filter(pk=room_id).update(last_message=newest)
            newest_id = newest.pk if newest is not None else None
        if deleted.get(Message._meta.label, 0):
            # It was unread to whoever had not read that far, unless they sent it.
            had_it_unread = Participant.objects.filter(room_id=room_id, last_read_id__lt=message_id, unread_count__gt=0)
            had_it_unread.exclude(user_id=sender_id).update(unread_count=F("unread_count") - 1)
        last = None
        if newest_id is not None:
            newest_message = Message.objects.select_related(*MESSAGE_RELATED).filter(pk=newest_id).first()
            last = message_payload(newest_message) if newest_message is not None else None
        publish_on_commit(
            members_group(room_id),
            {"type": "chat.message_deleted", "room_id": room_id, "message_id": message_id, "last_message": last},
        )


def message_remove(*, user: User, message_id: int, room_id: int | None = None) -> int:
    """A participant deletes their own message (staff may delete anyone's, as in the admin).
    NotFound for a message the user cannot see, Forbidden for someone else's."""
    message = message_for_member(user_id=user.pk, message_id=message_id, room_id=room_id)
    if message.sender_id != user.pk and not user.is_staff:
        raise Forbidden("You can only delete your own messages.")
    message_delete(message=message)
    return message_id


def message_edit(*, user: User, message_id: int, text: str, room_id: int | None = None) -> Message:
    """Change the text of one's own message and mark it edited. After commit:
    `chat.message_edited` {"room_id", "message": <message>} to the room's members.
    Two statements in plain SQL (chats/message_rows.py); its files are read only if it has any."""
    text = clean_text(text)
    with transaction.atomic():
        row = message_rows.message_row(user_id=user.pk, message_id=message_id, room_id=room_id)
        message = row.message
        if message.sender_id != user.pk:
            raise Forbidden("You can only edit your own messages.")
        if row.read_only:
            raise Forbidden(READ_ONLY)
        edited_at = timezone.now()
        # An update by id: a deletion that committed meanwhile is a 404, not a crash.
        if not message_rows.store_edit(message_id=message.pk, text=text, edited_at=edited_at):
            raise NotFound("No such message.")
        message.sender = user  # its sender, as loaded just now
        message.text, message.edited_at = text, edited_at
        payload = message_payload(message, fresh=not row.has_attachments)
        publish_on_commit(
            members_group(message.room_id),
            {"type": "chat.message_edited", "room_id": message.room_id, "message": payload},
        )
    return message


def _toggled(current: list[dict[str, Any]], *, emoji: str, user_id: str) -> list[dict[str, Any]]:
    """The reaction list after one toggle: an emoji keeps its place while anyone still uses
    it (chips do not jump when someone takes theirs back); a new one goes last."""
    reactions = [{"emoji": r["emoji"], "userIds": list(r["userIds"])} for r in current]
    entry = next((r for r in reactions if r["emoji"] == emoji), None)
    if entry is None:
        if len(reactions) >= MAX_REACTIONS_PER_MESSAGE:
            raise Invalid(f"A message holds at most {MAX_REACTIONS_PER_MESSAGE} different emoji.")
        return [*reactions, {"emoji": emoji, "userIds": [user_id]}]
    if user_id in entry["userIds"]:
        entry["userIds"].remove(user_id)
    else:
        entry["userIds"].append(user_id)
    return [r for r in reactions if r["userIds"]]


def reaction_toggle(
    *, user: User, message_id: int, emoji: str, room_id: int | None = None
) -> tuple[Message, list[dict[str, Any]]]:
    """Add this user's `emoji` to a message, or take it back. Returns (message, its reactions).
    After commit: `chat.reactions_changed` {"room_id", "message_id", "reactions"} to the
    room's live stream. Plain SQL (chats/message_rows.py): the read under the message's lock
    (two toggles of one message at once change its list in turn), the row, the summary."""
    emoji = clean_emoji(emoji)
    with transaction.atomic():
        row = message_rows.message_row(user_id=user.pk, message_id=message_id, room_id=room_id, lock=True)
        if row.read_only:
            raise Forbidden(READ_ONLY)
        message, me = row.message, str(user.pk)
        current = message.reaction_summary or []
        had = any(r["emoji"] == emoji and me in r["userIds"] for r in current)
        reactions = _toggled(current, emoji=emoji, user_id=me)
        message_rows.store_reaction(
            message_id=message.pk, user_id=user.pk, emoji=emoji, added=not had, reactions=reactions
        )
        publish_on_commit(
            room_group(message.room_id),
            {
                "type": "chat.reactions_changed",
                "room_id": message.room_id,
                "message_id": message.pk,
                "reactions": reactions,
            },
        )
    message.reaction_summary = reactions
    return message, reactions


def room_mute(*, user: User, room_id: int, muted: bool) -> bool:
    """Mute or unmute a room for this user. After commit: `chat.updated` (the user's own
    summary) to the user's group, so their other tabs grey the badge too."""
    room = room_for_member(user_id=user.pk, room_id=room_id)
    with transaction.atomic():
        Participant.objects.filter(room=room, user=user).update(muted=muted)
        summary = room_summary(room_id=room.pk, user=user)
        publish_on_commit(user_group(user.pk), {"type": "chat.updated", "chatroom": summary})
    return muted


def _group_of(*, user: User, room_id: int) -> ChatRoom:
    """The group, locked for this transaction; Invalid for a direct room."""
    room = room_for_member(user_id=user.pk, room_id=room_id)
    if room.kind != ChatRoom.GROUP:
        raise Invalid("Only a group chat can do that.")
    list(ChatRoom.objects.select_for_update().filter(pk=room.pk).values_list("pk", flat=True))
    return room


def _announce_update(*, summaries: dict[int, dict[str, Any]], skip: Iterable[int] = ()) -> None:
    """`chat.updated` to each participant's group, with their own summary."""
    skipped = set(skip)
    for user_id, summary in summaries.items():
        if user_id not in skipped:
            publish_on_commit(user_group(user_id), {"type": "chat.updated", "chatroom": summary})


def room_rename(*, user: User, room_id: int, title: str) -> dict[str, Any]:
    """Name a group (up to 100 characters; "" goes back to the members' names). Returns the
    caller's summary. After commit: `chat.updated` to every participant, each their own."""
    title = clean_title(title)
    with transaction.atomic():
        room = _group_of(user=user, room_id=room_id)
        ChatRoom.objects.filter(pk=room.pk).update(title=title)
        summaries = room_summaries(room_id=room.pk)
        _announce_update(summaries=summaries)
    return summaries[user.pk]


def room_add_members(*, user: User, room_id: int, friend_ids: list[int]) -> dict[str, Any]:
    """Add friends of the caller, not yet in, to a group. Returns the caller's summary.
    After commit: `chat.added` to each new member, `chat.updated` to everyone else."""
    if not friend_ids:
        raise Invalid("friendIds must be a non-empty list of ids.")
    with transaction.atomic():
        room = _group_of(user=user, room_id=room_id)
        present = set(Participant.objects.filter(room=room).values_list("user_id", flat=True))
        if present.intersection(friend_ids):
            raise Invalid("Someone in friendIds is in this chat already.")
        friends = list(
            User.objects.filter(
                pk__in=Friendship.objects.filter(user=user, friend_id__in=friend_ids).values("friend_id"),
                is_active=True,
            )
        )
        if len(friends) != len(set(friend_ids)):
            raise Invalid("Every id in friendIds must be one of your friends.")
        # Newcomers see the history, with nothing of it unread.
        latest = ChatRoom.objects.filter(pk=room.pk).values_list("last_message_id", flat=True).get() or 0
        try:
            with transaction.atomic():
                Participant.objects.bulk_create([Participant(room=room, user=f, last_read_id=latest) for f in friends])
        except IntegrityError:  # added by someone else meanwhile (SQLite takes no row lock)
            raise Invalid("Someone in friendIds is in this chat already.") from None
        summaries = room_summaries(room_id=room.pk)
        for friend in friends:
            publish_on_commit(user_group(friend.pk), {"type": "chat.added", "chatroom": summaries[friend.pk]})
        _announce_update(summaries=summaries, skip=[f.pk for f in friends])
    return summaries[user.pk]


def room_leave(*, user: User, room_id: int) -> int:
    """Leave a group: its history stays, the leaver sees nothing more of it. After commit:
    `chat.removed` {"room_id"} to the leaver's group, `chat.updated` to everyone left."""
    with transaction.atomic():
        room = _group_of(user=user, room_id=room_id)
        Participant.objects.filter(room=room, user=user).delete()
        publish_on_commit(user_group(user.pk), {"type": "chat.removed", "room_id": room.pk})
        _announce_update(summaries=room_summaries(room_id=room.pk))
    return room.pk
