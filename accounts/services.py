"""Writes about accounts and the events they cause."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from accounts.models import CHOSEN_STATUSES, User
from chatty.errors import Invalid, is_storable_text
from chatty.live import status_of
from chatty.realtime import publish_on_commit, session_group, user_group

MAX_NAME_LENGTH = 50


def end_session(request: HttpRequest) -> None:
    """Close the websockets opened with this request's session (HTTP logout)."""
    session = getattr(request, "session", None)
    key = session.session_key if session is not None else None
    if key:
        publish_on_commit(session_group(key), {"type": "session.ended"})


def user_deactivate(*, user: User) -> None:
    """Block sign-in and tokens, and close every live socket of the user."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    publish_on_commit(user_group(user.pk), {"type": "user.deactivated"})


def user_set_status(*, user: User, status: str) -> User:
    if status not in CHOSEN_STATUSES:
        raise Invalid("status must be 'online' or 'away'.")
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
    each friend's group (the friendship rows' reverse relation: accounts imports no app)."""
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
    return user
