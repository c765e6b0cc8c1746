"""Who may write where, beyond taking part in the room."""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext_lazy as _

from chats.models import ChatRoom, Participant
from chatty.errors import Forbidden
from friends.models import Friendship

READ_ONLY = _("You are no longer friends: this chat is read-only.")


def ensure_writable(*, room_id: int, user_id: int, kind: str | None = None) -> None:
    """Forbidden when the room is direct and its two people are no longer friends (the
    friendship was deleted, or one blocked the other): the room stays readable, read-only.

    The send on PostgreSQL writes the same rule into its one round trip (chats/fastsend.py):
    change both. One query on indexed columns: the other participant of a direct room who is not among
    the user's friends (the participant's (room, user) index, the friendship's unique
    (user, friend) index). Group rooms never match; a caller that knows the room's `kind`
    (the send, from its room lock) skips the query for them, and a direct room's check is
    then plain SQL: compiling this query with the ORM was a fifth of a busy server's CPU
    (py-spy --gil at 500 sends/s).
    """
    if kind == ChatRoom.GROUP:
        return
    if kind == ChatRoom.DIRECT:
        if _direct_stranger(room_id=room_id, user_id=user_id):
            raise Forbidden(READ_ONLY)
        return
    stranger = (
        Participant.objects.filter(room_id=room_id, room__kind=ChatRoom.DIRECT)
        .exclude(user_id=user_id)
        .exclude(user_id__in=Friendship.objects.filter(user_id=user_id).values("friend_id"))
        .exists()
    )
    if stranger:
        raise Forbidden(READ_ONLY)


def _direct_stranger(*, room_id: int, user_id: int) -> bool:
    member = connection.ops.quote_name(Participant._meta.db_table)
    friendship = connection.ops.quote_name(Friendship._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {member} p WHERE p.room_id = %s AND p.user_id <> %s"  # noqa: S608 (our tables)
            f" AND NOT EXISTS (SELECT 1 FROM {friendship} f WHERE f.user_id = %s AND f.friend_id = p.user_id)"
            " LIMIT 1",
            [room_id, user_id, user_id],
        )
        return cursor.fetchone() is not None
