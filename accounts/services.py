"""Writes about accounts and the events they cause."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from accounts.models import CHOSEN_STATUSES, User, UserSession
from chatty.errors import Invalid, is_storable_text
from chatty.live import status_of
from chatty.realtime import publish_on_commit, user_group

MAX_NAME_LENGTH = 50


def user_deactivate(*, user: User) -> None:
    """Block sign-in and tokens, and close every live socket of the user.

    The save announces it (accounts/signals.py, as for any save that deactivates); a user
    already inactive is announced again, for sockets a QuerySet.update() left open.
    """
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    else:
        publish_on_commit(user_group(user.pk), {"type": "user.deactivated"})


def tokens_revoke(*, user: User) -> None:
    """Every bearer token issued to the user so far stops working (its stamp no longer matches)."""
    User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
    user.refresh_from_db(fields=["token_generation"])


def sessions_end_all(*, user: User) -> int:
    """ "Log out everywhere": every session and every token of the user ends, and all of the
    user's sockets close. Returns the number of sessions ended."""
    with transaction.atomic():
        # Deleting the rows one by one sends post_delete for each: its sockets close.
        ended, _counts = UserSession.objects.filter(user_id=user.pk).delete()
        tokens_revoke(user=user)
        publish_on_commit(user_group(user.pk), {"type": "user.deactivated"})
    return ended


def user_set_status(*, user: User, status: str) -> User:
    if status not in CHOSEN_STATUSES:
        raise Invalid(_("status must be 'online' or 'away'."))
    if user.chosen_status != status:
        user.chosen_status = status
        user.save(update_fields=["chosen_status"])
    return user


def clean_name(name: Any) -> str:
    """A display name: 1 to 50 characters after trimming."""
    if not isinstance(name, str) or not is_storable_text(name):
        raise Invalid("name must be a string.")
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise Invalid(f"name must be 1 to {MAX_NAME_LENGTH} characters.")
    return name


def user_rename(*, user: User, name: str) -> User:
    """Change the display name. After commit: `friend.updated` {"friend": <friend entry>} to
    each friend's group (the friendship rows' reverse relation: accounts imports no app), and
    `user.renamed` {"user_id", "name"} to the user's own group (their other tabs)."""
    name = clean_name(name)
    with transaction.atomic():
        if user.name != name:
            user.name = name
            user.save(update_fields=["name"])
            friend = {
                "userId": str(user.pk),
                "name": user.display_name,
                "image": user.picture_url,
                "userTag": user.user_tag,
                "status": status_of(user),
            }
            for friend_id in user.friendships.values_list("friend_id", flat=True):
                publish_on_commit(user_group(friend_id), {"type": "friend.updated", "friend": friend})
            # The user's own other tabs: their card and their name in an open room's header.
            publish_on_commit(
                user_group(user.pk), {"type": "user.renamed", "user_id": user.pk, "name": user.display_name}
            )
    return user
