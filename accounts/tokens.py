"""API bearer tokens: JWTs signed with SECRET_KEY (pyjwt).

Claims: `sub` (user id), `exp`, `iat`, `jti` (this token's own id) and `stp`, a stamp of the
user's password hash and token generation. A token is good while its stamp matches the
user's current one: a password change (by any path) or a raised generation ("log out
everywhere", `manage.py revoke_tokens`) revokes every token issued before it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

import jwt
from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

if TYPE_CHECKING:
    from accounts.models import User

ALGORITHM = "HS256"
AUDIENCE = "chatty-api"
_STAMP_SALT = "chatty.accounts.tokens.stamp"


def token_stamp(user: User) -> str:
    return salted_hmac(_STAMP_SALT, f"{user.password}:{user.token_generation}", algorithm="sha256").hexdigest()[:32]


def issue_token(*, user: User, minutes: int = 60, not_after: dt.datetime | None = None) -> tuple[str, dt.datetime]:
    """A token for `user` for `minutes`, and never past `not_after` (the token that asked for it)."""
    now = timezone.now()
    expires_at = now + dt.timedelta(minutes=minutes)
    if not_after is not None and expires_at > not_after:
        expires_at = not_after
    claims = {
        "sub": str(user.pk),
        "exp": expires_at,
        "iat": now,
        "aud": AUDIENCE,
        "jti": secrets.token_urlsafe(12),
        "stp": token_stamp(user),
    }
    return jwt.encode(claims, settings.SECRET_KEY, algorithm=ALGORITHM), expires_at


def token_claims(token: str) -> dict[str, Any] | None:
    """The claims of a well-signed, unexpired token, or None (not looking at the user)."""
    try:
        claims = jwt.decode(
            token,
            settings.SECRET_KEY,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "stp"]},
        )
        claims["sub"] = int(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if not isinstance(claims.get("stp"), str):
        return None
    return claims


def token_expiry(claims: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(claims["exp"]), tz=dt.UTC)


def user_from_bearer(token: str) -> User | None:
    """The active user a token names, or None when it is invalid, expired, revoked or deactivated."""
    claims = token_claims(token)
    if claims is None:
        return None
    from accounts.selectors import active_user  # the model, once apps are loaded

    user = active_user(user_id=claims["sub"])
    if user is None or not constant_time_compare(claims["stp"], token_stamp(user)):
        return None
    return user
