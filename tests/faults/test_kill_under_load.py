"""SPEC §7 under load: two server processes, 50 clients at 2 messages/s each, `kill -9` one of them.

Two daphne processes, A and B, on the test database and one leased Redis database (the
fixtures of tests/multiprocess). 50 users in 10 group rooms of 5; every room has members on
both processes. Each client behaves like a real one: it sends on a fixed schedule with a
unique `clientId`, keeps an outbox of what is not acknowledged yet, and when its connection
drops it reconnects (to the other process), sends `connectToRoom` with `afterId` = the last
message id it saw, then sends its whole outbox again with the same clientIds.

A is killed with SIGKILL a few seconds into the run. Afterwards:
- 0 lost: every acknowledged clientId is stored, with the acknowledged id and the sent text;
- 0 duplicates: one row per (sender, clientId), no row that no one sent, no clientId acked
  with two different ids, no message id received twice by a client;
- every client of A reconnected, every client of B kept its connection, and every client
  received every message of its room that is stored, once each, in id order, across its
  connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.multiprocess.conftest import chatty_servers, distinct_ids, redis_db_lease, require_postgres_and_redis
from tests.multiprocess.servers import ServerProcess
from tests.multiprocess.wsclient import ConnectionClosed, WsClient, open_client

# Fixtures of tests/multiprocess/conftest.py, used here by name.
__all__ = ["chatty_servers", "distinct_ids", "redis_db_lease"]

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

ROOMS = 10
MEMBERS = 5  # 10 rooms x 5 members = 50 clients
RATE = 2.0  # messages per second per client
WINDOW = 10.0  # seconds of sending
KILL_AFTER = 3.5  # seconds into the window
PER_CLIENT = int(WINDOW * RATE)  # 20 per client: under the 50-per-10-s send limit, resends included
RECONNECT_WITHIN = 20.0  # a dropped client must be back (joined, outbox resent) within this
RETRY_ERROR_AFTER = 0.5  # pace of a resend after an error frame for a clientId
MAX_ERROR_RETRIES = 10
SETTLE_TIMEOUT = 75.0  # after the window: every send acknowledged, every stored message received


@dataclass
class Conn:
    """One connection-lifetime of a client."""

    server: str
    opened_at: float
    received: list[int] = field(default_factory=list)  # `message` ids of the room, in arrival order
    joined_at: float | None = None
    closed_at: float | None = None
    close_reason: str = ""


@dataclass
class Client:
    name: str
    user_id: int
    token: str
    room_id: int
    home: str  # "A" or "B": the process it connects to first
    texts: dict[str, str] = field(default_factory=dict)  # every clientId created -> text
    created_at: dict[str, float] = field(default_factory=dict)  # clientId -> when the schedule made it
    ack_seconds: dict[str, float] = field(default_factory=dict)  # clientId -> from made to first ack
    outbox: dict[str, str] = field(default_factory=dict)  # clientId -> text, not acknowledged yet
    acks: dict[str, str] = field(default_factory=dict)  # clientId -> messageId (the first ack)
    acked_by: dict[str, str] = field(default_factory=dict)  # clientId -> server whose connection acked it
    conflicting_acks: list[tuple[str, str, str]] = field(default_factory=list)  # clientId, first id, other id
    unknown_acks: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    error_retries: Counter = field(default_factory=Counter)
    resync: list[dict] = field(default_factory=list)
    retry_tasks: set[asyncio.Task] = field(default_factory=set)
    payloads: dict[int, dict] = field(default_factory=dict)  # message id -> last payload received
    resent_after_drop: set[str] = field(default_factory=set)
    unacked_at_kill: int = 0
    conns: list[Conn] = field(default_factory=list)
    ws: WsClient | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # connected, joined, outbox resent
    first_join: asyncio.Event = field(default_factory=asyncio.Event)
    last_seen: int = 0  # the highest message id received (afterId on reconnect)

    def received(self) -> list[int]:
        return [i for conn in self.conns for i in conn.received]


def _make_population(make_user, befriend, token_for) -> list[Client]:
    """10 group rooms of 5 friends; members alternate between A and B (25 each, both in every room)."""
    from chats.services import room_create

    clients: list[Client] = []
    n = 0
    for r in range(ROOMS):
        users = [make_user(f"Load {r}-{i}") for i in range(MEMBERS)]
        for other in users[1:]:
            befriend(users[0], other)
        room, _ = room_create(creator=users[0], friend_ids=[u.pk for u in users[1:]])
        for i, user in enumerate(users):
            home = "A" if n % 2 == 0 else "B"
            n += 1
            clients.append(Client(f"r{r}m{i}@{home}", user.pk, token_for(user), room.pk, home))
    return clients


def _stored(room_ids: list[int]) -> list[dict[str, Any]]:
    """The rows of the rooms, read in a thread of its own (called from the event loop too)."""
    from django.db import connections

    from chats.models import Message

    try:
        return list(
            Message.objects.filter(room_id__in=room_ids)
            .order_by("id")
            .values("id", "room_id", "sender_id", "client_id", "text", "created_at")
        )
    finally:
        connections.close_all()


class Run:
    """The clients, their connections and the schedule of one run."""

    def __init__(self, clients: list[Client], servers: dict[str, ServerProcess]) -> None:
        self.clients = clients
        self.servers = servers
        self.progress = asyncio.Event()  # set on every ack, message and (re)join
        self.done = False
        self.killed_at: float | None = None
        self.killed_wall: datetime.datetime | None = None  # to compare with the rows' created_at

    async def wait_until(self, cond: Callable[[], bool], timeout: float, what: Callable[[], str]) -> float:
        """Poll frames (through `progress`) until `cond()`; AssertionError naming `what()` after `timeout`."""
        started = time.monotonic()
        deadline = started + timeout
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(what())
            self.progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.progress.wait(), left)
        return time.monotonic() - started

    # --- one client's connection: connect, join, resend, read until it drops ---------------

    async def _connect(self, client: Client) -> tuple[WsClient, str]:
        """The home process first; after a drop the other one first (a dead one refuses at once)."""
        order = [client.home, "B" if client.home == "A" else "A"]
        if client.conns:
            order.reverse()
        deadline = time.monotonic() + RECONNECT_WITHIN
        attempt = 0
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            name = order[attempt % 2]
            attempt += 1
            try:
                return await open_client(self.servers[name].port, client.token, client.name, timeout=5), name
            except (OSError, TimeoutError, ConnectionClosed) as exc:  # refused, reset, slow handshake
                last_error = exc
            await asyncio.sleep(0.1)  # reconnect back-off, not a synchronisation
        raise AssertionError(f"{client.name}: could not reconnect within {RECONNECT_WITHIN:.0f} s: {last_error!r}")

    async def connection_loop(self, client: Client) -> None:
        while not self.done:
            ws, server = await self._connect(client)
            conn = Conn(server, time.monotonic())
            client.conns.append(conn)
            client.ws = ws
            try:
                after = {"afterId": str(client.last_seen)}
                await ws.send({"type": "connectToRoom", "chatroomId": str(client.room_id), **after})
                # The whole outbox again, same clientIds (also what is added meanwhile).
                sent_here: set[str] = set()
                while pending := [c for c in client.outbox if c not in sent_here]:
                    for client_id in pending:
                        sent_here.add(client_id)
                        if len(client.conns) > 1:
                            client.resent_after_drop.add(client_id)
                        await self._send(ws, client, client_id)
                client.ready.set()
                async for raw in ws.ws:
                    self._handle(client, conn, json.loads(raw))
                conn.close_reason = f"closed {ws.ws.close_code}"
            except ConnectionClosed as exc:
                conn.close_reason = f"dropped ({exc!r})"
            finally:
                client.ready.clear()
                client.ws = None
                conn.closed_at = time.monotonic()

    async def _send(self, ws: WsClient, client: Client, client_id: str) -> None:
        frame = {
            "type": "sendMessage",
            "chatroomId": str(client.room_id),
            "message": client.texts[client_id],
            "clientId": client_id,
        }
        await ws.send(frame)

    async def _resend_after_error(self, client: Client, client_id: str) -> None:
        await asyncio.sleep(RETRY_ERROR_AFTER)  # pacing of a retry, not a synchronisation
        ws = client.ws
        if client_id in client.outbox and ws is not None and client.ready.is_set():
            with contextlib.suppress(ConnectionClosed):
                await self._send(ws, client, client_id)

    def _handle(self, client: Client, conn: Conn, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "message" and frame.get("chatroomId") == str(client.room_id):
            message_id = int(frame["message"]["id"])
            conn.received.append(message_id)
            client.payloads[message_id] = frame["message"]
            client.last_seen = max(client.last_seen, message_id)
            self.progress.set()
        elif kind == "ack":
            client_id = frame.get("clientId")
            if client_id not in client.texts:
                client.unknown_acks.append(frame)
            elif client_id in client.acks:
                if client.acks[client_id] != frame["messageId"]:
                    client.conflicting_acks.append((client_id, client.acks[client_id], frame["messageId"]))
            else:
                client.acks[client_id] = frame["messageId"]
                client.ack_seconds[client_id] = time.monotonic() - client.created_at[client_id]
                client.acked_by[client_id] = conn.server
            client.outbox.pop(client_id, None)
            self.progress.set()
        elif kind == "joinedChatroom" and frame.get("chatroomId") == str(client.room_id):
            conn.joined_at = time.monotonic()
            client.first_join.set()
            self.progress.set()
        elif kind == "resync":
            client.resync.append(frame)
            self.progress.set()
        elif kind == "error":
            client.errors.append(frame)
            client_id = frame.get("clientId")
            if frame.get("ref") == "sendMessage" and client_id in client.outbox:
                client.error_retries[client_id] += 1
                if client.error_retries[client_id] <= MAX_ERROR_RETRIES:
                    task = asyncio.create_task(self._resend_after_error(client, client_id))
                    client.retry_tasks.add(task)
                    task.add_done_callback(client.retry_tasks.discard)
            self.progress.set()

    # --- the schedule ------------------------------------------------------------------

    async def sender(self, client: Client, index: int, start: float) -> None:
        """PER_CLIENT messages at RATE per second from `start`, clients spread over the period."""
        period = 1.0 / RATE
        offset = period * index / len(self.clients)
        for k in range(PER_CLIENT):
            delay = start + offset + k * period - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the send schedule, not a synchronisation
            client_id = f"load-{k}"
            client.texts[client_id] = f"{client.name} message {k}"
            client.created_at[client_id] = time.monotonic()
            client.outbox[client_id] = client.texts[client_id]
            ws = client.ws
            if ws is not None and client.ready.is_set():
                with contextlib.suppress(ConnectionClosed):
                    await self._send(ws, client, client_id)
            # Otherwise the reconnect sends it with the rest of the outbox.

    async def killer(self, start: float) -> None:
        delay = start + KILL_AFTER - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # when the fault happens, not a synchronisation
        for client in self.clients:
            client.unacked_at_kill = len(client.outbox)
        self.killed_at = time.monotonic()
        self.killed_wall = datetime.datetime.now(datetime.UTC)
        await asyncio.to_thread(self.servers["A"].kill9)


def _ids_problem(name: str, got: list[int], expected: list[int]) -> str:
    counts = Counter(got)
    dups = sorted(i for i, n in counts.items() if n > 1)
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    disorder = [(a, b) for a, b in itertools.pairwise(got) if a >= b and a not in dups]
    return (
        f"{name}: received {len(got)} message ids, {len(expected)} stored; missing {missing}, "
        f"received twice {dups}, not stored {extra}, out of id order {disorder[:10]}"
    )


def test_kill_9_under_load_loses_nothing_duplicates_nothing_and_everyone_catches_up(
    chatty_servers, make_user, befriend, token_for
):
    require_postgres_and_redis()
    wall_started = time.monotonic()
    a, b = chatty_servers("A", "B")
    clients = _make_population(make_user, befriend, token_for)
    room_ids = sorted({c.room_id for c in clients})
    figures: dict[str, Any] = {}
    run = Run(clients, {"A": a, "B": b})

    async def scenario() -> None:
        loops = [asyncio.create_task(run.connection_loop(c)) for c in clients]
        try:
            # Everyone connected and joined before the first message (a bounded wait on frames).
            await run.wait_until(
                lambda: all(c.first_join.is_set() for c in clients) or any(t.done() for t in loops),
                30,
                lambda: f"not joined within 30 s: {[c.name for c in clients if not c.first_join.is_set()]}",
            )
            for t in loops:
                if t.done():
                    t.result()  # a client that could not connect: raise its error
            start = time.monotonic() + 0.2
            senders = [asyncio.create_task(run.sender(c, i, start)) for i, c in enumerate(clients)]
            killer = asyncio.create_task(run.killer(start))
            await asyncio.gather(*senders, killer)
            figures["window seconds"] = round(time.monotonic() - start, 1)

            # Every client of A is back (on B), joined, its outbox sent again.
            a_clients = [c for c in clients if c.home == "A"]
            await run.wait_until(
                lambda: (
                    all(len(c.conns) > 1 and c.conns[-1].joined_at and c.ready.is_set() for c in a_clients)
                    or any(t.done() for t in loops)
                ),
                RECONNECT_WITHIN,
                lambda: (
                    "clients of A not reconnected and joined: "
                    + str([(c.name, [(k.server, k.close_reason) for k in c.conns]) for c in a_clients])
                ),
            )
            for t in loops:
                if t.done():
                    t.result()
            assert run.killed_at is not None
            figures["reconnected, seconds after the kill (max)"] = round(
                max(c.conns[1].joined_at - run.killed_at for c in a_clients), 2
            )

            # Drain: every send acknowledged ...
            settle_started = time.monotonic()
            await run.wait_until(
                lambda: all(not c.outbox for c in clients),
                SETTLE_TIMEOUT,
                lambda: (
                    "never acknowledged (sent, resent after errors/reconnects, no ack): "
                    + str({c.name: list(c.outbox) for c in clients if c.outbox})
                    + f"; errors: {[e for c in clients for e in c.errors][:10]}"
                ),
            )
            # ... and every stored message of the room received by every member.
            rows = await asyncio.to_thread(_stored, room_ids)
            by_room: dict[int, list[int]] = {}
            for row in rows:
                by_room.setdefault(row["room_id"], []).append(row["id"])

            def caught_up() -> bool:
                return all(set(by_room.get(c.room_id, [])) <= set(c.received()) for c in clients) or bool(
                    [c for c in clients if c.resync]
                )

            await run.wait_until(
                caught_up,
                SETTLE_TIMEOUT - (time.monotonic() - settle_started),
                lambda: (
                    "clients that never received stored messages of their room: "
                    + str(
                        {
                            c.name: sorted(set(by_room.get(c.room_id, [])) - set(c.received()))
                            for c in clients
                            if not set(by_room.get(c.room_id, [])) <= set(c.received())
                        }
                    )
                ),
            )
            figures["drain seconds"] = round(time.monotonic() - settle_started, 2)
        finally:
            run.done = True
            for c in clients:
                if c.ws is not None:
                    with contextlib.suppress(Exception):
                        await c.ws.close()
            for t in [*loops, *(r for c in clients for r in c.retry_tasks)]:
                t.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    asyncio.run(scenario())

    # --- the figures -----------------------------------------------------------------------
    rows = _stored(room_ids)
    by_user_id = {c.user_id: c for c in clients}
    sent = sum(len(c.texts) for c in clients)
    acked = sum(len(c.acks) for c in clients)
    killed_wall = run.killed_wall
    stored_before_kill_acked_after = sum(
        1
        for r in rows
        if killed_wall is not None
        and r["created_at"] < killed_wall
        and r["client_id"] in by_user_id[r["sender_id"]].resent_after_drop
    )
    latencies = sorted(t for c in clients for t in c.ack_seconds.values())
    figures.update(
        {
            "clients": len(clients),
            "messages sent": sent,
            "acked": acked,
            "acked through A": sum(1 for c in clients for s in c.acked_by.values() if s == "A"),
            "acked through B": sum(1 for c in clients for s in c.acked_by.values() if s == "B"),
            "rows in DB": len(rows),
            "unacked at the kill": sum(c.unacked_at_kill for c in clients),
            "resent after the kill": sum(len(c.resent_after_drop) for c in clients),
            "stored by A before the kill, first acked by B on the resend": stored_before_kill_acked_after,
            "clients reconnected": sum(1 for c in clients if len(c.conns) > 1),
            "error frames": sum(len(c.errors) for c in clients),
            "message frames received": sum(len(c.received()) for c in clients),
            "ack seconds p50/p95/max": [
                round(latencies[int(q * (len(latencies) - 1))], 2) if latencies else None for q in (0.5, 0.95, 1.0)
            ],
            "wall seconds": round(time.monotonic() - wall_started, 1),
        }
    )
    print(f"\nkill -9 under load: {figures}")

    # --- 0 duplicates ----------------------------------------------------------------------
    per_key = Counter((row["sender_id"], row["client_id"]) for row in rows)
    duplicated = {
        key: [r["id"] for r in rows if (r["sender_id"], r["client_id"]) == key] for key, n in per_key.items() if n > 1
    }
    assert not duplicated, f"stored more than once (sender id, clientId) -> message ids: {duplicated}"
    phantom = [
        r for r in rows if r["sender_id"] not in by_user_id or r["client_id"] not in by_user_id[r["sender_id"]].texts
    ]
    assert not phantom, f"stored, but no client ever sent these: {phantom}"
    conflicting = {c.name: c.conflicting_acks for c in clients if c.conflicting_acks}
    assert not conflicting, f"one clientId acknowledged with two message ids (clientId, first, later): {conflicting}"
    unknown = {c.name: c.unknown_acks for c in clients if c.unknown_acks}
    assert not unknown, f"acks for clientIds the client never sent: {unknown}"

    # --- 0 lost ----------------------------------------------------------------------------
    stored = {(r["sender_id"], r["client_id"]): r for r in rows}
    lost = []
    for c in clients:
        for client_id, message_id in c.acks.items():
            row = stored.get((c.user_id, client_id))
            if row is None or str(row["id"]) != message_id or row["text"] != c.texts[client_id]:
                lost.append((c.name, client_id, message_id, c.acked_by[client_id], row))
    assert not lost, f"acknowledged but not stored as acknowledged (client, clientId, acked id, via, row): {lost}"
    never_acked = {c.name: sorted(set(c.texts) - set(c.acks)) for c in clients if set(c.texts) - set(c.acks)}
    assert not never_acked, f"sent but never acknowledged: {never_acked}"
    assert sent == acked == len(rows), f"sent {sent}, acked {acked}, stored {len(rows)}"
    wrong_room = [r for r in rows if r["room_id"] != by_user_id[r["sender_id"]].room_id]
    assert not wrong_room, f"stored in another room than the one sent to: {wrong_room}"

    # --- every client reconnected (A) or kept its connection (B), and caught up ----------
    not_back = [
        (c.name, [(k.server, k.close_reason) for k in c.conns])
        for c in clients
        if c.home == "A" and not (len(c.conns) >= 2 and c.conns[1].server == "B" and c.conns[1].joined_at)
    ]
    assert not not_back, f"clients of the killed process that did not reconnect to B and rejoin: {not_back}"
    dropped_b = [
        (c.name, [(k.server, k.close_reason) for k in c.conns[:-1]])
        for c in clients
        if c.home == "B" and len(c.conns) > 1
    ]
    assert not dropped_b, f"clients of B lost their connection although B was not killed: {dropped_b}"
    resync = {c.name: c.resync for c in clients if c.resync}
    assert not resync, f"resync instead of a replay (more than the catch-up limit missed?): {resync}"
    room_ids_stored = {room: [r["id"] for r in rows if r["room_id"] == room] for room in room_ids}
    problems = [
        _ids_problem(c.name, c.received(), room_ids_stored[c.room_id])
        for c in clients
        if c.received() != room_ids_stored[c.room_id]
    ]
    assert not problems, "message frames across each client's connections, vs the room's stored ids:\n" + "\n".join(
        problems[:20]
    )
    per_conn_disorder = [
        (c.name, k.server, k.received) for c in clients for k in c.conns if k.received != sorted(set(k.received))
    ]
    assert not per_conn_disorder, f"message ids not strictly increasing on one connection: {per_conn_disorder[:5]}"
    by_id = {r["id"]: r for r in rows}
    wrong_payload = [
        (c.name, i, p)
        for c in clients
        for i, p in c.payloads.items()
        if p["message"] != by_id[i]["text"] or int(p["senderId"]) != by_id[i]["sender_id"]
    ]
    assert not wrong_payload, f"message frames whose text or sender differ from the stored row: {wrong_payload[:10]}"
