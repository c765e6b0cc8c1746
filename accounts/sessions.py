"""Sessions that know their user, and whether a live connection may still stand.

SESSION_ENGINE points here: Django's database sessions, with the user's id kept in its own
column (accounts.models.UserSession) so that every session of a user can be found and ended.
Each deleted session row (logout, "log out everywhere", clearsessions, a flush) closes the
websockets opened with it (accounts/signals.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.utils import timezone
from django.utils.crypto import constant_time_compare


class SessionStore(DBStore):
    @classmethod
    def get_model_class(cls):
        from accounts.models import UserSession

        return UserSession

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        try:
            obj.user_id = int(data.get(SESSION_KEY))
        except (TypeError, ValueError):
            obj.user_id = None
        return obj


def session_keys_of(*, user_id: int) -> list[str]:
    from accounts.models import UserSession

    return list(UserSession.objects.filter(user_id=user_id).values_list("session_key", flat=True))


def _auth_hash_matches(user: Any, stored: str) -> bool:
    # As django.contrib.auth.get_user checks it: a password change (any path, even a
    # QuerySet.update) changes the hash, and the session no longer signs anyone in.
    if constant_time_compare(stored, user.get_session_auth_hash()):
        return True
    return any(constant_time_compare(stored, h) for h in user.get_session_auth_fallback_hash())


_CHUNK = 500  # ids per IN (...) : under SQLite's limit of bound parameters


def _chunks(values: list) -> Iterator[list]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


Credentials = tuple[int, str | None, str | None]  # (user id, session key, bearer token)


def invalid_connections(credentials: list[Credentials]) -> list[Credentials]:
    """Which of these live connections may no longer stand (see connection_still_valid).

    For the sockets' periodic re-check: the users and the sessions of all of them in one query
    each (per 500), whatever their number; a token's signature is checked here, in Python.
    """
    from accounts.models import User, UserSession
    from accounts.tokens import token_claims, token_stamp

    if not credentials:
        return []
    users: dict[int, User] = {}
    for ids in _chunks(sorted({c[0] for c in credentials})):
        users.update((u.pk, u) for u in User.objects.filter(pk__in=ids, is_active=True))
    sessions: dict[str, tuple[int | None, str]] = {}
    now = timezone.now()
    for keys in _chunks(sorted({c[1] for c in credentials if c[1] and not c[2]})):
        rows = UserSession.objects.filter(session_key__in=keys, expire_date__gt=now)
        sessions.update(
            (key, (uid, data)) for key, uid, data in rows.values_list("session_key", "user_id", "session_data")
        )
    invalid = []
    for credential in credentials:
        user_id, session_key, token = credential
        user = users.get(user_id)
        if user is None:
            ok = False
        elif token:
            claims = token_claims(token)
            ok = (
                claims is not None
                and claims["sub"] == user_id
                and constant_time_compare(claims["stp"], token_stamp(user))
            )
        elif session_key and session_key in sessions:
            owner, raw = sessions[session_key]
            data = SessionStore().decode(raw)
            ok = (
                owner == user_id
                and str(data.get(SESSION_KEY)) == str(user_id)
                and _auth_hash_matches(user, data.get(HASH_SESSION_KEY) or "")
            )
        else:
            ok = False
        if not ok:
            invalid.append(credential)
    return invalid


def connection_still_valid(*, user_id: int, session_key: str | None, token: str | None) -> bool:
    """Whether a websocket opened by `user_id` with this session (or bearer token) may stay open.

    A session: it still exists, has not expired, names this user with the auth hash of the
    user's current password, and the user is active. A token: it still names this active
    user and was not revoked (password change, "log out everywhere", revoke_tokens) or
    expired.
    """
    return not invalid_connections([(user_id, session_key, token)])


def connection_credentials(scope: dict) -> tuple[str | None, str | None]:
    """(session key, bearer token) a websocket was opened with, from its ASGI scope: the
    session of AuthMiddlewareStack, or the token presence.middleware.BearerAuth kept."""
    session = scope.get("session")
    key = getattr(session, "session_key", None) if session is not None else None
    return key, scope.get("bearer_token")
