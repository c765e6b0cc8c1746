from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

USER_TAG_MAX_LENGTH = 24
STATUS_ONLINE = "online"
STATUS_AWAY = "away"
STATUS_OFFLINE = "offline"
CHOSEN_STATUSES = (STATUS_ONLINE, STATUS_AWAY)


def is_web_url(value: str) -> bool:
    return value.lower().startswith(("https://", "http://"))


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
        """The picture, if it is a web address; anything else (javascript:, data:) is dropped."""
        return self.picture if is_web_url(self.picture) else ""

    def save(self, *args, **kwargs) -> None:
        # The tag is part of the row's identity from its first insert, whichever path creates
        # the user (sign-up, a provider, add_user, createsuperuser). Uniqueness is the
        # database's job; tags.py retries on a collision.
        if not self.user_tag and self._state.adding:
            from accounts.tags import save_with_new_tag

            save_with_new_tag(self, *args, **kwargs)
            return
        super().save(*args, **kwargs)
