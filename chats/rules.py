"""Who may still write where (SPEC §9): a direct room whose two people are no longer friends
(deleted or blocked) stays readable and becomes read-only."""

from __future__ import annotations

from chats.models import ChatRoom
from chatty.errors import Forbidden
from friends.models import Friendship


def ensure_writable(*, room_id: int, user_id: int) -> None:
    """Forbidden when `room_id` is a direct room and its two people are not friends now."""
    key = ChatRoom.objects.filter(pk=room_id, kind=ChatRoom.DIRECT).values_list("direct_key", flat=True).first()
    if key is None:
        return  # a group (or no room: the caller's own look-up answers that)
    low, high = (int(part) for part in key.split(":"))
    other = high if user_id == low else low
    if not Friendship.objects.filter(user_id=user_id, friend_id=other).exists():
        raise Forbidden("You are no longer friends: this chat is read-only.")
