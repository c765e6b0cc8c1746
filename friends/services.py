"""Writes about friendships and the events they cause."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import User
from chatty.errors import Conflict, Invalid, NotFound
from chatty.realtime import publish_on_commit, user_group
from friends.models import Friendship
from friends.selectors import friend_payload
from presence.selectors import status_of


def friendship_create(*, user: User, friend_tag: str) -> User:
    """Befriend the user with this tag (case-insensitive), both directions at once."""
    tag = (friend_tag or "").strip()
    if not tag:
        raise Invalid("friendUserTag is required.")
    friend = User.objects.filter(user_tag__iexact=tag, is_active=True).first()
    if friend is None:
        raise NotFound("No one has that user tag.")
    if friend.pk == user.pk:
        raise Invalid("That is your own user tag.")
    try:
        with transaction.atomic():
            Friendship.objects.bulk_create([Friendship(user=user, friend=friend), Friendship(user=friend, friend=user)])
            publish_on_commit(
                user_group(friend.pk),
                {"type": "friend.added", "friend": friend_payload(user, status_of(user))},
            )
    except IntegrityError:
        raise Conflict("You are already friends.") from None
    return friend


def friendship_delete(*, user: User, friend_id: int) -> None:
    """End a friendship in both directions."""
    with transaction.atomic():
        deleted, _ = Friendship.objects.filter(user=user, friend_id=friend_id).delete()
        if not deleted:
            raise NotFound("That person is not your friend.")
        Friendship.objects.filter(user_id=friend_id, friend=user).delete()
        publish_on_commit(user_group(friend_id), {"type": "friend.removed", "user_id": user.pk})
