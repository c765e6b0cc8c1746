"""Writes about accounts and the events they cause."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from accounts.models import CHOSEN_STATUSES, User, UserSession
from chatty.errors import Invalid
from chatty.realtime import publish_on_commit, user_group


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
