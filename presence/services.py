"""Presence transitions and the events they cause.

A user's presence changes when their first connection opens, when their last one closes
(or expires), and when they choose another status. Friends hear of it as `presence.changed`
on their user group; the user's own connections as `presence.self`.
"""

from __future__ import annotations

from accounts.models import STATUS_OFFLINE, User
from chatty.realtime import asend_now, user_group
from friends.selectors import friend_ids
from presence.store import get_store

RECONNECT_GRACE = 5.0  # seconds a closed connection still counts, so a reload does not flap


async def announce(*, user_id: int, status: str, friends: list[int]) -> None:
    event = {"type": "presence.changed", "user_id": user_id, "status": status}
    for friend_id in friends:
        await asend_now(user_group(friend_id), event)


async def announce_self(*, user_id: int, status: str) -> None:
    await asend_now(user_group(user_id), {"type": "presence.self", "status": status})


async def connection_opened(*, user: User, conn_id: str, friends: list[int]) -> None:
    if await get_store().add_connection(user.pk, conn_id):
        await announce(user_id=user.pk, status=user.chosen_status, friends=friends)


async def connection_closed(*, user_id: int, conn_id: str, at_once: bool, friends_of) -> None:
    """A closed connection: gone at once (`logout`), or after a short grace (a reload)."""
    store = get_store()
    if at_once:
        if await store.remove_connection(user_id, conn_id):
            await announce(user_id=user_id, status=STATUS_OFFLINE, friends=await friends_of(user_id))
    else:
        await store.expire_connection(user_id, conn_id, RECONNECT_GRACE)


async def sweep(*, friends_of) -> list[int]:
    """Tell the friends of everyone whose last connection expired; run by every process."""
    gone = await get_store().sweep()
    for user_id in gone:
        await announce(user_id=user_id, status=STATUS_OFFLINE, friends=await friends_of(user_id))
    return gone


def friends_of_sync(user_id: int) -> list[int]:
    return friend_ids(user_id=user_id)
