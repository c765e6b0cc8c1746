"""One contract, two presence stores: the in-process default and Redis (always running in tests).

Stores are built with a short TTL so that expiry happens within the test; waiting for
wall-clock expiry polls the store under a bounded deadline.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest

from chatty.store import InProcessStore, RedisStore

REDIS_URL = "redis://127.0.0.1:6379/0"
TTL = 0.5
DEADLINE = 5.0  # seconds any wait for expiry may take before the test fails

U1, U2, U3 = 101, 102, 103
ROOM = 7


@pytest.fixture(params=["inprocess", "redis"])
async def store(request):
    if request.param == "inprocess":
        yield InProcessStore(ttl=TTL)
        return
    redis_store = RedisStore(REDIS_URL, ttl=TTL, prefix=f"chatty-contract-{uuid.uuid4().hex[:10]}:")
    try:
        yield redis_store
    finally:
        await redis_store.clear()
        await redis_store.aclose()


async def until(check: Callable[[], Awaitable[bool]], *, deadline: float = DEADLINE, every: float = 0.02) -> float:
    """Poll `check` until it holds; the seconds it took. Fails after `deadline`."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > deadline:
            pytest.fail(f"condition still false after {deadline} s")
        await asyncio.sleep(every)
    return time.monotonic() - start


# --- connections and presence --------------------------------------------------------------


async def test_first_connection_comes_online_second_does_not(store):
    assert await store.add_connection(U1, "a") is True
    assert await store.add_connection(U1, "b") is False
    assert await store.add_connection(U2, "c") is True
    assert await store.online([U1, U2, U3]) == {U1, U2}
    # Counting the same connection again (userOnline) is no coming online either.
    assert await store.add_connection(U2, "c") is False
    assert await store.connection_counts() == {U1: 2, U2: 1}


async def test_removing_one_of_two_keeps_the_user_online(store):
    await store.add_connection(U1, "a")
    await store.add_connection(U1, "b")
    assert await store.remove_connection(U1, "a") is False
    assert await store.online([U1]) == {U1}
    assert await store.connection_counts() == {U1: 1}


async def test_removing_the_last_connection_goes_offline_once(store):
    await store.add_connection(U1, "a")
    await store.add_connection(U1, "b")
    await store.remove_connection(U1, "a")
    assert await store.remove_connection(U1, "b") is True
    assert await store.online([U1]) == set()
    # Reported once: not again by a second remove, nor by a sweep after the TTL.
    assert await store.remove_connection(U1, "b") is False
    assert await store.remove_connection(U1, "never-added") is False
    await asyncio.sleep(TTL + 0.05)  # wall-clock expiry, not our code's work
    assert await store.sweep() == []


async def test_expired_connection_is_reported_by_the_sweep_once_and_only_after_the_grace(store):
    grace = 0.8  # longer than the TTL: the grace, not the TTL, decides
    await store.add_connection(U1, "a")
    started = time.monotonic()
    await store.expire_connection(U1, "a", grace)
    assert await store.online([U1]) == {U1}, "a closed connection still counts during its grace"
    assert await store.sweep() == []

    reports: list[int] = []

    async def reported() -> bool:
        reports.extend(await store.sweep())
        return bool(reports)

    await until(reported)
    assert time.monotonic() - started >= grace - 0.05
    assert reports == [U1]
    assert await store.online([U1]) == set()
    assert await store.sweep() == []
    assert await store.remove_connection(U1, "a") is False


async def test_a_new_connection_during_the_grace_does_not_flap(store):
    """A reload: the old connection closes, the new one opens within the grace."""
    await store.add_connection(U1, "old")
    started = time.monotonic()
    await store.expire_connection(U1, "old", 0.4)
    assert await store.add_connection(U1, "new") is False

    async def old_gone() -> bool:
        assert U1 not in await store.sweep()
        await store.refresh({"new": (U1, frozenset())})
        return (await store.connection_counts()).get(U1) == 1 and time.monotonic() - started > 0.45

    await until(old_gone)
    assert await store.online([U1]) == {U1}


async def test_connection_that_expired_unswept_is_replaced_by_a_new_one_without_an_offline_report(store):
    await store.add_connection(U1, "a")
    await until(lambda: _offline(store, U1))
    # The user is back before any sweep ran: they come online again, nobody reports offline.
    assert await store.add_connection(U1, "b") is True
    assert await store.sweep() == []
    assert await store.online([U1]) == {U1}


async def test_logout_with_only_closing_connections_left_goes_offline_at_once(store):
    await store.add_connection(U1, "a")
    await store.add_connection(U1, "b")
    await store.expire_connection(U1, "a", 30)
    assert await store.remove_connection(U1, "b") is True
    assert await store.online([U1]) == set()
    assert await store.sweep() == []


async def test_refresh_keeps_a_connection_alive_past_its_ttl(store):
    await store.add_connection(U1, "a")
    started = time.monotonic()
    while time.monotonic() - started < 3 * TTL:
        last_refresh = time.monotonic()
        assert await store.refresh({"a": (U1, frozenset())}) == set()
        assert await store.online([U1]) == {U1}
        assert await store.sweep() == []
        await asyncio.sleep(TTL / 10)
    # Without refreshes it runs out a TTL after the last one, and the sweep reports it once.
    reports: list[int] = []

    async def reported() -> bool:
        reports.extend(await store.sweep())
        return bool(reports)

    await until(reported)
    assert time.monotonic() - last_refresh >= TTL - 0.02
    assert reports == [U1]


async def test_refresh_does_not_bring_back_removed_closing_or_expired_connections(store):
    await store.add_connection(U1, "removed")
    await store.add_connection(U2, "closing")
    await store.add_connection(U3, "expired")
    await store.add_connection(U3, "open")
    await store.remove_connection(U1, "removed")
    await store.expire_connection(U2, "closing", 0.05)

    async def expired_gone() -> bool:
        await store.refresh({"open": (U3, frozenset())})
        return (await store.connection_counts()).get(U3) == 1

    await until(expired_gone)
    missing = await store.refresh(
        {
            "removed": (U1, frozenset()),
            "closing": (U2, frozenset()),
            "expired": (U3, frozenset()),
            "open": (U3, frozenset()),
        }
    )
    assert missing == {"removed", "closing", "expired"}
    # None came back; the closing connection's short grace (long over) was not extended.
    assert await store.online([U1, U2]) == set()
    assert await store.connection_counts() == {U3: 1}
    assert await store.refresh({}) == set()


async def test_sweep_never_reports_a_user_with_a_live_connection(store):
    await store.add_connection(U1, "a")
    await store.add_connection(U1, "b")
    await store.add_connection(U2, "c")
    await store.expire_connection(U1, "a", 0.05)

    gone: list[int] = []

    async def others_expired() -> bool:
        gone.extend(await store.sweep())
        assert U1 not in gone
        await store.refresh({"b": (U1, frozenset())})
        return (await store.connection_counts()).get(U1) == 1 and U2 in gone

    await until(others_expired)
    assert await store.online([U1, U2]) == {U1}


async def test_online_and_connection_counts(store):
    assert await store.online([]) == set()
    assert await store.connection_counts() == {}
    await store.add_connection(U1, "a")
    await store.add_connection(U1, "b")
    await store.add_connection(U2, "c")
    await store.expire_connection(U2, "c", 30)  # closing connections still count
    assert await store.online([U1, U2, U3]) == {U1, U2}
    assert await store.connection_counts() == {U1: 2, U2: 1}


# --- rooms -----------------------------------------------------------------------------------


async def test_join_leave_and_room_viewers(store):
    assert await store.room_viewers(ROOM) == set()
    await store.join_room(ROOM, U1, "a")
    await store.join_room(ROOM, U2, "c")
    await store.join_room(ROOM, U1, "b")
    await store.join_room(ROOM + 1, U3, "d")
    assert await store.room_viewers(ROOM) == {U1, U2}
    await store.leave_room(ROOM, U1, "a")
    assert await store.room_viewers(ROOM) == {U1, U2}, "U1 still has the room open on b"
    await store.leave_room(ROOM, U1, "b")
    await store.leave_room(ROOM, U1, "b")  # leaving twice is harmless
    assert await store.room_viewers(ROOM) == {U2}
    assert await store.room_viewers(ROOM + 1) == {U3}


async def test_room_viewers_expire_unless_refreshed(store):
    await store.add_connection(U1, "a")
    await store.add_connection(U2, "b")
    await store.join_room(ROOM, U1, "a")
    await store.join_room(ROOM, U2, "b")
    started = time.monotonic()
    while time.monotonic() - started < 3 * TTL:
        await store.refresh({"a": (U1, frozenset({ROOM}))})
        await store.sweep()
        assert U1 in await store.room_viewers(ROOM)
        await asyncio.sleep(TTL / 10)
    assert await store.room_viewers(ROOM) == {U1}, "U2's viewing was not refreshed and expired"

    async def nobody_views() -> bool:
        await store.sweep()
        return await store.room_viewers(ROOM) == set()

    await until(nobody_views)


async def test_refresh_does_not_bring_back_a_left_room(store):
    await store.add_connection(U1, "a")
    await store.join_room(ROOM, U1, "a")
    await store.leave_room(ROOM, U1, "a")
    await store.refresh({"a": (U1, frozenset({ROOM}))})
    assert await store.room_viewers(ROOM) == set()


# --- rate limits and clearing ------------------------------------------------------------


async def test_hit_limits_per_key_within_a_window(store):
    window = 1.5  # the first four hits surely fall in one window, even on a busy machine
    assert [await store.hit("send:1", 3, window) for _ in range(3)] == [True, True, True]
    assert await store.hit("send:1", 3, window) is False
    assert await store.hit("send:1", 3, window) is False
    assert await store.hit("send:2", 3, window) is True, "another key has its own budget"
    assert await store.hit("typing:1", 3, window) is True

    async def allowed_again() -> bool:
        return await store.hit("send:1", 3, window)

    assert await until(allowed_again, every=0.05) <= window + 1.0
    assert await store.hit("send:1", 3, window) is True


async def test_a_send_counts_its_budget_and_learns_the_rooms_viewers_at_once(store):
    await store.add_connection(U1, "a")
    await store.join_room(ROOM, U1, "a")
    window = 60
    assert await store.hit_then_room_viewers("send:9", 2, window, ROOM) == (True, {U1})
    assert await store.hit_then_room_viewers("send:9", 2, window, ROOM + 1) == (True, set())
    assert await store.hit_then_room_viewers("send:9", 2, window, ROOM) == (False, {U1}), "the same budget as hit"
    assert await store.hit("send:9", 2, window) is False


async def test_clear_forgets_everything(store):
    await store.add_connection(U1, "a")
    await store.join_room(ROOM, U1, "a")
    for _ in range(2):
        await store.hit("k", 1, 60)
    assert await store.hit("k", 1, 60) is False
    await store.clear()
    assert await store.online([U1]) == set()
    assert await store.connection_counts() == {}
    assert await store.room_viewers(ROOM) == set()
    assert await store.hit("k", 1, 60) is True
    assert await store.sweep() == []
    assert await store.add_connection(U1, "a") is True


async def _offline(store, user_id: int) -> bool:
    return user_id not in await store.online([user_id])
