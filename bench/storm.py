"""Reconnect storm: every client of a server that restarts comes back, and nobody flaps.

    .venv/bin/python bench/storm.py [--rooms 10] [--room-size 100] [--spread 5]
        [--server uvicorn] [--layer pubsub|core]

R rooms of K members where everyone in a room is a friend of the other K-1 (a club, a class:
`seed_demo` befriends room mates), each member its own user with its own websocket on /ws/,
joined to its room (SPEC §4). Then the server is restarted as a deploy does it: SIGTERM (the
edge closes every socket with 1012, "service restart", which keeps the user's presence record
for CHATTY_RESTART_GRACE), the same command on the same port once it has exited. Each client
reconnects after a random delay within `--spread` seconds (as a page's backoff does), retrying
every 0.25-1 s while the port is closed, and joins its room again.

Reported: the time from the new server's first accept to the last client joined (the target:
10,000 within 15 s), connects per second, and the flaps: `getOnlineFriend ... offline` frames any
client received from the SIGTERM to the end (the target: none; a friend who reconnects within
the grace never went offline). Afterwards a sample of clients asks `userOnline` again and checks
that its `retrieveOnlineFriends` shows every room mate (presence is right afterwards).

Server pinned to core 1, the generator to core 0; its own PostgreSQL database and Redis database
(bench/common.py); every phase has a timeout. It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

DATABASE = "chatty_bench_storm"


class Client:
    __slots__ = ("headers", "index", "joined", "online", "room_id", "snapshot", "user_id", "ws")

    def __init__(self, index: int, user_id: str, token: str, room_id: str) -> None:
        self.index = index
        self.user_id = user_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.room_id = room_id
        self.ws: Any = None
        self.joined = asyncio.Event()
        self.snapshot: asyncio.Future | None = None
        self.online: dict[str, str] = {}


class Tally:
    def __init__(self) -> None:
        self.flaps = 0  # getOnlineFriend offline after the restart began
        self.flapped: Counter = Counter()  # user id -> times seen going offline
        self.restart_began = False
        self.close_codes: Counter = Counter()
        self.connect_errors: Counter = Counter()


async def read(client: Client, tally: Tally) -> None:
    try:
        async for raw in client.ws:
            if raw.startswith('{"type":"joinedChatroom"'):
                client.joined.set()
            elif raw.startswith('{"type":"getOnlineFriend"'):
                frame = json.loads(raw)
                if frame["status"] == "offline" and tally.restart_began:
                    tally.flaps += 1
                    tally.flapped[frame["userId"]] += 1
            elif (
                raw.startswith('{"type":"retrieveOnlineFriends"')
                and client.snapshot is not None
                and not client.snapshot.done()
            ):
                client.snapshot.set_result(json.loads(raw)["friends"])
    except Exception:
        pass
    tally.close_codes[client.ws.close_code] += 1


async def open_client(client: Client, url: str, tally: Tally, args: argparse.Namespace, timeout: float) -> None:
    from websockets.asyncio.client import connect

    client.joined.clear()
    client.ws = await connect(
        url,
        additional_headers=client.headers,
        compression=None,
        proxy=None,
        ping_interval=None,
        open_timeout=timeout,
        close_timeout=3,
        max_queue=None,
    )
    asyncio.get_running_loop().create_task(read(client, tally))
    await client.ws.send(json.dumps({"type": "connectToRoom", "chatroomId": client.room_id}))
    await asyncio.wait_for(client.joined.wait(), timeout)


async def come_back(client: Client, url: str, tally: Tally, args: argparse.Namespace, deadline: float) -> float:
    """Reconnect after a random delay, retrying while the server is down; when joined (monotonic)."""
    rng = random.Random(client.index)
    await asyncio.sleep(rng.random() * args.spread)
    while time.monotonic() < deadline:
        try:
            await open_client(client, url, tally, args, args.reconnect_timeout)
            return time.monotonic()
        except Exception as exc:
            tally.connect_errors[type(exc).__name__] += 1
            with contextlib.suppress(Exception):
                if client.ws is not None:
                    client.ws.transport.abort()
            await asyncio.sleep(0.25 + 0.75 * rng.random())
    return float("nan")


async def storm(args: argparse.Namespace, manifest: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    tokens = {u["id"]: u["token"] for u in manifest["users"]}
    rooms = manifest["rooms"][: args.rooms]
    clients = [
        Client(i, user_id, tokens[user_id], room["id"])
        for i, (user_id, room) in enumerate(
            (user_id, room) for room in rooms for user_id in room["memberIds"][: args.room_size]
        )
    ]
    tally = Tally()
    port = common.free_port()
    url = f"ws://127.0.0.1:{port}/ws/"
    log_a, log_b = common.DATA / "storm-before.log", common.DATA / "storm-after.log"
    gate = asyncio.Semaphore(args.connect_concurrency)

    async def first(client: Client) -> None:
        async with gate:
            try:
                await open_client(client, url, tally, args, args.timeout)
            except Exception as exc:
                tally.connect_errors[f"first {type(exc).__name__}"] += 1

    # The servers start and stop in a thread: the clients go on meanwhile (and find the port
    # closed while the server is down, as real ones do).
    before = common.running_server(args.server, env, log_path=log_a, port=port)
    await asyncio.to_thread(before.__enter__)
    try:
        t = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(first(c) for c in clients)), args.connect_timeout)
        first_connect = time.monotonic() - t
        common.log(f"{sum(c.joined.is_set() for c in clients)} of {len(clients)} joined in {first_connect:.1f}s")
        await asyncio.sleep(args.settle)
        tally.restart_began = True
        restart_at = time.monotonic()
        common.log("restarting the server (SIGTERM, then the same command on the same port)")
        deadline = restart_at + args.deadline
        returns = [asyncio.ensure_future(come_back(c, url, tally, args, deadline)) for c in clients]
    finally:
        await asyncio.to_thread(before.__exit__, None, None, None)
    stopped = time.monotonic()
    after = common.running_server(args.server, env, log_path=log_b, port=port)
    proc, _port = await asyncio.to_thread(after.__enter__)
    try:
        up = time.monotonic()
        meter = common.CpuMeter(proc.pid)
        meter.start()
        joined_at = await asyncio.gather(*returns)
        cpu = meter.stop()
        back = [j for j in joined_at if j == j]
        last = max(back, default=float("nan"))
        common.log(f"{len(back)} of {len(clients)} back, the last {last - up:.1f}s after the new server was up")
        await asyncio.sleep(args.settle)

        # Presence right afterwards: a sample asks again and sees every room mate online.
        sample = random.Random(1).sample(clients, min(args.sample, len(clients)))
        wrong = 0
        for client in sample:
            client.snapshot = asyncio.get_running_loop().create_future()
            await client.ws.send(json.dumps({"type": "userOnline"}))
            friends = await asyncio.wait_for(client.snapshot, args.timeout)
            mates = {c.user_id for c in clients if c.room_id == client.room_id and c is not client}
            wrong += len(mates - set(friends))
        for client in clients:
            with contextlib.suppress(Exception):
                client.ws.transport.abort()
    finally:
        await asyncio.to_thread(after.__exit__, None, None, None)
    return {
        "clients": len(clients),
        "first_connect_seconds": round(first_connect, 2),
        "down_seconds": round(up - restart_at, 2),
        "stop_seconds": round(stopped - restart_at, 2),
        "back": len(back),
        "all_back_seconds_after_up": round(last - up, 2),
        # When each was back, after the new server was up (a straggler makes the last one).
        "back_seconds_p50_p95_p99": [
            round(common.percentile(sorted(j - up for j in back), q), 2) for q in (50, 95, 99)
        ],
        "reconnects_per_second": round(len(back) / (last - up), 1) if back and last > up else None,
        "flaps": tally.flaps,
        "users_flapped": len(tally.flapped),
        "sample": len(sample),
        "sample_mates_missing": wrong,
        "close_codes_seen": {str(k): v for k, v in tally.close_codes.items()},
        "connect_errors": dict(tally.connect_errors),
        "server_cpu_percent_during_storm": round(cpu["server"], 1),
        "server_cpu_ms_per_reconnect": round(1e3 * meter.used["server"] / len(back), 2) if back else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--room-size", type=int, default=100)
    parser.add_argument("--spread", type=float, default=5.0, help="clients reconnect within this many seconds")
    parser.add_argument("--deadline", type=float, default=120.0, help="give up on a client after this long")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of quiet before and after the storm")
    parser.add_argument("--sample", type=int, default=20, help="clients that check their friends afterwards")
    parser.add_argument("--server", choices=common.SERVERS, default="uvicorn")
    parser.add_argument("--layer", choices=common.LAYERS, default="pubsub")
    parser.add_argument("--timeout", type=float, default=60.0, help="per connection open/join timeout")
    parser.add_argument(
        "--reconnect-timeout", type=float, default=10.0, help="a reconnect attempt gives up after this (then retries)"
    )
    parser.add_argument("--connect-timeout", type=float, default=600.0)
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--shared-services", action="store_true", help="use the machine's PostgreSQL and Redis")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    common.raise_fd_limit(args.rooms * args.room_size * 2 + 1000)
    services = contextlib.nullcontext() if args.shared_services else common.private_services()
    with common.exclusive(), services:
        common.fresh_database(DATABASE)
        common.flush_redis()
        manifest = common.seed(
            DATABASE,
            users=args.rooms * args.room_size,
            rooms=args.rooms,
            room_size=args.room_size,
            friends=0,
            messages=0,
            manifest=common.DATA / f"{DATABASE}-manifest.json",
        )
        env = common.server_env(DATABASE, layer=args.layer)
        common.pin_self(common.GENERATOR_CORE)
        result = common.run(storm(args, manifest, env))
    result["config"] = {k: getattr(args, k) for k in ("rooms", "room_size", "spread", "server", "layer")}
    result["config"]["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(result, indent=2))
    common.write_json(args.json, result)


if __name__ == "__main__":
    main()
