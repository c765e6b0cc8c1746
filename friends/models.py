from __future__ import annotations

from django.conf import settings
from django.db import models


class Friendship(models.Model):
    """One direction of a friendship; the service always writes both directions together."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friendships")
    friend = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "friend"], name="friends_friendship_unique"),
            models.CheckConstraint(condition=~models.Q(user=models.F("friend")), name="friends_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.friend_id}"


class Block(models.Model):
    """`blocker` keeps `blocked` away: no friendship, no add, no messages, no presence."""

    blocker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks")
    blocked = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="friends_block_unique"),
            models.CheckConstraint(condition=~models.Q(blocker=models.F("blocked")), name="friends_block_not_self"),
        ]
        indexes = [models.Index(fields=["blocked", "blocker"], name="friends_block_blocked_idx")]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"
