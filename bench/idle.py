"""Idle benchmark: N authenticated websockets that do nothing; memory and CPU of the server.

    .venv/bin/python bench/idle.py [--connections 10000] [--server daphne|uvicorn|granian ...]
        [--idle-seconds 20] [--layer pubsub|core]

For each server asked (one after the other, each on a fresh database and Redis database) it
starts the server pinned to core 1, opens one connection and closes it (so that everything
lazily imported is loaded), reads the server's RSS (VmRSS of its processes, /proc/<pid>/status),
opens N connections as N different users (bearer token in the Authorization header; each
user has friends and rooms as `seed_demo` makes them), waits until the presence announcements
of the connect storm are over, reads RSS again and reports (after - before) / N, then measures
the server's CPU over `--idle-seconds` of idleness (/proc/<pid>/stat: % of one core).
The connections answer pings (the websockets client does) and send nothing themselves.

uvicorn runs with uvloop, httptools and `--ws-per-message-deflate false` (`--server-deflate`:
its default, on, to see what deflate costs); the client offers
permessage-deflate as browsers do (`--no-client-deflate` to offer none). Source addresses
127.0.0.1..N (`--sources`) spread the connections over more ephemeral ports when needed.
It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

DATABASE = "chatty_bench_idle"


async def hold(url: str, token: str, source: str, args: argparse.Namespace, state: dict[str, Any]) -> Any:
    from websockets.asyncio.client import connect

    ws = await connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        compression="deflate" if args.client_deflate else None,
        proxy=None,
        ping_interval=None,
        open_timeout=args.timeout,
        close_timeout=3,
        max_queue=None,
        local_addr=(source, 0),
    )

    async def read() -> None:
        try:
            async for _raw in ws:
                state["frames"] += 1
        except Exception as exc:
            state["closed"][type(exc).__name__] += 1
            return
        state["closed"][f"closed {ws.close_code}"] += 1

    return ws, asyncio.create_task(read())


async def measure(
    args: argparse.Namespace, manifest: dict[str, Any], port: int, pid: int, server: str
) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/ws/"
    users = manifest["users"]
    state: dict[str, Any] = {"frames": 0, "closed": Counter()}

    # Warm-up: one connection, so imports and caches made on first use are not counted.
    ws, reader = await hold(url, users[-1]["token"], "127.0.0.1", args, state)
    await asyncio.sleep(1.0)
    await ws.close()
    reader.cancel()
    await asyncio.sleep(2.0)
    state["frames"] = 0
    state["closed"].clear()
    rss_before = common.tree_rss_kib(pid)

    gate = asyncio.Semaphore(args.connect_concurrency)
    failed: Counter = Counter()
    held: list[tuple[Any, asyncio.Task]] = []

    async def one(i: int) -> None:
        async with gate:
            try:
                held.append(await hold(url, users[i]["token"], f"127.0.0.{1 + i % args.sources}", args, state))
            except Exception as exc:
                failed[type(exc).__name__] += 1

    n = min(args.connections, len(users) - 1)
    common.log(f"opening {n} connections")
    t = time.monotonic()
    connect_profile = (
        args.profile_connect.with_suffix(f".{server}{args.profile_connect.suffix}") if args.profile_connect else None
    )
    profiler = common.start_profile(connect_profile, pid, 20) if connect_profile else None
    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), args.connect_timeout)
    if profiler is not None:
        await asyncio.to_thread(common.finish_profile, profiler, connect_profile)
    connect_seconds = time.monotonic() - t
    common.log(f"{len(held)} open in {connect_seconds:.1f}s; failed {dict(failed)}")

    # Let the connect storm end (friends hear of each other) before reading memory.
    t = time.monotonic()
    last, last_change = state["frames"], time.monotonic()
    while time.monotonic() - t < args.settle_timeout:
        await asyncio.sleep(0.5)
        if state["frames"] != last:
            last, last_change = state["frames"], time.monotonic()
        elif time.monotonic() - last_change >= 3.0:
            break
    settle_seconds = time.monotonic() - t
    await asyncio.sleep(2.0)
    rss_after = common.tree_rss_kib(pid)

    meter = common.CpuMeter(pid)
    meter.start()
    idle_profile = args.profile_idle.with_suffix(f".{server}{args.profile_idle.suffix}") if args.profile_idle else None
    profiler = common.start_profile(idle_profile, pid, args.idle_seconds) if idle_profile else None
    await asyncio.sleep(args.idle_seconds)
    cpu = meter.stop()
    if profiler is not None:
        await asyncio.to_thread(common.finish_profile, profiler, idle_profile)
    still_open = sum(1 for ws, _ in held if ws.close_code is None)
    closed_early = {k: v for k, v in state["closed"].items() if k != "closed 1000"}

    async def close(ws: Any) -> None:
        try:
            await asyncio.wait_for(ws.close(), 5)
        except Exception:
            ws.transport.abort()

    for start in range(0, len(held), 500):
        await asyncio.gather(*(close(ws) for ws, _ in held[start : start + 500]), return_exceptions=True)
    for _, reader in held:
        reader.cancel()

    opened = len(held)
    return {
        "connections": opened,
        "connect_failed": dict(failed),
        "connect_seconds": round(connect_seconds, 1),
        "connects_per_second": round(opened / connect_seconds, 1) if connect_seconds else None,
        "settle_seconds": round(settle_seconds, 1),
        "frames_during_connect": state["frames"],
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1),
        "rss_per_connection_kib": round((rss_after - rss_before) / opened, 1) if opened else None,
        "idle_seconds": round(cpu["seconds"], 1),
        "idle_cpu_percent": round(cpu["server"], 2),
        "cpu_percent": {k: round(v, 1) for k, v in cpu.items() if k != "seconds"},
        "still_open": still_open,
        "closed_early": closed_early,
    }


def report(result: dict[str, Any]) -> str:
    c = result["config"]
    cpu = result["cpu_percent"]
    return "\n".join(
        [
            f"idle: {c['server']} / {c['layer']} layer / {result['connections']} connections "
            f"(client deflate {'on' if c['client_deflate'] else 'off'}"
            f"{', uvicorn deflate on' if c.get('server_deflate') else ''})",
            f"  connect              {result['connect_seconds']}s ({result['connects_per_second']}/s), "
            f"failed {result['connect_failed'] or 0}; settle {result['settle_seconds']}s, "
            f"{result['frames_during_connect']} presence frames",
            f"  server RSS           {result['rss_before_mib']} MiB before, {result['rss_after_mib']} MiB after: "
            f"{result['rss_per_connection_kib']} KiB per connection",
            f"  idle CPU             {result['idle_cpu_percent']}% of a core over {result['idle_seconds']}s "
            f"(postgres {cpu['postgres']}%, redis {cpu['redis']}%, others {cpu['others']}%)",
            f"  still open           {result['still_open']}; closed early {result['closed_early'] or 'none'}",
        ]
    )


def run_one(server: str, args: argparse.Namespace) -> dict[str, Any]:
    users = args.connections + 1
    common.fresh_database(args.database)
    common.flush_redis()
    manifest = common.seed(
        args.database,
        users=users,
        rooms=max(1, users // args.room_size),
        room_size=args.room_size,
        friends=args.friends,
        messages=0,
        manifest=common.DATA / f"{args.database}-manifest.json",
    )
    busy_before = common.wait_for_quiet(timeout=args.quiet_wait) if args.quiet_wait else None
    extra = dict(e.split("=", 1) for e in args.server_env)
    env = common.server_env(args.database, layer=args.layer, extra=extra)
    log_path = common.DATA / f"idle-{server}.log"
    with common.running_server(
        server, env, log_path=log_path, nice=args.nice, realtime=args.realtime, deflate=args.server_deflate
    ) as (proc, port):
        common.pin_self(common.GENERATOR_CORE, args.nice, args.realtime)
        result = common.run(measure(args, manifest, port, proc.pid, server))
    result["config"] = {
        "server": server,
        "layer": args.layer,
        "connections": args.connections,
        "friends": args.friends,
        "room_size": args.room_size,
        "client_deflate": args.client_deflate,
        "server_deflate": args.server_deflate,
        "nice": args.nice,
        "realtime": args.realtime,
        "server_env": extra,
        "services": "shared" if args.shared_services else "private",
        "machine_busy_before": busy_before,
    }
    result["server_errors"] = common.server_errors(log_path)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10_000, help="N")
    parser.add_argument("--server", choices=common.SERVERS, action="append", help="repeat to compare; default daphne")
    parser.add_argument("--layer", choices=common.LAYERS, default="pubsub")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--friends", type=int, default=10, help="friends per user (seed_demo)")
    parser.add_argument("--room-size", type=int, default=5, help="every user is in one room of this size")
    parser.add_argument("--server-deflate", action="store_true", help="uvicorn: permessage-deflate on (its default)")
    parser.add_argument("--no-client-deflate", dest="client_deflate", action="store_false")
    parser.add_argument("--sources", type=int, default=1, help="source addresses 127.0.0.1..N")
    parser.add_argument("--connect-concurrency", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=60.0, help="per connection")
    parser.add_argument("--connect-timeout", type=float, default=900.0, help="all connections")
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to this long for an idle machine")
    parser.add_argument(
        "--realtime", action="store_true", help="SCHED_FIFO for server, generator and private services (root)"
    )
    parser.add_argument("--nice", type=int, default=0, help="priority of server and generator (<0: root)")
    parser.add_argument("--shared-services", action="store_true", help="use the machine's PostgreSQL and Redis")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--profile-connect", type=Path, help="py-spy the server's first 20 s of connects: FILE.txt")
    parser.add_argument("--profile-idle", type=Path, help="py-spy the server over the idle window: FILE.txt")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    common.raise_fd_limit(args.connections + 1000)
    results = []
    services = contextlib.nullcontext() if args.shared_services else common.private_services(args.nice, args.realtime)
    with common.exclusive(), services:
        for server in args.server or ["daphne"]:
            result = run_one(server, args)
            print(report(result), flush=True)
            results.append(result)
    common.write_json(args.json, {"results": results})


if __name__ == "__main__":
    main()
