"""Writes about friendships and blocks, and the events they cause."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from accounts.models import USER_TAG_MAX_LENGTH, User
from chatty import limits
from chatty.errors import Conflict, Invalid, NotFound, is_storable_text, parse_id
from chatty.live import status_of
from chatty.realtime import publish_on_commit, user_group
from friends.models import Block, Friendship
from friends.selectors import friend_payload

UNKNOWN_TAG = _("No one has that user tag.")


def _miss(*, user: User, address: str | None) -> NotFound:
    """A look-up that matched nobody: counted per user and per address (guessing is slow)."""
    limits.hit("addFriendMiss", user.pk)
    if address:
        limits.hit("addFriendMissAddress", address)
    return NotFound(UNKNOWN_TAG)


def friendship_create(*, user: User, friend_tag: str, address: str | None = None) -> User:
    """Befriend the user with this tag (case-insensitive), both directions at once.

    Tags that match nobody are rate-limited per user and per client `address`
    (chatty/limits.py); once either budget is spent, every look-up answers RateLimited until
    the window ends, so that a hit cannot be told from a miss meanwhile. Someone who blocked
    the user cannot be found (NotFound, as for an unknown tag).
    """
    tag = (friend_tag or "").strip()
    if not tag:
        raise Invalid(_("friendUserTag is required."))
    address = limits.address_key(address)
    limits.check("addFriendMiss", user.pk)
    if address:
        limits.check("addFriendMissAddress", address)
    if len(tag) > USER_TAG_MAX_LENGTH or not is_storable_text(tag):
        # No tag looks like this (and a database would refuse it in a query).
        raise _miss(user=user, address=address)
    # Lower() on the column, as the unique index is built, so the lookup uses that index.
    friend = User.objects.alias(tag_lower=Lower("user_tag")).filter(tag_lower=tag.lower(), is_active=True).first()
    if friend is None:
        raise _miss(user=user, address=address)
    if friend.pk == user.pk:
        raise Invalid(_("That is your own user tag."))
    blocks = set(
        Block.objects.filter(Q(blocker=user, blocked=friend) | Q(blocker=friend, blocked=user)).values_list(
            "blocker_id", flat=True
        )
    )
    if friend.pk in blocks:
        raise _miss(user=user, address=address)
    if user.pk in blocks:
        raise Invalid(_("You blocked this person. Unblock them first."))
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
        raise Conflict(_("You are already friends.")) from None
    return friend


def _end_friendship(*, user: User, friend_id: int) -> bool:
    """Delete both directions (inside the caller's transaction); whether there was one.

    Both sides hear of it: the other person's sockets and pages drop the user, and the
    user's own other tabs drop the friend.
    """
    # Lock both directions in one order (smaller user id first), as creation inserts
    # them: two people deleting each other at once queue instead of deadlocking.
    rows = list(
        Friendship.objects.select_for_update()
        .filter(Q(user=user, friend_id=friend_id) | Q(user_id=friend_id, friend=user))
        .order_by("user_id")
        .values_list("pk", "user_id")
    )
    if not any(owner == user.pk for _pk, owner in rows):
        return False
    Friendship.objects.filter(pk__in=[pk for pk, _owner in rows]).delete()
    publish_on_commit(user_group(friend_id), {"type": "friend.removed", "user_id": user.pk})
    return True


def friendship_delete(*, user: User, friend_id: int) -> None:
    """End a friendship in both directions."""
    with transaction.atomic():
        if not _end_friendship(user=user, friend_id=friend_id):
            raise NotFound(_("That person is not your friend."))


def block_create(*, user: User, other_id: object) -> User:
    """Keep `other_id` away (SPEC §9): ends a friendship if there was one.

    Blocking twice is the same as once. Their direct room turns read-only (chats/rules.py);
    neither sees the other's presence any more, since presence only reaches friends.
    """
    other_id = parse_id(other_id, "userId")
    if other_id == user.pk:
        raise Invalid(_("You cannot block yourself."))
    other = User.objects.filter(pk=other_id).first()
    if other is None:
        raise NotFound(_("There is no such user."))
    with transaction.atomic():
        Block.objects.get_or_create(blocker=user, blocked=other)
        if _end_friendship(user=user, friend_id=other.pk):
            # The blocker's own other tabs drop the friend too.
            publish_on_commit(user_group(user.pk), {"type": "friend.removed", "user_id": other.pk})
        # Friends or not (members of one group room), neither sees the other's presence now.
        publish_on_commit(user_group(user.pk), {"type": "friend.blocked", "user_id": other.pk})
        publish_on_commit(user_group(other.pk), {"type": "friend.blocked", "user_id": user.pk})
    return other


def block_delete(*, user: User, other_id: object) -> int:
    """Stop blocking; no friendship comes back by itself."""
    other_id = parse_id(other_id, "userId")
    deleted, _counts = Block.objects.filter(blocker=user, blocked_id=other_id).delete()
    if not deleted:
        raise NotFound(_("You have not blocked that person."))
    return other_id
