from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from django.http.request import validate_host

USER_TAG_MAX_LENGTH = 24
STATUS_ONLINE = "online"
STATUS_AWAY = "away"
STATUS_OFFLINE = "offline"
CHOSEN_STATUSES = (STATUS_ONLINE, STATUS_AWAY)


def is_web_url(value: str) -> bool:
    """Whether a picture address may become an <img src> (every page, API answer and the
    sign-in adapter ask this one question): see is_allowed_picture."""
    return is_allowed_picture(value)


def is_allowed_picture(value: str) -> bool:
    """A picture the pages may load: https on a provider's avatar host (CHATTY_PICTURE_HOSTS),
    or a path on this site. Any other host would learn who looks at whom, and when."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return True
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme.lower() != "https" or not host or parts.username or parts.password:
        return False
    return validate_host(host, settings.CHATTY_PICTURE_HOSTS)


class User(AbstractUser):
    """A person. `user_tag` (the API's `userTag`) is how friends find each other."""

    name = models.CharField(max_length=150, blank=True)
    picture = models.URLField(max_length=500, blank=True)
    user_tag = models.CharField(
        "user tag",
        max_length=USER_TAG_MAX_LENGTH,
        editable=False,
        help_text="Generated at creation, unique regardless of case; never changes by itself.",
    )
    # The status the user chose (online or away), kept across connections; whether they are
    # offline is live state that the presence store knows.
    chosen_status = models.CharField(
        max_length=8,
        default=STATUS_ONLINE,
        choices=[(STATUS_ONLINE, "online"), (STATUS_AWAY, "away")],
    )
    # Part of every bearer token's stamp (accounts/tokens.py): raising it revokes them all.
    token_generation = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("user_tag"), name="accounts_user_tag_ci_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.user_tag})"

    @property
    def display_name(self) -> str:
        return self.name or self.username

    @property
    def picture_url(self) -> str:
        """The picture, if it is on an allowed host; anything else (javascript:, data:, a
        tracking host) is dropped."""
        return self.picture if is_allowed_picture(self.picture) else ""

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # What the row held when loaded, so that accounts/signals.py can tell a password
        # change or a deactivation from any other save, whichever code path saves.
        instance._loaded = {f: instance.__dict__.get(f) for f in ("password", "is_active")}
        return instance

    def save(self, *args, **kwargs) -> None:
        # The tag is part of the row's identity from its first insert, whichever path creates
        # the user (sign-up, a provider, add_user, createsuperuser). Uniqueness is the
        # database's job; tags.py retries on a collision.
        if not self.user_tag and self._state.adding:
            from accounts.tags import save_with_new_tag

            save_with_new_tag(self, *args, **kwargs)
            return
        super().save(*args, **kwargs)


class UserSession(AbstractBaseSession):
    """A session row that knows its user (SESSION_ENGINE = accounts.sessions), so that
    "log out everywhere" and a password change can find and end every session of a user."""

    user_id = models.BigIntegerField(null=True, db_index=True)

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions import SessionStore

        return SessionStore
