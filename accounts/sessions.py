"""Sessions that know their user, and whether a live connection may still stand.

SESSION_ENGINE points here: Django's database sessions, with the user's id kept in its own
column (accounts.models.UserSession) so that every session of a user can be found and ended.
Each deleted session row (logout, "log out everywhere", clearsessions, a flush) closes the
websockets opened with it (accounts/signals.py).
"""

from __future__ import annotations

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


def _session_user_valid(*, user_id: int, session_key: str) -> bool:
    from accounts.models import User, UserSession

    row = UserSession.objects.filter(session_key=session_key, expire_date__gt=timezone.now()).first()
    if row is None or row.user_id != user_id:
        return False
    data = SessionStore().decode(row.session_data)
    if str(data.get(SESSION_KEY)) != str(user_id):
        return False
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    # As django.contrib.auth.get_user checks it: a password change (any path, even a
    # QuerySet.update) changes the hash, and the session no longer signs anyone in.
    stored = data.get(HASH_SESSION_KEY) or ""
    if constant_time_compare(stored, user.get_session_auth_hash()):
        return True
    return any(constant_time_compare(stored, h) for h in user.get_session_auth_fallback_hash())


def connection_still_valid(*, user_id: int, session_key: str | None, token: str | None) -> bool:
    """Whether a websocket opened by `user_id` with this session (or bearer token) may stay open.

    A session: it still exists, has not expired, names this user with the auth hash of the
    user's current password, and the user is active. A token: it still names this active
    user and was not revoked (password change, "log out everywhere", revoke_tokens) or
    expired. One or two indexed queries; for the socket's periodic re-check.
    """
    if token:
        from accounts.tokens import user_from_bearer

        user = user_from_bearer(token)
        return user is not None and user.pk == user_id
    if session_key:
        return _session_user_valid(user_id=user_id, session_key=session_key)
    return False


def connection_credentials(scope: dict) -> tuple[str | None, str | None]:
    """(session key, bearer token) a websocket was opened with, from its ASGI scope: the
    session of AuthMiddlewareStack, or the token presence.middleware.BearerAuth kept."""
    session = scope.get("session")
    key = getattr(session, "session_key", None) if session is not None else None
    return key, scope.get("bearer_token")
