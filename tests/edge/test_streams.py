"""The room stream (edge/streams.py) as a plain object: order, gap fill, the join hold and
resync, without Channels or a database (the missed messages come from a stand-in reader)."""

from __future__ import annotations

import asyncio
from typing import Any

from edge.streams import RoomStream

ROOM = 7


def msg(message_id: int) -> dict[str, Any]:
    return {"id": str(message_id), "chatroomId": str(ROOM), "message": f"m{message_id}"}


def event(message_id: int, previous_id: int) -> dict[str, Any]:
    return {"type": "chat.message", "message": msg(message_id), "previous_id": previous_id}


class Room:
    """What the database holds, and what each socket was sent."""

    def __init__(self, stored: list[int], *, limit: int = 500) -> None:
        self.stored = stored
        self.limit = limit
        self.reads: list[tuple[int, int]] = []
        self.renders = 0
        self.sent: dict[str, list[Any]] = {}
        self.gate: asyncio.Event | None = None
        self.stream = RoomStream(
            ROOM, fetch_missed=self.fetch, render=self.render, deliver=self.deliver, resync=self.resync
        )

    async def fetch(self, room_id: int, after_id: int, before_id: int) -> tuple[list[dict], bool]:
        self.reads.append((after_id, before_id))
        if self.gate is not None:
            await self.gate.wait()
        newer = [i for i in self.stored if i > after_id]
        return [msg(i) for i in newer[: self.limit] if i < before_id], len(newer) > self.limit

    def render(self, payload: dict) -> int:
        self.renders += 1
        return int(payload["id"])

    def deliver(self, conn: str, rendered: int) -> None:
        self.sent.setdefault(conn, []).append(rendered)

    def resync(self, conn: str, room_id: int) -> None:
        self.sent.setdefault(conn, []).append("resync")


async def settle(room: Room) -> None:
    """Let a gap fill finish (it runs as a task of its own)."""
    while room.stream.filling is not None:
        await asyncio.wait([room.stream.filling])


async def test_messages_reach_every_joined_socket_once_in_order_rendered_once_each():
    room = Room([1, 2, 3])
    for conn in ("a", "b"):
        room.stream.add(conn)
        room.stream.joined(conn, 3)
    for i, prev in ((4, 3), (5, 4), (5, 4), (6, 5)):  # 5 twice: a duplicate is passed on once
        room.stored.append(i) if i not in room.stored else None
        room.stream.on_message(event(i, prev))
    assert room.sent == {"a": [4, 5, 6], "b": [4, 5, 6]}
    assert room.renders == 3  # once per message, not once per socket
    assert room.reads == []


async def test_a_gap_is_filled_from_the_database_once_for_all_sockets_then_the_rest_in_order():
    room = Room([1, 2, 3, 4, 5, 6])
    for conn in ("a", "b", "c"):
        room.stream.add(conn)
        room.stream.joined(conn, 3)
    room.gate = asyncio.Event()
    room.stream.on_message(event(6, 5))  # 4 and 5 were published by another process, later
    room.stream.on_message(event(4, 3))  # arrives while the fill reads: waits, then is known
    room.gate.set()
    await settle(room)
    room.stream.on_message(event(5, 4))  # the late one: nothing new
    room.stream.on_message(event(7, 6))
    assert room.sent == {c: [4, 5, 6, 7] for c in "abc"}
    assert room.reads == [(3, 6)]


async def test_a_joining_socket_gets_what_arrived_during_its_join_after_its_replay_without_doubles():
    room = Room([1, 2, 3])
    room.stream.add("old")
    room.stream.joined("old", 3)
    room.stream.add("new")  # subscribed; its join now reads the database
    room.stream.on_message(event(4, 3))  # stored before its read: its replay covers it
    room.stream.on_message(event(5, 4))  # stored after its read
    room.stream.joined("new", 4)
    room.stream.on_message(event(6, 5))
    assert room.sent == {"old": [4, 5, 6], "new": [5, 6]}


async def test_a_new_stream_waits_for_its_first_join_to_know_where_it_stands():
    room = Room([1, 2, 3, 4])
    room.stream.add("a")
    room.stream.on_message(event(4, 3))  # came before the join read: no baseline yet
    room.stream.on_message(event(5, 4))
    room.stream.joined("a", 4)  # the join read up to 4
    assert room.sent == {"a": [5]}
    assert room.reads == []


async def test_too_much_missed_is_a_resync_for_every_socket_and_the_stream_goes_on():
    room = Room([*range(1, 12)], limit=5)
    room.stream.add("a")
    room.stream.joined("a", 1)
    room.stream.add("b")  # still joining: gets the resync after its replay
    room.stream.on_message(event(11, 10))
    await settle(room)
    room.stream.joined("b", 1)
    room.stream.on_message(event(12, 11))
    assert room.sent == {"a": ["resync", 12], "b": ["resync", 12]}


async def test_a_socket_that_left_gets_nothing_more():
    room = Room([1])
    room.stream.add("a")
    room.stream.joined("a", 1)
    room.stream.add("b")
    room.stream.joined("b", 1)
    room.stream.remove("b")
    room.stream.on_message(event(2, 1))
    assert room.sent == {"a": [2]}
    assert len(room.stream) == 1
