"""Fan-out benchmark: R rooms of K members, every member sending r messages a second.

    .venv/bin/python bench/fanout.py [--rooms 10] [--room-size 10] [--rate 1] [--seconds 20]
        [--warmup 5] [--server daphne|uvicorn|granian] [--layer pubsub|core] [--messages 0]
        [--path /ws/|/ws/ui/] [--auth token|cookie] [--edits 0.1] [--reactions 0.2]

Each member is its own user with its own websocket, speaking the real protocol (SPEC §4):
`connectToRoom`, then `sendMessage` with a `clientId`. The text of each message carries the
sender's send time, so every receiver's copy gives a send-to-receive latency; `ack` frames give
the send-to-ack latency (stored in the database). Counted are the messages sent after the
warm-up, for `--seconds`: each is expected on every joined connection of its room (K when all
joined; the sender's own is joined too).

`--path /ws/` (the default) is the API clients' socket: a delivery is a `message` frame.
`--path /ws/ui/` is the browser's socket, used as the page uses it: it gets every JSON frame and
after it the HTML for htmx (`<ol hx-swap-oob="beforeend:#messages"><li id="msg-...">`), and a
delivery is such a message fragment (its latency read from the text in it); the JSON `message`
frames are reported beside it. `--auth token` (the default) sends the seeded bearer token in
the Authorization header; `--auth cookie` signs every user in as a browser (a Django session
each, made in the benchmark database) and sends the session cookie. On /ws/ui/, and with
cookies, the handshake carries the page's `Origin: http://127.0.0.1:<port>` as a browser's does.

Server CPU per delivery is the server's CPU seconds over the window divided by the deliveries
that arrived in the window (the same for the generator, this process).

The script makes its own PostgreSQL database (chatty_bench_rt, from a migrated template),
seeds it with `seed_demo --manifest`, empties its own Redis database (13 by default), starts
the server pinned to core 1 with `taskset` and runs the generator (asyncio + websockets, uvloop
when installed) pinned to core 0 in this process. Everything binds and targets 127.0.0.1 and
every phase has a timeout. It prints figures and asserts nothing.

`--edits F` and `--reactions F` put SPEC §9 in the mix: of each member's turns, a fraction F
edits its own newest acknowledged message (`editMessage`, the text again with its send time, so
`messageEdited` frames give a latency too) and another toggles 👍 on the newest message it
received (`react`); the rest send. Their frames are counted beside the deliveries, and the CPU
per event then covers all three (`server CPU per frame out`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

DATABASE = "chatty_bench_rt"
MARK = '"bench|'
HTML_MARK = re.compile(r"bench\|\d+\|\d+\|(\d+)")  # the message text in an HTML fragment
PATHS = ("/ws/", "/ws/ui/")
AUTHS = ("token", "cookie")


@dataclass
class Tally:
    """Frames of one kind that carry a message (JSON `message`, or an HTML message fragment)."""

    delivered: int = 0  # of messages sent in the window
    received_in_window: int = 0  # that arrived in the window, whenever sent
    latencies: array = field(default_factory=lambda: array("q"))  # ns, of the delivered
    served_latencies: array = field(default_factory=lambda: array("q"))  # ns, of the received in the window

    def record(self, stats: Stats, at: int, sent_at: int) -> None:
        if stats.window_start <= at < stats.window_end:
            self.received_in_window += 1
            self.served_latencies.append(at - sent_at)
        if stats.window_start <= sent_at < stats.window_end:
            self.delivered += 1
            self.latencies.append(at - sent_at)


@dataclass
class Stats:
    window_start: int = 0  # perf_counter_ns
    window_end: int = 0
    sent: int = 0  # in the window
    expected: int = 0  # deliveries of those: the joined connections of the sender's room
    room_live: dict[str, int] = field(default_factory=dict)  # room id -> joined connections
    sent_total: int = 0
    acked: int = 0  # acks of messages sent in the window
    json: Tally = field(default_factory=Tally)  # `message` frames
    html: Tally = field(default_factory=Tally)  # HTML message fragments (/ws/ui/)
    ui: bool = False  # /ws/ui/: the HTML fragments are the deliveries
    edited: Tally = field(default_factory=Tally)  # `messageEdited` frames of edits sent in the window
    edits_sent: int = 0  # in the window
    reactions_sent: int = 0  # in the window
    reaction_frames: int = 0  # `reactionsChanged` frames (any time)
    last_message: int = 0  # lastMessage frames (any time)
    html_frames: int = 0  # HTML frames of any kind (any time)
    frames: int = 0  # every frame received
    closing: bool = False  # the generator is closing its connections: closes are not early
    acks_in_window: int = 0  # acks that arrived in the window, whenever sent
    errors: Counter = field(default_factory=Counter)
    closed: Counter = field(default_factory=Counter)
    ack_latencies: array = field(default_factory=lambda: array("q"))
    send_lag: array = field(default_factory=lambda: array("q"))  # ns behind schedule

    @property
    def deliveries(self) -> Tally:
        """What counts as a delivery on this socket."""
        return self.html if self.ui else self.json


class Member:
    __slots__ = ("headers", "index", "joined", "last_mine", "last_seen", "pending", "reader", "room_id", "ws")

    def __init__(self, index: int, headers: dict[str, str], room_id: str) -> None:
        self.index = index
        self.headers = headers  # its credentials: Authorization or Cookie
        self.room_id = room_id
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.joined = asyncio.Event()
        self.pending: dict[str, int] = {}  # clientId -> send time (ns), until acked
        self.last_mine = ""  # id of this member's newest acknowledged message (to edit)
        self.last_seen = ""  # id of the newest message it received (to react to)


async def read_frames(member: Member, stats: Stats) -> None:
    ws = member.ws
    now = time.perf_counter_ns
    try:
        async for raw in ws:
            stats.frames += 1
            if raw.startswith("<"):
                # /ws/ui/'s HTML, after the JSON frame of the same event.
                at = now()
                stats.html_frames += 1
                if 'id="msg-' in raw:
                    found = HTML_MARK.search(raw)
                    if found is not None:
                        stats.html.record(stats, at, int(found.group(1)))
            elif raw.startswith('{"type":"message"'):
                at = now()
                i = raw.find(MARK)
                if i < 0:
                    continue
                j = raw.find('"', i + 1)
                stats.json.record(stats, at, int(raw[i + 1 : j].rsplit("|", 1)[1]))
                k = raw.find('"id":"') + 6
                member.last_seen = raw[k : raw.find('"', k)]
            elif raw.startswith('{"type":"messageEdited"'):
                at = now()
                i = raw.find(MARK)
                if i >= 0:
                    j = raw.find('"', i + 1)
                    stats.edited.record(stats, at, int(raw[i + 1 : j].rsplit("|", 1)[1]))
            elif raw.startswith('{"type":"reactionsChanged"'):
                stats.reaction_frames += 1
            elif raw.startswith('{"type":"lastMessage"'):
                stats.last_message += 1
            elif raw.startswith('{"type":"ack"'):
                at = now()
                i = raw.find('"clientId":"') + 12
                client_id = raw[i : raw.find('"', i)]
                k = raw.find('"messageId":"') + 13
                member.last_mine = raw[k : raw.find('"', k)]
                sent_at = member.pending.pop(client_id, None)
                if stats.window_start <= at < stats.window_end:
                    stats.acks_in_window += 1
                if sent_at is not None and stats.window_start <= sent_at < stats.window_end:
                    stats.acked += 1
                    stats.ack_latencies.append(at - sent_at)
            elif raw.startswith('{"type":"joinedChatroom"'):
                member.joined.set()
            elif raw.startswith('{"type":"error"'):
                stats.errors[json.loads(raw).get("error")] += 1
    except Exception as exc:
        if not stats.closing:
            stats.closed[type(exc).__name__] += 1
        return
    if not stats.closing:
        stats.closed[f"closed {ws.close_code}"] += 1


async def open_member(
    member: Member, url: str, stats: Stats, args: argparse.Namespace, source: str, origin: str | None
) -> None:
    from websockets.asyncio.client import connect

    member.ws = await connect(
        url,
        origin=origin,
        additional_headers=member.headers,
        compression="deflate" if args.client_deflate else None,
        proxy=None,
        ping_interval=None,
        open_timeout=args.timeout,
        close_timeout=3,
        max_queue=None,
        max_size=2**20,
        local_addr=(source, 0),
    )
    member.reader = asyncio.create_task(read_frames(member, stats))
    await member.ws.send(json.dumps({"type": "connectToRoom", "chatroomId": member.room_id}))
    await asyncio.wait_for(member.joined.wait(), args.timeout)


async def send_loop(
    member: Member,
    stats: Stats,
    *,
    start: float,
    end: float,
    interval: float,
    edits: float = 0.0,
    reactions: float = 0.0,
) -> None:
    """Send at start, start+interval, ... until end (absolute schedule: no drift); a turn is an
    edit or a reaction instead with the probabilities `edits` and `reactions`."""
    loop = asyncio.get_running_loop()
    ws = member.ws
    seq = 0
    rng = random.Random(member.index)
    while True:
        due = start + seq * interval
        if due >= end:
            return
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        seq += 1
        sent_at = time.perf_counter_ns()
        in_window = stats.window_start <= sent_at < stats.window_end
        turn = rng.random()
        other = None
        if turn < edits and member.last_mine:
            other = {"type": "editMessage", "messageId": member.last_mine}
            other["message"] = f"bench|{member.index}|{seq}|{sent_at}"
            stats.edits_sent += in_window
        elif edits <= turn < edits + reactions and member.last_seen:
            other = {"type": "react", "messageId": member.last_seen, "emoji": "👍"}
            stats.reactions_sent += in_window
        if other is not None:
            other["chatroomId"] = member.room_id
            try:
                await ws.send(json.dumps(other))
            except Exception:
                stats.errors["send_failed"] += 1
                return
            continue
        client_id = f"{member.index}-{seq}"
        frame = json.dumps(
            {
                "type": "sendMessage",
                "chatroomId": member.room_id,
                "clientId": client_id,
                "message": f"bench|{member.index}|{seq}|{sent_at}",
            }
        )
        member.pending[client_id] = sent_at
        if stats.window_start <= sent_at < stats.window_end:
            stats.sent += 1
            stats.expected += stats.room_live[member.room_id]
        stats.sent_total += 1
        stats.send_lag.append(int((loop.time() - due) * 1e9))
        try:
            await ws.send(frame)
        except Exception:
            stats.errors["send_failed"] += 1
            return


async def settle(stats: Stats, *, quiet: float = 1.0, timeout: float = 60.0) -> float:
    """Wait until no frame arrived for `quiet` seconds (presence announcements after connect)."""
    started = time.monotonic()
    last, last_change = stats.frames, time.monotonic()
    while time.monotonic() - started < timeout:
        await asyncio.sleep(0.2)
        if stats.frames != last:
            last, last_change = stats.frames, time.monotonic()
        elif time.monotonic() - last_change >= quiet:
            break
    return time.monotonic() - started


def credentials(manifest: dict[str, Any], cookies: tuple[str, dict[str, str]] | None) -> dict[str, dict[str, str]]:
    """User id -> the handshake headers that sign it in: its session cookie, else its token."""
    if cookies is not None:
        name, sessions = cookies
        return {user_id: {"Cookie": f"{name}={key}"} for user_id, key in sessions.items()}
    return {u["id"]: {"Authorization": f"Bearer {u['token']}"} for u in manifest["users"]}


def members_of(manifest: dict[str, Any], args: argparse.Namespace) -> list[tuple[str, str]]:
    """(user id, room id) of every connection: the first `--room-size` members of each room."""
    rooms = manifest["rooms"][: args.rooms]
    return [(user_id, room["id"]) for room in rooms for user_id in room["memberIds"][: args.room_size]]


async def generate(
    args: argparse.Namespace,
    manifest: dict[str, Any],
    port: int,
    server_pid: int,
    cookies: tuple[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}{args.path}"
    # What a page of this very site sends; without it the server skips its Origin check.
    origin = f"http://127.0.0.1:{port}" if args.path == "/ws/ui/" or cookies is not None else None
    stats = Stats(ui=args.path == "/ws/ui/")
    stats.window_start = stats.window_end = 2**62  # nothing counts before the window opens
    headers = credentials(manifest, cookies)
    members = [Member(i, headers[user_id], room_id) for i, (user_id, room_id) in enumerate(members_of(manifest, args))]
    sources = [f"127.0.0.{1 + i % args.sources}" for i in range(len(members))]

    # --- connect and join ----------------------------------------------------------------
    common.log(f"connecting {len(members)} members ({args.rooms} rooms x {args.room_size})")
    gate = asyncio.Semaphore(args.connect_concurrency)
    failed: Counter = Counter()

    async def connect_one(member: Member) -> None:
        async with gate:
            try:
                await open_member(member, url, stats, args, sources[member.index], origin)
            except Exception as exc:
                failed[type(exc).__name__] += 1

    connect_meter = common.CpuMeter(server_pid)
    connect_meter.start()
    connect_profiler = None
    if args.profile_connect:
        seconds = args.profile_connect_seconds
        connect_profiler = common.start_profile(args.profile_connect, server_pid, seconds, gil=True)
    t = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(connect_one(m) for m in members)), args.connect_timeout)
    connect_seconds = time.monotonic() - t
    connect_meter.stop()
    if connect_profiler is not None:
        await asyncio.to_thread(common.finish_profile, connect_profiler, args.profile_connect)
    live = [m for m in members if m.joined.is_set()]
    for m in live:
        stats.room_live[m.room_id] = stats.room_live.get(m.room_id, 0) + 1
    per_connect = 1e3 * connect_meter.used["server"] / max(1, len(live))
    common.log(
        f"{len(live)} joined in {connect_seconds:.1f}s; failed {dict(failed)};"
        f" server CPU {per_connect:.2f} ms per connect and join"
    )
    settle_seconds = await settle(stats)
    common.log(f"settled in {settle_seconds:.1f}s ({stats.frames} frames so far)")

    # --- send ----------------------------------------------------------------------------
    loop = asyncio.get_running_loop()
    interval = 1.0 / args.rate
    begin = loop.time() + 0.5
    warm_end = begin + args.warmup
    end = warm_end + args.seconds
    ns_offset = time.perf_counter_ns() - int(loop.time() * 1e9)
    stats.window_start = int(warm_end * 1e9) + ns_offset
    stats.window_end = int(end * 1e9) + ns_offset
    rng = random.Random(7)
    senders = [
        asyncio.create_task(
            send_loop(
                m,
                stats,
                start=begin + rng.random() * interval,
                end=end,
                interval=interval,
                edits=args.edits,
                reactions=args.reactions,
            )
        )
        for m in live
    ]
    meter = common.CpuMeter(server_pid)
    await asyncio.sleep(max(0.0, warm_end - loop.time()))
    meter.start()
    profiler = common.start_profile(args.profile, server_pid, args.seconds, gil=args.gil) if args.profile else None
    await asyncio.sleep(max(0.0, end - loop.time()))
    cpu = meter.stop()
    if profiler is not None:
        await asyncio.to_thread(common.finish_profile, profiler, args.profile)
    await asyncio.wait_for(asyncio.gather(*senders, return_exceptions=True), 30)

    # --- drain ---------------------------------------------------------------------------
    expected = stats.expected
    counted = stats.deliveries
    t = time.monotonic()
    last, last_change = counted.delivered, time.monotonic()
    while counted.delivered < expected and time.monotonic() - t < args.drain:
        await asyncio.sleep(0.1)
        if counted.delivered != last:
            last, last_change = counted.delivered, time.monotonic()
        elif time.monotonic() - last_change > 3.0:
            break
    drain_seconds = time.monotonic() - t

    # --- close ---------------------------------------------------------------------------
    stats.closing = True

    async def close(member: Member) -> None:
        try:
            await asyncio.wait_for(member.ws.close(), 5)
        except Exception:
            member.ws.transport.abort()

    closing = [close(m) for m in members if m.ws is not None]
    for start in range(0, len(closing), 500):
        await asyncio.gather(*closing[start : start + 500], return_exceptions=True)
    for m in members:
        if m.reader is not None:
            m.reader.cancel()

    acks = sorted(x / 1e6 for x in stats.ack_latencies)
    lag = sorted(x / 1e6 for x in stats.send_lag)
    pct = common.percentile
    in_window = counted.received_in_window
    return {
        "connections": len(live),
        "connect_failed": dict(failed),
        "connect_seconds": round(connect_seconds, 2),
        "connects_per_second": round(len(live) / connect_seconds, 1) if connect_seconds else None,
        "settle_seconds": round(settle_seconds, 2),
        "window_seconds": round(cpu["seconds"], 2),
        "sent": stats.sent,
        "sent_total": stats.sent_total,
        "acknowledged": stats.acked,
        # Deliveries: `message` frames on /ws/, HTML message fragments on /ws/ui/.
        "delivery": "html" if stats.ui else "json",
        "delivered": counted.delivered,
        "expected": expected,
        "lost": expected - counted.delivered,
        "last_message_frames": stats.last_message,
        "html_frames": stats.html_frames,
        "messages_per_second": round(stats.sent / args.seconds, 1),
        "deliveries_per_second": round(counted.delivered / args.seconds, 1),
        # What the server got through while the window lasted, whenever sent (a backlog too).
        "throughput_messages_per_second": round(stats.acks_in_window / args.seconds, 1),
        "throughput_deliveries_per_second": round(in_window / args.seconds, 1),
        "deliveries_in_window": in_window,
        "latency_ms": latency(counted.latencies),
        "ack_ms": summary(acks),
        # Age of the deliveries that arrived in the window: when the server is behind, how far.
        "served_latency_ms": latency(counted.served_latencies),
        # The JSON `message` frames on their own (on /ws/ they are the deliveries).
        "json_messages": tally(stats.json, args.seconds),
        "html_messages": tally(stats.html, args.seconds) if stats.ui else None,
        "send_lag_ms_p99": round(pct(lag, 99), 2),
        "edits": {"sent": stats.edits_sent, **tally(stats.edited, args.seconds)},
        "reactions": {"sent": stats.reactions_sent, "frames": stats.reaction_frames},
        # Every event frame the server wrote over the window's CPU: messages, edits, reactions.
        "cpu_us_per_frame_out": round(
            1e6 * meter.used["server"] / (in_window + stats.edited.received_in_window + stats.reaction_frames), 1
        )
        if in_window
        else None,
        "drain_seconds": round(drain_seconds, 2),
        "errors": dict(stats.errors),
        "closed_early": {k: v for k, v in stats.closed.items() if k != "closed 1000"},
        "cpu_percent": {k: round(v, 1) for k, v in cpu.items() if k != "seconds"},
        "cpu_seconds": {k: round(v, 3) for k, v in meter.used.items()},
        # CPU seconds over the window / the deliveries that arrived in it, in microseconds.
        "cpu_us_per_delivery": {
            k: round(1e6 * meter.used[k] / in_window, 1) if in_window else None for k in ("server", "generator")
        },
    }


def latency(values: array) -> dict[Any, float]:
    return summary(sorted(x / 1e6 for x in values))


def tally(t: Tally, seconds: float) -> dict[str, Any]:
    return {
        "delivered": t.delivered,
        "per_second": round(t.delivered / seconds, 1),
        "received_in_window": t.received_in_window,
        "latency_ms": latency(t.latencies),
    }


def summary(values: list[float]) -> dict[Any, float]:
    out: dict[Any, float] = {q: round(common.percentile(values, q), 2) for q in (50, 95, 99)}
    out["max"] = round(max(values, default=float("nan")), 2)
    return out


def report(result: dict[str, Any]) -> str:
    c = result["config"]
    lat, ack, cpu = result["latency_ms"], result["ack_ms"], result["cpu_percent"]
    per = result["cpu_us_per_delivery"]
    what = "HTML message fragments" if result["delivery"] == "html" else "message frames"
    lines = [
        f"fanout: {c['path']} ({c['auth']}) / {c['server']} / {c['layer']} layer / {c['rooms']} rooms x "
        f"{c['room_size']} members / {c['rate']} msg/s each / {c['seconds']}s after {c['warmup']}s warm-up / "
        f"{c['messages']} stored messages",
        f"  summary              {result['deliveries_per_second']} deliveries/s; server CPU {us(per['server'])} "
        f"per delivery, generator {us(per['generator'])}; ack p50 {ack[50]} p99 {ack[99]} ms",
        f"  connections          {result['connections']} (connect {result['connect_seconds']}s, "
        f"{result['connects_per_second']}/s; failed {result['connect_failed'] or 0})",
        f"  sent                 {result['sent']} ({result['messages_per_second']}/s)",
        f"  acknowledged         {result['acknowledged']}",
        f"  delivered            {result['delivered']} of {result['expected']} expected ({what}); "
        f"lost {result['lost']}",
        f"  deliveries/s         {result['deliveries_per_second']}  "
        f"(and {result['last_message_frames']} lastMessage frames, {result['html_frames']} HTML frames)",
    ]
    if result.get("html_messages") is not None:
        j = result["json_messages"]
        lines.append(
            f"  JSON message frames  {j['delivered']} ({j['per_second']}/s), latency ms p50 {j['latency_ms'][50]}  "
            f"p95 {j['latency_ms'][95]}  p99 {j['latency_ms'][99]}  max {j['latency_ms']['max']}"
        )
    lines += [
        f"  served in window     {result['throughput_messages_per_second']} acks/s, "
        f"{result['throughput_deliveries_per_second']} deliveries/s (whenever sent), "
        f"their latency p50 {result['served_latency_ms'][50]} p99 {result['served_latency_ms'][99]} ms",
        f"  latency ms           p50 {lat[50]}  p95 {lat[95]}  p99 {lat[99]}  max {lat['max']}",
        f"  ack ms               p50 {ack[50]}  p95 {ack[95]}  p99 {ack[99]}  max {ack['max']}",
        f"  CPU % of a core      server {cpu['server']}  generator {cpu['generator']}  postgres {cpu['postgres']}  "
        f"redis {cpu['redis']}  others {cpu['others']}  (machine {cpu['machine']}% of all cores busy)",
        f"  CPU per delivery     server {us(per['server'])}  generator {us(per['generator'])}  "
        f"({result['cpu_seconds']['server']} / {result['cpu_seconds']['generator']} CPU s over the window, "
        f"{result['deliveries_in_window']} deliveries arrived in it)",
        f"  generator send lag   p99 {result['send_lag_ms_p99']} ms",
    ]
    if result["edits"]["sent"] or result["reactions"]["sent"]:
        e, r = result["edits"], result["reactions"]
        lines += [
            f"  edits                {e['sent']} sent, {e['delivered']} messageEdited frames of them, latency ms "
            f"p50 {e['latency_ms'][50]} p99 {e['latency_ms'][99]}",
            f"  reactions            {r['sent']} sent, {r['frames']} reactionsChanged frames",
            f"  CPU per frame out    server {us(result['cpu_us_per_frame_out'])} (messages, edits and reactions)",
        ]
    lines += [
        f"  errors               {result['errors'] or 'none'}; closed early {result['closed_early'] or 'none'}",
    ]
    if result.get("server_errors"):
        lines.append(f"  server log           {result['server_errors'][0][:160]}")
    return "\n".join(lines)


def us(value: float | None) -> str:
    return "–" if value is None else f"{value:g} µs"


def run_benchmark(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str], float | None, Path]:
    common.fresh_database(args.database)
    common.flush_redis()
    manifest = common.seed(
        args.database,
        users=args.rooms * args.room_size,
        rooms=args.rooms,
        room_size=args.room_size,
        friends=0,
        messages=args.messages,
        manifest=common.DATA / f"{args.database}-manifest.json",
    )
    cookies = None
    if args.auth == "cookie":
        users = sorted({user_id for user_id, _ in members_of(manifest, args)}, key=int)
        cookies = common.browser_sessions(args.database, users, path=common.DATA / f"{args.database}-sessions.json")
    extra = dict(item.split("=", 1) for item in args.server_env)
    busy_before = common.wait_for_quiet(timeout=args.quiet_wait) if args.quiet_wait else None
    env = common.server_env(args.database, layer=args.layer, extra=extra)
    log_path = common.DATA / f"fanout-{args.server}.log"
    with common.running_server(args.server, env, log_path=log_path, nice=args.nice, realtime=args.realtime) as (
        proc,
        port,
    ):
        common.pin_self(common.GENERATOR_CORE, args.nice, args.realtime)
        result = common.run(generate(args, manifest, port, proc.pid, cookies))
    return result, extra, busy_before, log_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=10, help="R rooms")
    parser.add_argument("--room-size", type=int, default=10, help="K members per room")
    parser.add_argument("--rate", type=float, default=1.0, help="r messages per second per member")
    parser.add_argument("--seconds", type=float, default=20.0, help="T: measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of sending before measuring")
    parser.add_argument("--server", choices=common.SERVERS, default="daphne")
    parser.add_argument("--layer", choices=common.LAYERS, default="pubsub")
    parser.add_argument("--messages", type=int, default=0, help="messages stored beforehand (seed_demo)")
    parser.add_argument("--path", choices=PATHS, default="/ws/", help="the API socket or the browser's")
    parser.add_argument("--auth", choices=AUTHS, default="token", help="bearer token or session cookie")
    parser.add_argument("--drain", type=float, default=15.0, help="seconds to wait for late deliveries")
    parser.add_argument("--timeout", type=float, default=60.0, help="per connection open/join timeout")
    parser.add_argument("--connect-timeout", type=float, default=600.0, help="all connections")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--sources", type=int, default=1, help="source addresses 127.0.0.1..N")
    parser.add_argument("--client-deflate", action="store_true", help="offer permessage-deflate like a browser")
    parser.add_argument(
        "--realtime", action="store_true", help="SCHED_FIFO for server, generator and private services (root)"
    )
    parser.add_argument("--nice", type=int, default=0, help="priority of server and generator (<0: root)")
    parser.add_argument("--shared-services", action="store_true", help="use the machine's PostgreSQL and Redis")
    parser.add_argument(
        "--services-core", type=int, help="pin the private PostgreSQL and Redis to this core (0: the generator's)"
    )
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to this long for an idle machine")
    parser.add_argument("--profile", type=Path, help="py-spy the server over the window: FILE.txt (collapsed stacks)")
    parser.add_argument("--gil", action="store_true", help="--profile only the thread holding the GIL")
    parser.add_argument("--profile-connect", type=Path, help="py-spy --gil the server while members connect: FILE.txt")
    parser.add_argument("--profile-connect-seconds", type=float, default=6.0)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--edits", type=float, default=0.0, help="fraction of turns that edit (SPEC §9)")
    parser.add_argument("--reactions", type=float, default=0.0, help="fraction of turns that react (SPEC §9)")
    args = parser.parse_args()

    common.raise_fd_limit(args.rooms * args.room_size * 2 + 1000)
    services = (
        contextlib.nullcontext()
        if args.shared_services
        else common.private_services(args.nice, args.realtime, args.services_core)
    )
    with common.exclusive(), services:
        result, extra, busy_before, log_path = run_benchmark(args)
    result["config"] = {
        "path": args.path,
        "auth": args.auth,
        "server": args.server,
        "layer": args.layer,
        "rooms": args.rooms,
        "room_size": args.room_size,
        "rate": args.rate,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "messages": args.messages,
        "edits": args.edits,
        "reactions": args.reactions,
        "server_env": extra,
        "client_deflate": args.client_deflate,
        "nice": args.nice,
        "realtime": args.realtime,
        "services": "shared" if args.shared_services else "private",
        "machine_busy_before": busy_before,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }
    result["server_errors"] = common.server_errors(log_path)
    print(report(result), flush=True)
    common.write_json(args.json, result)


if __name__ == "__main__":
    main()
