"""Writes about friendships and the events they cause."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.models import USER_TAG_MAX_LENGTH, User
from chatty.errors import Conflict, Invalid, NotFound, is_storable_text
from chatty.live import status_of
from chatty.realtime import publish_on_commit, user_group
from friends.models import Friendship
from friends.selectors import friend_payload


def friendship_create(*, user: User, friend_tag: str) -> User:
    """Befriend the user with this tag (case-insensitive), both directions at once."""
    tag = (friend_tag or "").strip()
    if not tag:
        raise Invalid("friendUserTag is required.")
    if len(tag) > USER_TAG_MAX_LENGTH or not is_storable_text(tag):
        # No tag looks like this (and a database would refuse it in a query).
        raise NotFound("No one has that user tag.")
    # Lower() on the column, as the unique index is built, so the lookup uses that index.
    friend = User.objects.alias(tag_lower=Lower("user_tag")).filter(tag_lower=tag.lower(), is_active=True).first()
    if friend is None:
        raise NotFound("No one has that user tag.")
    if friend.pk == user.pk:
        raise Invalid("That is your own user tag.")
    try:
        with transaction.atomic():
            # Always the smaller id's row first: two people adding each other at once then
            # queue on the same index entry (one gets a conflict) instead of deadlocking.
            low, high = sorted((user, friend), key=lambda u: u.pk)
            Friendship.objects.bulk_create([Friendship(user=low, friend=high), Friendship(user=high, friend=low)])
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
        # Lock both directions in one order (smaller user id first), as creation inserts
        # them: two people deleting each other at once queue instead of deadlocking.
        rows = list(
            Friendship.objects.select_for_update()
            .filter(Q(user=user, friend_id=friend_id) | Q(user_id=friend_id, friend=user))
            .order_by("user_id")
            .values_list("pk", "user_id")
        )
        if not any(owner == user.pk for _, owner in rows):
            raise NotFound("That person is not your friend.")
        Friendship.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
        publish_on_commit(user_group(friend_id), {"type": "friend.removed", "user_id": user.pk})
