"""API bearer tokens: JWTs signed with SECRET_KEY (pyjwt), claims `sub` and `exp`."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

if TYPE_CHECKING:
    from accounts.models import User

ALGORITHM = "HS256"
AUDIENCE = "chatty-api"


def issue_token(*, user: User, minutes: int = 60) -> tuple[str, dt.datetime]:
    expires_at = timezone.now() + dt.timedelta(minutes=minutes)
    claims = {
        "sub": str(user.pk),
        "exp": expires_at,
        "iat": timezone.now(),
        "aud": AUDIENCE,
    }
    return jwt.encode(claims, settings.SECRET_KEY, algorithm=ALGORITHM), expires_at


def user_from_bearer(token: str) -> User | None:
    """The active user a token names, or None when it is invalid, expired or deactivated."""
    try:
        claims = jwt.decode(
            token,
            settings.SECRET_KEY,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "exp"]},
        )
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()
