"""Presence transitions and the events they cause.

A user's presence changes when their first connection opens, when their last one closes
(or expires), and when they choose another status. Friends hear of it as `presence.changed`
on their user group; the user's own connections as `presence.self`. Typing is live-only
state too, so it is published from here (to the room's live stream).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from accounts.models import STATUS_OFFLINE, User
from accounts.services import user_set_status
from chatty.live import astatuses
from chatty.realtime import asend_now, room_group, user_group
from chatty.store import get_store
from friends.selectors import friend_ids

RECONNECT_GRACE = 5.0  # seconds a closed connection still counts, so a reload does not flap

FriendsOf = Callable[[int], Awaitable[list[int]]]


async def announce(*, user_id: int, status: str, friends: Iterable[int]) -> None:
    event = {"type": "presence.changed", "user_id": user_id, "status": status}
    for friend_id in friends:
        await asend_now(user_group(friend_id), event)


async def announce_self(*, user_id: int, status: str) -> None:
    await asend_now(user_group(user_id), {"type": "presence.self", "status": status})


async def connection_opened(*, user: User, conn_id: str, friends_of: FriendsOf) -> bool:
    """Count a connection; friends hear of the user only when this made them come online."""
    came_online = await get_store().add_connection(user.pk, conn_id)
    if came_online:
        await announce(user_id=user.pk, status=user.chosen_status, friends=await friends_of(user.pk))
    return came_online


async def connection_closed(*, user_id: int, conn_id: str, at_once: bool, friends_of: FriendsOf) -> None:
    """A closed connection: gone at once (logout), or after a short grace (a reload)."""
    store = get_store()
    if at_once:
        if await store.remove_connection(user_id, conn_id):
            await announce(user_id=user_id, status=STATUS_OFFLINE, friends=await friends_of(user_id))
    else:
        await store.expire_connection(user_id, conn_id, RECONNECT_GRACE)


async def connection_restored(*, user_id: int, conn_id: str, room_ids: Iterable[int], friends_of: FriendsOf) -> None:
    """A connection that is still open lost its record (the store was away for longer than
    the TTL, or a sweep judged it dead): count it again, and tell friends if that brings the
    user back online."""
    store = get_store()
    came_online = await store.add_connection(user_id, conn_id)
    for room_id in room_ids:
        await store.join_room(room_id, user_id, conn_id)
    if came_online:
        status = await _chosen_status(user_id)
        if status is not None:
            await announce(user_id=user_id, status=status, friends=await friends_of(user_id))


async def status_change(*, user: User, status: str, friends_of: FriendsOf) -> User:
    """The user's chosen status (online or away): kept in the database, told to every
    connection of the user and to their friends."""
    user = await database_sync_to_async(user_set_status)(user=user, status=status)
    await announce_self(user_id=user.pk, status=user.chosen_status)
    await announce(user_id=user.pk, status=user.chosen_status, friends=await friends_of(user.pk))
    return user


def status_change_sync(*, user: User, status: str) -> User:
    """`status_change` from sync code (the no-JavaScript form): friends hear of it only while
    the user is connected (offline stays offline to them)."""
    user = user_set_status(user=user, status=status)
    friends = friend_ids(user_id=user.pk)

    async def tell() -> None:
        await announce_self(user_id=user.pk, status=user.chosen_status)
        if (await astatuses([user]))[user.pk] != STATUS_OFFLINE:
            await announce(user_id=user.pk, status=user.chosen_status, friends=friends)

    async_to_sync(tell)()
    return user


async def typing(*, room_id: int, user_id: int) -> None:
    """Tell the connections that have the room open that this user is typing (the caller
    checked that the user takes part in the room)."""
    await asend_now(room_group(room_id), {"type": "chat.typing", "room_id": room_id, "user_id": user_id})


async def sweep(*, friends_of: FriendsOf) -> list[int]:
    """Tell the friends of everyone whose last connection expired; run by every process."""
    gone = await get_store().sweep()
    for user_id in gone:
        await announce(user_id=user_id, status=STATUS_OFFLINE, friends=await friends_of(user_id))
    return gone


def friends_of_sync(user_id: int) -> list[int]:
    return friend_ids(user_id=user_id)


@database_sync_to_async
def _chosen_status(user_id: int) -> str | None:
    return User.objects.filter(pk=user_id, is_active=True).values_list("chosen_status", flat=True).first()
