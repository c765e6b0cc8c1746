"""Rate limits, in one place for every path (websocket frames, the JSON API, the plain forms).

Each action has a budget of hits per window, counted per key (a user id, a client address)
on the live store, so the count holds across processes when Redis is configured. `hit` and
`ahit` count one hit and raise `RateLimited` once the budget of the current window is spent;
`check` only looks (for look-ups where only failures count, see `friends.services`).

How long guessing a tag takes: a tag is a name's base plus TAG_DIGITS (6) digits, so one
name has 1,000,000 tags and finding one takes 500,000 guesses on average. With
`addFriendMiss` at 20 misses per hour per user, that is 25,000 hours (2.9 years) for one
account; with `addFriendMissAddress` at 60 per hour per address, 8,300 hours (11 months) for
one address, whatever number of accounts it signs up.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from asgiref.sync import async_to_sync

from chatty.errors import RateLimited
from chatty.store import get_store

FRAME_WINDOW = 10.0  # seconds: the websocket's frames share one window length
OTHER = "other"  # the bucket of frames that have no budget of their own (unknown types too)


@dataclass(frozen=True)
class Limit:
    hits: int
    window: float  # seconds


LIMITS: dict[str, Limit] = {
    # Per user, across processes: what writes, fans out to every friend, or replays history.
    "sendMessage": Limit(50, FRAME_WINDOW),
    "typing": Limit(20, FRAME_WINDOW),
    "userOnline": Limit(10, FRAME_WINDOW),
    "changeStatus": Limit(10, FRAME_WINDOW),
    "connectToRoom": Limit(50, FRAME_WINDOW),
    "leaveChatroom": Limit(50, FRAME_WINDOW),
    "markRead": Limit(100, FRAME_WINDOW),
    "markUnread": Limit(50, FRAME_WINDOW),
    "editMessage": Limit(50, FRAME_WINDOW),
    "deleteMessage": Limit(50, FRAME_WINDOW),
    "react": Limit(100, FRAME_WINDOW),
    OTHER: Limit(100, FRAME_WINDOW),
    # add-friend look-ups that match nobody, per user and per client address.
    "addFriendMiss": Limit(20, 3600.0),
    "addFriendMissAddress": Limit(60, 3600.0),
    # Failed /admin/login/ attempts, as allauth limits its own login ("5/5m/key,10/m/ip").
    "adminLoginFailed": Limit(5, 300.0),
    "adminLoginFailedAddress": Limit(10, 60.0),
}


def limit_for(action: str) -> tuple[str, Limit]:
    """The bucket an action counts in: its own, or OTHER for anything without one."""
    name = action if action in LIMITS else OTHER
    return name, LIMITS[name]


def address_key(address: str | None) -> str | None:
    """The key a client address counts under: itself for IPv4, its /64 for IPv6 (one home
    or host holds a whole /64, so one address each would be no limit at all)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 address a.b.c.d
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _key(bucket: str, key: object) -> str:
    return f"{bucket}:{key}"


async def ahit(action: str, key: object) -> None:
    """Count one `action` for `key`; RateLimited once its budget in this window is spent."""
    bucket, limit = limit_for(action)
    if not await get_store().hit(_key(bucket, key), limit.hits, limit.window):
        raise RateLimited()


async def ahit_then_room_viewers(action: str, key: object, room_id: int) -> set[int]:
    """`ahit`, and then who has the room open (a send needs both): one trip to the store."""
    bucket, limit = limit_for(action)
    allowed, viewers = await get_store().hit_then_room_viewers(_key(bucket, key), limit.hits, limit.window, room_id)
    if not allowed:
        raise RateLimited()
    return viewers


def hit(action: str, key: object) -> None:
    async_to_sync(ahit)(action, key)


async def acheck(action: str, key: object) -> None:
    """RateLimited if the budget of `action` for `key` is already spent; counts nothing."""
    bucket, limit = limit_for(action)
    if await get_store().hits(_key(bucket, key), limit.window) >= limit.hits:
        raise RateLimited()


def check(action: str, key: object) -> None:
    async_to_sync(acheck)(action, key)
