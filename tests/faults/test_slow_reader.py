"""One client stops reading while its room receives 1,000 messages (SPEC §4, Delivery).

The requirement: server memory stays bounded, the slow client is cut off and catches up on
reconnect, the others are not slowed.

Setup: the production server, uvicorn (launched as docs/deploy.md's unit file does), on the
test database and a leased Redis database, with CHATTY_SLOW_CLIENT_SECONDS=3. (daphne could
not pass: it applies no backpressure, Twisted buffers whatever the application sends, so a
consumer never learns that its client stopped reading.) A group room holds the slow client S,
three readers R, a sender W on this server and four senders "on another server", each a user
of their own; every connection but S's is read continuously by the test.

- S connects over a socket made to hold little: SO_RCVBUF 4 KiB and an Ethernet MSS (1460)
  set before connect (on loopback the kernel would otherwise buffer megabytes for it), and
  websockets stops reading the socket once 4 frames wait. S joins the room and then reads
  nothing. Its buffers and the server's fill up; uvicorn's `send` then waits for the
  transport to drain, and after 3 s the edge cuts S off (edge/consumer.py
  `Socket._drain`, `_cut_off`).
- The 1,000 messages (3,000 characters each), 80 a second: every 50th is W's sendMessage
  through its socket (20, within chatty.limits' 50 per 10 s), so the server is seen storing and
  acknowledging while S is stuck; the others are stored and published by the test process
  the way a second server process does it (`chats.services.message_send` collecting its
  events, then `group_send` on a channel layer configured as the servers'), which is how
  most of a busy room's traffic reaches a process in a multi-process deployment. Not all
  through sockets on this server: 1,000 messages within the per-user rate limit need 20+
  sending users, each of whose connections gets every `lastMessage`, and on a loaded machine
  their consumers' backlog (when the server falls behind) then dwarfed S's queue in the RSS
  (10 MiB growth with the cut-off working, more than a server keeping S on an idle machine).
  The pace is what a very busy room could see; it makes the burst (about 12.5 s) several
  times longer than the cut-off delay, which is what gives the memory bound a meaning: a
  cut-off bounds what waits for a slow client to what arrives in CHATTY_SLOW_CLIENT_SECONDS.
- Before the burst a warm-up: the same 1,000 messages, unpaced, in another room (not through
  S's connection), so that the RSS before the burst is that of a server that has carried
  this traffic before (a production server has), not one allocating its working set, or
  filling a bounded cache (a per-process cache of rendered frames, 1,024 entries, was being
  added to the consumer while this test was written), for the first time.

Asserted:
1. Every R receives all 1,000 messages, in id order, and W all its acks; no connection but
   S's is cut off. Not slowed, without asserting on a measured duration: the cut-off's log
   record says when it happened, and the send it timed out had been waiting since
   CHATTY_SLOW_CLIENT_SECONDS before it (`asyncio.timeout`), so every message stored in that
   window (the database's created_at) was stored while S's send was stuck. Had S's stall
   held the room up, none of them could have reached anyone before the cut-off. Each R had at
   least a quarter of them by then (99 % or more in the runs here, 71 % once with 25 busy
   socket senders on a loaded machine: the last ones stored are still on their way at the
   cut, more of them when the server falls behind).
2. S is cut off: the server logs it once, for S's user; when S reads again it gets what was
   buffered for it (the room's first messages, in order) and then the connection ends
   without a close frame (1006).
3. Memory stays bounded: the server's peak RSS over the burst (VmHWM, reset through
   /proc/<pid>/clear_refs just before it, and sampled) exceeds its RSS before the burst by
   less than MEMORY_BOUND.
4. S reconnects with connectToRoom + afterId (the last id it saw). Over 500 are missed, so it
   gets `resync` (fewer would be replayed as `message` frames; both are handled), loads the
   rest through GET /api/chat/chat-info with its bearer token, and then holds every message
   id stored in the room.

Calibration of MEMORY_BOUND: the server's RSS growth over the burst, measured as asserted
(2-CPU machine; some runs with tests/multiprocess running alongside; the env var
`test_without_the_cut_off_the_slow_client_costs_more_than_the_bound` checks the unbounded
case on every run; CHATTY_SLOW_READER_CALIBRATE=daphne|reading runs the others by hand):
- S reads like the others (the burst's own cost): 0.1 MiB;
- uvicorn with the 3 s cut-off (this test): 1.4 to 1.8 MiB. What waits for S is bounded by
  what arrives in 3 s: about 175-240 messages (S's buffers held its first 36-39), two layer
  events of ~3.3 KB each per message, about 1.5 MB, freed at the cut-off;
- uvicorn keeping S (cut-off after an hour): 6.2 to 6.5 MiB: the ~960 messages S did not
  take wait in its channel-layer queue (2 x 960 x 3.3 KB = 6.3 MB), and would stay there;
- daphne (no backpressure: Twisted buffers the frames): 6.4 MiB.
MEMORY_BOUND = 4 MiB lies between them, more than 2 MiB from each side. Without the warm-up
the burst's own cost was several MiB, and without the pace and the small MSS S stalled only
after ~450 messages (the kernel held the rest): the figures could then not be told apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import socket
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from websockets.asyncio.client import connect

from tests.faults.conftest import server_env
from tests.multiprocess.conftest import distinct_ids, redis_db_lease
from tests.multiprocess.servers import (
    RedisDbLease,
    ServerFailed,
    ServerProcess,
    postgres_url,
    redis_url_with_db,
    start_servers,
)
from tests.multiprocess.wsclient import ConnectionClosed, WsClient, open_client

__all__ = ["distinct_ids", "redis_db_lease"]

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

SLOW_SECONDS = 3
MESSAGES = 1000
READERS = 3
REMOTE_SENDERS = 4  # their messages are stored and published by the test process
SOCKET_EVERY = 50  # every 50th message is sent by W through its socket on the server
WARM_UP = MESSAGES  # the same burst, unpaced, in another room
RATE = 80.0  # messages per second, all senders together
TEXT_LENGTH = 3000
SLOW_RCVBUF = 4096  # the kernel doubles it
SLOW_MSS = 1460  # an Ethernet path's segments, not loopback's 64 KiB
MIB = 1024 * 1024
MEMORY_BOUND = 4 * MIB  # see the calibration in the module docstring
BURST_DEADLINE = 90.0  # every ack, and every message at every reader, within this
CUT_OFF_DEADLINE = 30.0  # then the cut-off is in the log within this
READ_AGAIN_DEADLINE = 30.0
CUT_OFF_MESSAGE = "cutting off a client that stopped reading (user {})"

# By hand, for the other calibrations of MEMORY_BOUND: "daphne" (no backpressure) or "reading"
# (uvicorn, and S reads like everyone else: the burst's own cost).
CALIBRATE = os.environ.get("CHATTY_SLOW_READER_CALIBRATE", "")


@dataclass
class Conn:
    """A connection that a background task reads all along; keeps ids, not whole frames."""

    name: str
    client: WsClient
    rooms: dict[str, list[int]] = field(default_factory=dict)  # room id -> message ids, as received
    received_at: dict[int, float] = field(default_factory=dict)  # message id -> time.time()
    acks: dict[str, int] = field(default_factory=dict)  # clientId -> messageId
    errors: list[dict] = field(default_factory=list)
    closed: BaseException | None = None


async def _read_forever(conn: Conn) -> None:
    try:
        while True:
            raw = await conn.client.ws.recv()
            now = time.time()
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message":
                message_id = int(frame["message"]["id"])
                conn.rooms.setdefault(frame["chatroomId"], []).append(message_id)
                conn.received_at[message_id] = now
            elif kind == "ack":
                conn.acks[frame["clientId"]] = int(frame["messageId"])
            elif kind == "error":
                conn.errors.append(frame)
    except ConnectionClosed as exc:
        conn.closed = exc


async def _open_slow_client(port: int, token: str) -> WsClient:
    """A client that can hold little: SO_RCVBUF and TCP_MAXSEG set before connect (the window
    scale and MSS are agreed in the handshake); websockets stops reading the socket once 4
    frames wait for `recv`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, SLOW_MSS)
    sock.setblocking(False)
    await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port)), 10)
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/",
        sock=sock,
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=10,
        close_timeout=2,
        ping_interval=None,  # S must not close the connection itself while it does not read
        max_queue=4,
        proxy=None,
    )
    return WsClient(ws, "slow", port)


async def _connect(port: int, token: str, name: str, room_ids: list[str]) -> Conn:
    client = await open_client(port, token, name)
    await client.hello()
    for rid in room_ids:
        assert await client.join(rid) == []
    return Conn(name, client)


class RemoteSenders:
    """Senders on another server process: `message_send` stores each message on a database
    thread and hands back its events (as the consumer does), which then go to a channel layer
    configured as the servers' own (the test settings' layer has a per-run prefix)."""

    def __init__(self, users: list[Any], redis_url: str) -> None:
        from channels_redis.pubsub import RedisPubSubChannelLayer

        self.users = users
        self.layer = RedisPubSubChannelLayer(hosts=[redis_url])
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="remote-senders")
        self.stored: dict[str, int] = {}  # clientId -> message id

    async def send(self, n: int, rid: str, text: str, client_id: str, viewer_ids: set[int]) -> None:
        from chats.services import message_send
        from chatty.realtime import collecting

        store = functools.partial(
            collecting(message_send),
            sender=self.users[n % len(self.users)],
            room_id=int(rid),
            text=text,
            client_id=client_id,
            viewer_ids=viewer_ids,
        )
        (message, _created), events = await asyncio.get_running_loop().run_in_executor(self.executor, store)
        self.stored[client_id] = message.pk
        for group, event in events:
            await self.layer.group_send(group, {**event, "g": group})  # as chatty.realtime publishes

    async def close(self) -> None:
        from django.db import connections

        await asyncio.get_running_loop().run_in_executor(self.executor, connections.close_all)
        self.executor.shutdown()
        await self.layer.flush()


async def _send(
    remote: RemoteSenders, socket_sender: Conn, rid: str, count: int, tag: str, rate: float | None, viewers: set[int]
) -> None:
    """`count` messages: every SOCKET_EVERY-th a sendMessage frame of W, the others from the
    remote senders; `rate` per second when given."""
    started = time.monotonic()
    for n in range(count):
        if rate is not None:
            wait = started + n / rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # the pace of the senders, not a synchronisation
        head = f"{tag} {n} "
        text = head + "x" * (TEXT_LENGTH - len(head))
        client_id = f"{tag}-{n}"
        if n % SOCKET_EVERY == SOCKET_EVERY - 1:
            frame = {"type": "sendMessage", "chatroomId": rid, "message": text, "clientId": client_id}
            await socket_sender.client.send(frame)
        else:
            await remote.send(n, rid, text, client_id, viewers)


async def _wait_for(what: str, predicate, deadline: float, on_tick=None, every: float = 0.05) -> None:
    """Poll `predicate` until it holds; AssertionError past `deadline` (time.monotonic())."""
    while not predicate():
        if on_tick is not None:
            on_tick()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)  # a polling interval


async def _delivered(
    remote: RemoteSenders, socket_sender: Conn, readers: list[Conn], rid: str, tag: str, count: int, on_tick
) -> list[int]:
    """Wait for W's acks and for every reader to hold all `count` messages of `tag`; returns
    the stored ids, sorted."""
    deadline = time.monotonic() + BURST_DEADLINE

    def stored() -> dict[str, int]:
        return {c: i for c, i in (*remote.stored.items(), *socket_sender.acks.items()) if c.startswith(f"{tag}-")}

    def trouble() -> bool:
        return any(c.errors or c.closed for c in (socket_sender, *readers))

    await _wait_for(f"W's {tag} acks", lambda: len(stored()) >= count or trouble(), deadline, on_tick)
    await _wait_for(
        f"the {tag} messages at every reader",
        lambda: all(len(r.rooms.get(rid, [])) >= count for r in readers) or trouble(),
        deadline,
        on_tick,
    )
    for c in (socket_sender, *readers):
        assert not c.errors, f"{c.name}: {c.errors[:3]}"
        assert c.closed is None, f"{c.name} was disconnected: {c.closed!r}"
    ids = sorted(stored().values())
    assert len(ids) == count and len(set(ids)) == count, f"{tag}: {len(ids)} acks, {len(set(ids))} distinct ids"
    for r in readers:
        assert r.rooms[rid] == ids, f"{r.name}: {len(r.rooms[rid])} messages of {count}, or not in id order"
    return ids


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def _reset_peak(pid: int) -> None:
    """VmHWM back to the current RSS (Linux: "5" into /proc/<pid>/clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _cut_offs(server: ServerProcess) -> list[dict[str, Any]]:
    """The cut-off records of the server's JSON log (LOG_FORMAT=json; uvicorn's own lines are text)."""
    records = []
    for line in server.output(max_chars=50_000_000).splitlines():
        if line.startswith("{") and "cutting off" in line:
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    return records


def _history_after(port: int, token: str, rid: str, after_id: int) -> list[int]:
    """Every message id of the room above `after_id`, from GET /api/chat/chat-info pages (newest first)."""
    ids: list[int] = []
    before: int | None = None
    for _ in range(100):
        query = f"chatId={rid}&limit=100" + (f"&before={before}" if before is not None else "")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/chat/chat-info?{query}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            page = json.load(response)
        page_ids = [int(m["id"]) for m in page["messages"]]
        assert page_ids == sorted(page_ids), f"a history page not oldest to newest: {page_ids}"
        ids[:0] = [i for i in page_ids if i > after_id]
        if not page["hasMore"] or not page_ids or page_ids[0] <= after_id:
            return ids
        before = page_ids[0]
    raise AssertionError("the history did not end within 100 pages")


async def _read_until_closed(client: WsClient) -> tuple[list[dict], ConnectionClosed | None]:
    """Everything the client can still read, and how the connection ended (None: it did not)."""
    got: list[dict] = []
    deadline = time.monotonic() + READ_AGAIN_DEADLINE
    while (left := deadline - time.monotonic()) > 0:
        try:
            raw = await asyncio.wait_for(client.ws.recv(), left)
        except ConnectionClosed as exc:
            return got, exc
        except TimeoutError:
            break
        got.append(json.loads(raw))
    return got, None


async def _catch_up(port: int, token: str, rid: str, after_id: int) -> tuple[list[int], dict[str, Any]]:
    """Reconnect, connectToRoom with afterId, and load the rest through the API on resync."""
    client = await open_client(port, token, "slow-again")
    try:
        await client.hello()
        await client.send({"type": "connectToRoom", "chatroomId": rid, "afterId": str(after_id)})
        replayed: list[int] = []
        resync = False
        while True:
            answer = await client.expect(
                pred=lambda f: (
                    (f["type"] == "error" and f.get("ref") == "connectToRoom")
                    or (f["type"] in ("message", "resync", "joinedChatroom") and f.get("chatroomId") == rid)
                )
            )
            assert answer["type"] != "error", f"connectToRoom answered {answer}"
            if answer["type"] == "joinedChatroom":
                break
            if answer["type"] == "resync":
                resync = True
            else:
                replayed.append(int(answer["message"]["id"]))
        assert replayed == sorted(replayed)
        loaded = await asyncio.to_thread(_history_after, port, token, rid, after_id) if resync else []
    finally:
        await client.close()
    report = {"after_id": after_id, "replayed": len(replayed), "resync": resync, "loaded_through_api": len(loaded)}
    return sorted({*replayed, *loaded}), report


def _setup(make_user, befriend, token_for) -> dict[str, Any]:
    from chats.services import room_create

    slow = make_user("Slow")
    readers = [make_user(f"Reader {i}") for i in range(READERS)]
    socket_sender = make_user("W")
    remote = [make_user(f"Remote {i}") for i in range(REMOTE_SENDERS)]
    for other in (*readers, socket_sender, *remote):
        befriend(slow, other)
    friend_ids = [u.pk for u in (*readers, socket_sender, *remote)]
    room, _ = room_create(creator=slow, friend_ids=friend_ids)
    warm_room, _ = room_create(creator=slow, friend_ids=friend_ids)
    return {
        "slow": slow,
        "readers": readers,
        "socket_sender": socket_sender,
        "remote": remote,
        "rid": str(room.pk),
        "warm_rid": str(warm_room.pk),
        "tokens": {u.pk: token_for(u) for u in (slow, *readers, socket_sender)},
    }


def _start_server(request, redis_db_lease: RedisDbLease, kind: str, slow_seconds: float) -> ServerProcess:
    redis_db_lease.flush()
    env = server_env(
        postgres_url(settings.DATABASES["default"]), redis_url_with_db(settings.REDIS_URL, redis_db_lease.db)
    )
    env.update(CHATTY_SLOW_CLIENT_SECONDS=str(slow_seconds), LOG_FORMAT="json")
    server = ServerProcess("slow-reader", env, server=kind)
    request.node.chatty_servers = [server]
    try:
        start_servers([server])
    except ServerFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    return server


def _scenario(server: ServerProcess, world: dict[str, Any], *, slow_reads: bool, cut_off: bool) -> dict[str, Any]:
    """Warm up, connect S and stop reading, send the burst; with `cut_off`, then S reads again
    and catches up. Returns the figures (asserting what does not depend on the server kind)."""
    rid, warm_rid, tokens, port = world["rid"], world["warm_rid"], world["tokens"], server.port
    figures: dict[str, Any] = {}

    viewers = {world["slow"].pk, *(u.pk for u in world["readers"])}  # who has the room open

    async def main() -> None:
        conns: list[Conn] = []
        tasks: list[asyncio.Task] = []
        remote = RemoteSenders(world["remote"], server.env["REDIS_URL"])
        try:
            readers = [
                await _connect(port, tokens[u.pk], f"reader-{i}", [rid, warm_rid])
                for i, u in enumerate(world["readers"])
            ]
            sender = await _connect(port, tokens[world["socket_sender"].pk], "W", [])
            conns = [*readers, sender]
            tasks = [asyncio.create_task(_read_forever(c)) for c in conns]

            await _send(remote, sender, warm_rid, WARM_UP, "warm", None, viewers)
            await _delivered(remote, sender, readers, warm_rid, "warm", WARM_UP, None)

            if slow_reads:  # calibration baseline: S reads like the others
                readers.append(await _connect(port, tokens[world["slow"].pk], "slow", [rid]))
                conns.append(readers[-1])
                tasks.append(asyncio.create_task(_read_forever(readers[-1])))
            else:
                slow = await _open_slow_client(port, tokens[world["slow"].pk])
                await slow.hello()
                assert await slow.join(rid) == []
                # From here on S reads nothing until the burst is over.

            figures["rss_before"] = _memory(server.pid)["VmRSS"]
            _reset_peak(server.pid)
            samples: list[int] = []

            def sample() -> None:
                samples.append(_memory(server.pid)["VmRSS"])

            figures["burst_started"] = time.time()
            await _send(remote, sender, rid, MESSAGES, "burst", RATE, viewers)
            figures["acked"] = await _delivered(remote, sender, readers, rid, "burst", MESSAGES, sample)
            figures["readers_done"] = time.time()
            figures["readers_got"] = [len(r.rooms[rid]) for r in readers]
            figures["w_ids"] = [i for c, i in sender.acks.items() if c.startswith("burst-")]
            figures["received_at"] = [r.received_at for r in readers]
            if cut_off:
                deadline = time.monotonic() + CUT_OFF_DEADLINE
                await _wait_for("the cut-off in the server log", lambda: _cut_offs(server), deadline, sample, 0.1)
            memory = _memory(server.pid)
            figures["rss_after"] = memory["VmRSS"]
            figures["rss_peak"] = max(memory["VmHWM"], memory["VmRSS"], *samples)
            figures["rss_growth"] = figures["rss_peak"] - figures["rss_before"]
            figures["cut_offs"] = _cut_offs(server)
            figures["others_disconnected"] = [c.name for c in conns if c.closed]
            if not cut_off:
                return

            # S reads again: what was buffered for it, then the end of the connection.
            got, ended = await _read_until_closed(slow)
            figures["slow_frames_read"] = len(got)
            figures["slow_seen"] = [int(f["message"]["id"]) for f in got if f["type"] == "message"]
            figures["slow_ended"] = None if ended is None else (slow.ws.close_code, ended.rcvd)
            # S comes back and catches up from the last message it saw.
            after_id = figures["slow_seen"][-1] if figures["slow_seen"] else 0
            figures["slow_caught_up"], figures["catch_up"] = await _catch_up(
                port, tokens[world["slow"].pk], rid, after_id
            )
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for c in conns:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(c.client.close(), 5)
            await remote.close()

    asyncio.run(main())
    return figures


def _print_figures(label: str, figures: dict[str, Any]) -> None:
    bulky = ("acked", "received_at", "slow_seen", "slow_caught_up", "burst_started", "readers_done", "w_ids")
    shown = {k: v for k, v in figures.items() if k not in bulky}
    for key in ("rss_before", "rss_after", "rss_peak", "rss_growth"):
        if key in shown:
            shown[key] = f"{shown[key] / MIB:.1f} MiB"
    if "readers_done" in figures:
        shown["burst_seconds"] = round(figures["readers_done"] - figures["burst_started"], 2)
    print(f"\nslow reader figures ({label}): {shown}")


def test_slow_reader_cut_off_memory_bounded_others_not_slowed_catches_up(
    request, distinct_ids, redis_db_lease, make_user, befriend, token_for
):
    world = _setup(make_user, befriend, token_for)
    slow_user_id = world["slow"].pk
    server = _start_server(request, redis_db_lease, "uvicorn", SLOW_SECONDS)
    figures: dict[str, Any] = {}
    try:
        figures = _scenario(server, world, slow_reads=False, cut_off=True)
        assert server.alive(), "the server process died"
    finally:
        server.stop()
        _print_figures("uvicorn", figures)

    from chats.models import Message

    stored = dict(Message.objects.filter(room_id=int(world["rid"])).values_list("pk", "created_at"))
    acked = figures["acked"]
    assert sorted(stored) == acked, "the room holds messages that were not acknowledged, or lacks some"

    # 2. S, and only S, was cut off; it read what was buffered, then the connection ended (1006).
    cut_offs = figures["cut_offs"]
    assert [c["message"] for c in cut_offs] == [CUT_OFF_MESSAGE.format(slow_user_id)], cut_offs
    assert not figures["others_disconnected"]
    seen = figures["slow_seen"]
    assert seen == acked[: len(seen)], "S did not get the room's first messages in order"
    assert len(seen) < MESSAGES, "S read every message: it was never stalled"
    assert figures["slow_ended"] is not None, (
        f"S: the connection did not end after {figures['slow_frames_read']} frames"
    )
    assert figures["slow_ended"] == (1006, None), f"S: the connection ended with {figures['slow_ended']}"

    # 1. Not slowed: what was stored while S's send was stuck reached the readers before the cut-off.
    cut_at = datetime.fromisoformat(cut_offs[0]["time"]).timestamp()
    stuck = [i for i, at in stored.items() if cut_at - SLOW_SECONDS <= at.timestamp() < cut_at]
    reached = [sum(1 for i in stuck if received_at.get(i, cut_at) < cut_at) for received_at in figures["received_at"]]
    print(
        f"cut off {cut_at - figures['burst_started']:.2f} s into the burst; {len(stuck)} messages stored while "
        f"S's send was stuck ({len(set(stuck) & set(figures['w_ids']))} of them W's, through its socket), "
        f"of which each reader had before the cut-off: {reached}"
    )
    assert len(stuck) >= 10, "hardly anything was stored while S's send was stuck: the burst did not overlap it"
    for n in reached:
        assert n >= max(1, len(stuck) / 4), f"the readers waited for S: {reached} of {len(stuck)}"

    # 3. Bounded memory.
    assert figures["rss_growth"] < MEMORY_BOUND, (
        f"the server grew by {figures['rss_growth'] / MIB:.1f} MiB over the burst (bound {MEMORY_BOUND / MIB:.0f} MiB)"
    )

    # 4. S caught up: it holds every message stored in the room.
    catch_up = figures["catch_up"]
    assert catch_up["resync"] == (MESSAGES - len(seen) > 500), catch_up
    assert sorted({*seen, *figures["slow_caught_up"]}) == acked, "S lacks messages after catching up"


def test_without_the_cut_off_the_slow_client_costs_more_than_the_bound(
    request, distinct_ids, redis_db_lease, make_user, befriend, token_for
):
    """The same burst on a server that keeps the slow client (cut-off after an hour): the
    server grows past MEMORY_BOUND, so the bound above measures the cut-off, not luck.
    (CHATTY_SLOW_READER_CALIBRATE=daphne|reading runs the other calibrations by hand.)"""
    world = _setup(make_user, befriend, token_for)
    kind = "daphne" if CALIBRATE == "daphne" else "uvicorn"
    slow_seconds = SLOW_SECONDS if CALIBRATE == "reading" else 3600
    server = _start_server(request, redis_db_lease, kind, slow_seconds)
    figures: dict[str, Any] = {}
    try:
        figures = _scenario(server, world, slow_reads=CALIBRATE == "reading", cut_off=False)
    finally:
        server.stop()
        _print_figures(f"calibration: {CALIBRATE or 'unbounded'}", figures)
    if CALIBRATE == "reading":
        return
    assert figures["rss_growth"] >= MEMORY_BOUND, (
        f"without the cut-off the server grew by only {figures['rss_growth'] / MIB:.1f} MiB "
        f"(bound {MEMORY_BOUND / MIB:.0f} MiB): the bound cannot tell a cut-off from none"
    )
