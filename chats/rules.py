"""Who may write where, beyond taking part in the room."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from chats.models import ChatRoom, Participant
from chatty.errors import Forbidden
from friends.models import Friendship


def ensure_writable(*, room_id: int, user_id: int) -> None:
    """Forbidden when the room is direct and its two people are no longer friends (the
    friendship was deleted, or one blocked the other): the room stays readable, read-only.

    One query on indexed columns: the other participant of a direct room who is not among
    the user's friends (the participant's (room, user) index, the friendship's unique
    (user, friend) index). Group rooms never match.
    """
    stranger = (
        Participant.objects.filter(room_id=room_id, room__kind=ChatRoom.DIRECT)
        .exclude(user_id=user_id)
        .exclude(user_id__in=Friendship.objects.filter(user_id=user_id).values("friend_id"))
        .exists()
    )
    if stranger:
        raise Forbidden(_("You are no longer friends: this chat is read-only."))
