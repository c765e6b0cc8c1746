"""Presence transitions and the events they cause.

A user's presence changes when their first connection opens, when their last one closes
(or expires), and when they choose another status. The change is published once, to the
site's presence group: each process hands it to the local sockets of the user's friends
(edge/hub.py), however many friends there are. The user's own connections hear their
status as `presence.self` on their user group.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from accounts.models import STATUS_OFFLINE, User
from accounts.services import user_set_status
from chatty.live import astatuses
from chatty.realtime import PRESENCE_GROUP, asend_now, user_group
from chatty.store import get_store

RECONNECT_GRACE = 5.0  # seconds a closed connection still counts, so a reload does not flap


async def announce(*, user_id: int, status: str) -> None:
    # `at`: sockets whose snapshot was read later already show this change (edge/hub.py).
    event = {"type": "presence.changed", "user_id": user_id, "status": status, "at": time.time()}
    await asend_now(PRESENCE_GROUP, event)


async def announce_self(*, user_id: int, status: str) -> None:
    await asend_now(user_group(user_id), {"type": "presence.self", "status": status})


async def connection_opened(*, user: User, conn_id: str) -> bool:
    """Count a connection; friends hear of the user only when this made them come online."""
    came_online = await get_store().add_connection(user.pk, conn_id)
    if came_online:
        await announce(user_id=user.pk, status=user.chosen_status)
    return came_online


async def connection_closed(*, user_id: int, conn_id: str, at_once: bool, grace: float | None = None) -> None:
    """A closed connection: gone at once (logout), or after a grace (a reload; a server
    restart keeps it for its whole expiry)."""
    store = get_store()
    if at_once:
        if await store.remove_connection(user_id, conn_id):
            await announce(user_id=user_id, status=STATUS_OFFLINE)
    else:
        await store.expire_connection(user_id, conn_id, RECONNECT_GRACE if grace is None else grace)


async def connection_restored(*, user_id: int, conn_id: str, room_ids: Iterable[int]) -> None:
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
            await announce(user_id=user_id, status=status)


async def status_change(*, user: User, status: str) -> User:
    """The user's chosen status (online or away): kept in the database, told to every
    connection of the user and to their friends."""
    user = await database_sync_to_async(user_set_status)(user=user, status=status)
    await announce_self(user_id=user.pk, status=user.chosen_status)
    await announce(user_id=user.pk, status=user.chosen_status)
    return user


def status_change_sync(*, user: User, status: str) -> User:
    """`status_change` from sync code (the no-JavaScript form): friends hear of it only while
    the user is connected (offline stays offline to them)."""
    user = user_set_status(user=user, status=status)

    async def tell() -> None:
        await announce_self(user_id=user.pk, status=user.chosen_status)
        if (await astatuses([user]))[user.pk] != STATUS_OFFLINE:
            await announce(user_id=user.pk, status=user.chosen_status)

    async_to_sync(tell)()
    return user


async def sweep() -> list[int]:
    """Tell the friends of everyone whose last connection expired; run by every process."""
    gone = await get_store().sweep()
    for user_id in gone:
        await announce(user_id=user_id, status=STATUS_OFFLINE)
    return gone


@database_sync_to_async
def _chosen_status(user_id: int) -> str | None:
    return User.objects.filter(pk=user_id, is_active=True).values_list("chosen_status", flat=True).first()
