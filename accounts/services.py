"""Writes about accounts and the events they cause."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import CHOSEN_STATUSES, User
from chatty.errors import Invalid
from chatty.realtime import publish_on_commit, session_group, user_group


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
