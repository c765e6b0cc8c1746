"""Reads about friendships."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Q, Value
from django.db.models.functions import Coalesce, Lower, NullIf

from accounts.models import User
from friends.models import Block, Friendship


def friend_ids(*, user_id: int) -> list[int]:
    return list(Friendship.objects.filter(user_id=user_id).values_list("friend_id", flat=True))


def friends_chosen_statuses(*, user_id: int) -> dict[int, str]:
    """{friend id: the status they chose (online or away)}: one query, for a socket's opening,
    in plain SQL (the ORM compiling it cost four times its round trip)."""
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT f.friend_id, u.chosen_status FROM {q(Friendship._meta.db_table)} f"  # noqa: S608 (our tables)
            f" JOIN {q(User._meta.db_table)} u ON u.id = f.friend_id WHERE f.user_id = %s",
            [user_id],
        )
        return dict(cursor.fetchall())


def are_friends(*, user_id: int, other_id: int) -> bool:
    return Friendship.objects.filter(user_id=user_id, friend_id=other_id).exists()


def friends_of(*, user: User) -> list[User]:
    """The user's friends by name; deactivated accounts are left out (nobody can reach them)."""
    return list(
        User.objects.filter(pk__in=Friendship.objects.filter(user=user).values("friend_id"), is_active=True).order_by(
            Lower(Coalesce(NullIf("name", Value("")), "username")), "pk"
        )
    )


def friend_payload(friend: User, status: str) -> dict[str, Any]:
    """SPEC §3 friend entry (also the `friend` of `addedAsFriend`)."""
    return {
        "userId": str(friend.pk),
        "name": friend.display_name,
        "image": friend.picture_url,
        "userTag": friend.user_tag,
        "status": status,
    }


def is_blocked_between(*, user_id: int, other_id: int) -> bool:
    """Whether either of the two blocks the other."""
    return Block.objects.filter(
        Q(blocker_id=user_id, blocked_id=other_id) | Q(blocker_id=other_id, blocked_id=user_id)
    ).exists()


def blocked_either_way(*, user_id: int) -> set[int]:
    """The people the user blocked or was blocked by: each sees the other as offline."""
    rows = Block.objects.filter(Q(blocker_id=user_id) | Q(blocked_id=user_id)).values_list("blocker_id", "blocked_id")
    return {other for pair in rows for other in pair if other != user_id}


def blocked_by(*, user: User) -> list[User]:
    """The people the user blocked, most recent first."""
    blocks = Block.objects.filter(blocker=user).select_related("blocked").order_by("-created_at", "-pk")
    return [b.blocked for b in blocks]


def blocked_payload(other: User) -> dict[str, Any]:
    """SPEC §9 entry of GET /api/friend/blocked."""
    return {"userId": str(other.pk), "name": other.display_name, "image": other.picture_url, "userTag": other.user_tag}
