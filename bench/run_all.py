"""Run every benchmark and write one markdown table of figures: `make bench`.

    .venv/bin/python bench/run_all.py            # the standard profile (about an hour and a quarter)
    .venv/bin/python bench/run_all.py --quick    # a smoke run, under about two minutes
    .venv/bin/python bench/run_all.py --only fanout --servers daphne,uvicorn
    .venv/bin/python bench/run_all.py --only sockets    # /ws/ beside /ws/ui/ only

Runs bench/db.py when it is there (database selectors at scale), bench/idle.py (idle
connections: RSS per connection, idle CPU) and bench/fanout.py (messages through the real
protocol: throughput, loss, latency), each in its own process with a timeout; then the two
sockets side by side ("sockets": the API clients' /ws/ with a bearer token, the browser's
/ws/ui/ with a session cookie, in rooms of 10 and of 100, and the ratio of the server's CPU
per delivery), and writes
bench/results/<date>.md (`<date>-quick.md` for --quick), printing it too. A benchmark that
fails is reported as failed in the table; the others still run. Figures only, no verdicts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"

# Every run: (name, arguments). "moderate" is the 1,000 connections in rooms of 10 at
# one message per member per second (10,000 deliveries/s); "rooms of 100" aims at 25,000
# deliveries/s; "light" is a load the server as it is can carry, to compare servers and layers
# on latency. `--servers` / `--layers` filter these lists.
# Priorities on a shared machine (root): light loads run SCHED_FIFO (they use little CPU, and
# other work then cannot add its scheduling delays to their latencies); saturating loads run at
# nice -10 (SCHED_FIFO there would starve everything else on the machine).
RT = ["--realtime"]
NICE = ["--nice", "-10"]
PROBE = ["--rooms", "1", "--room-size", "5", "--rate", "1", "--seconds", "20", "--warmup", "3", *RT]
LIGHT = ["--rooms", "100", "--room-size", "10", "--rate", "0.02", "--seconds", "30", "--warmup", "5", *RT]
MODERATE = ["--rooms", "100", "--room-size", "10", "--rate", "1", "--seconds", "20", "--warmup", "5", *NICE]
ROOMS_OF_100 = ["--rooms", "10", "--room-size", "100", "--rate", "0.25", "--seconds", "20", "--warmup", "5", *NICE]
PERSISTENT = ["--server-env", "BENCH_CONN_MAX_AGE=none"]
SMOKE = ["--rooms", "2", "--room-size", "10", "--seconds", "5", "--warmup", "2"]
FANOUT_QUICK = [("smoke: 2 rooms x 10, 1 msg/s", SMOKE)]
SERVERS_AND_LAYERS = [("daphne", "pubsub"), ("uvicorn", "pubsub"), ("granian", "pubsub"), ("daphne", "core")]
FANOUT_STANDARD = [
    ("probe: 1 x 5, 1 msg/s", [*PROBE, "--server", "daphne"]),
    ("probe, CONN_MAX_AGE=None", [*PROBE, *PERSISTENT, "--server", "daphne"]),
    *(("light: 100 x 10, 0.02 msg/s", [*LIGHT, "--server", sv, "--layer", ly]) for sv, ly in SERVERS_AND_LAYERS),
    *(("moderate: 100 x 10, 1 msg/s", [*MODERATE, "--server", sv, "--layer", ly]) for sv, ly in SERVERS_AND_LAYERS),
    ("moderate, CONN_MAX_AGE=None", [*MODERATE, *PERSISTENT, "--server", "daphne"]),
    *(
        ("rooms of 100: 10 x 100, 0.25 msg/s", [*ROOMS_OF_100, "--server", "daphne", "--layer", ly])
        for ly in ("pubsub", "core")
    ),
]
# Both sockets, as their clients use them: /ws/ with the bearer token, /ws/ui/ as the page
# does (session cookie, Origin, HTML fragments counted as the deliveries). One server and layer
# (uvicorn as deployed, pub/sub, when the filters keep them); a /ws/ run the fan-out list already
# made is not made again.
UI = ["--path", "/ws/ui/", "--auth", "cookie"]
SOCKETS_STANDARD = [
    ("rooms of 10: 100 x 10, 1 msg/s", MODERATE),
    ("rooms of 100: 10 x 100, 0.25 msg/s", ROOMS_OF_100),
]
SOCKETS_QUICK = [("smoke: 2 rooms x 10, 1 msg/s", SMOKE)]
SOCKETS_SERVER, SOCKETS_LAYER = "uvicorn", "pubsub"
IDLE_QUICK = ["--connections", "200", "--idle-seconds", "5"]
# Persistent database connections only to make 10,000 connects take minutes instead of a
# quarter of an hour each (memory and idle CPU do not depend on it; connect rates as the
# project is configured come from the fan-out runs).
IDLE_STANDARD = ["--connections", "10000", "--idle-seconds", "20", *PERSISTENT, *NICE]
DB_QUICK = ["--messages", "20000", "--database", "postgres", "--runs", "20"]
DB_STANDARD: list[str] = []


FOOTNOTES = (
    "¹ Deliveries of the messages sent in the window that had not arrived when the run stopped "
    "waiting (the drain ends after 3 s without progress, 15 s at most): loss, or a backlog the "
    "server had not reached. ² What the server got through during the window, whenever sent: its "
    "throughput when it is behind; the age is send-to-receive of those frames."
)


def _value(arguments: list[str], option: str, default: str) -> str:
    return arguments[arguments.index(option) + 1] if option in arguments else default


def _unprivileged(arguments: list[str]) -> list[str]:
    """Without root: no SCHED_FIFO, no negative nice."""
    out, skip = [], False
    for i, a in enumerate(arguments):
        if skip:
            skip = False
            continue
        if a == "--realtime":
            continue
        if a == "--nice" and i + 1 < len(arguments):
            skip = True
            continue
        out.append(a)
    return out


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {
        "cpus": str(os.cpu_count()),
        "model": model,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": commit,
    }


def run(command: list[str], timeout: float) -> tuple[int, str]:
    common.log("$ " + " ".join(command))
    started = time.monotonic()
    try:
        proc = subprocess.run(command, cwd=common.ROOT, timeout=timeout, stdout=subprocess.PIPE, stderr=None, text=True)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return -1, out + f"\n(timed out after {timeout:.0f}s)"
    print(proc.stdout, flush=True)
    common.log(f"exit {proc.returncode} after {time.monotonic() - started:.0f}s")
    return proc.returncode, proc.stdout


def ms(d: dict[str, Any] | None, q: str) -> str:
    if not d:
        return "–"
    value = d.get(q, d.get(int(q)) if q.isdigit() else None)
    return "–" if value is None or value != value else f"{value:g}"


def _priority(config: dict[str, Any]) -> str:
    if config.get("realtime"):
        return "FIFO"
    return f"nice {config['nice']}" if config.get("nice") else "normal"


def idle_rows(results: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| server | layer | connections | RSS/conn KiB | idle CPU % of a core | connects/s | failed | "
        "RSS before → after MiB | server env | priority |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
    ]
    for r in results:
        c = r["config"]
        rows.append(
            f"| {c['server']} | {c['layer']} | {r['connections']:,} | {r['rss_per_connection_kib']} | "
            f"{r['idle_cpu_percent']} | {r['connects_per_second']} | {r['connect_failed'] or 0} | "
            f"{r['rss_before_mib']} → {r['rss_after_mib']} | "
            f"{' '.join(f'{k}={v}' for k, v in c.get('server_env', {}).items()) or '–'} | {_priority(c)} |"
        )
    return rows


def _socket(config: dict[str, Any]) -> str:
    return f"{config.get('path', '/ws/')} ({config.get('auth', 'token')})"


def _per_delivery(r: dict[str, Any], who: str) -> float | None:
    return (r.get("cpu_us_per_delivery") or {}).get(who)


def _us(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def fanout_rows(results: list[tuple[str, dict[str, Any]]]) -> list[str]:
    rows = [
        "| workload | socket | server | layer | priority | conns (connects/s) | sent | acked | delivered / expected | "
        "undelivered¹ | deliveries/s | served² acks/s, frames/s (their age p50 / p99 ms) | "
        "latency p50 / p95 / p99 / max ms | ack p50 / p99 ms | "
        "CPU % server / gen / pg / redis / others | CPU µs per delivery server / gen |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
    ]
    for name, r in results:
        c, lat, ack, cpu = r["config"], r["latency_ms"], r["ack_ms"], r["cpu_percent"]
        rows.append(
            f"| {name} | {_socket(c)} | {c['server']} | {c['layer']} | {_priority(c)} | "
            f"{r['connections']:,} ({r['connects_per_second']}) | "
            f"{r['sent']:,} | {r['acknowledged']:,} | {r['delivered']:,} / {r['expected']:,} | {r['lost']:,} | "
            f"{r['deliveries_per_second']:,} | {r['throughput_messages_per_second']}, "
            f"{r['throughput_deliveries_per_second']} ({ms(r.get('served_latency_ms'), '50')} / "
            f"{ms(r.get('served_latency_ms'), '99')}) | {ms(lat, '50')} / {ms(lat, '95')} / {ms(lat, '99')} / "
            f"{ms(lat, 'max')} | {ms(ack, '50')} / {ms(ack, '99')} | {cpu['server']} / {cpu['generator']} / "
            f"{cpu['postgres']} / {cpu['redis']} / {cpu['others']} | "
            f"{_us(_per_delivery(r, 'server'))} / {_us(_per_delivery(r, 'generator'))} |"
        )
    return rows


def _pair_cells(r: dict[str, Any]) -> dict[str, str]:
    """The cells of one run in the side-by-side table."""
    lat, ack, cpu = r["latency_ms"], r["ack_ms"], r["cpu_percent"]
    return {
        "rate": f"{r['deliveries_per_second']:,}",
        "lost": f"{r['lost']:,}",
        "server": _us(_per_delivery(r, "server")),
        "generator": _us(_per_delivery(r, "generator")),
        "latency": f"{ms(lat, '50')} / {ms(lat, '99')}",
        "ack": f"{ms(ack, '50')} / {ms(ack, '99')}",
        "cpu": f"{cpu['server']} ({cpu['others']})",
    }


def socket_rows(pairs: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]) -> list[str]:
    """Each workload on /ws/ and on /ws/ui/, side by side (a failed run: dashes)."""
    rows = [
        "| workload | server | deliveries/s /ws/ · /ws/ui/ | undelivered¹ /ws/ · /ws/ui/ | "
        "server CPU µs per delivery /ws/ · /ws/ui/ | **/ws/ui/ : /ws/** | generator CPU µs per delivery "
        "/ws/ · /ws/ui/ | latency p50 / p99 ms /ws/ · /ws/ui/ | /ws/ui/ JSON `message` p50 / p99 ms | "
        "ack p50 / p99 ms /ws/ · /ws/ui/ | CPU % server /ws/ · /ws/ui/ (others) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
    ]
    dash = dict.fromkeys(("rate", "lost", "server", "generator", "latency", "ack", "cpu"), "–")
    for name, api, ui in pairs:
        server = (api or ui or {}).get("config", {}).get("server", "–")
        a, b = (_pair_cells(r) if r else dash for r in (api, ui))
        per_api, per_ui = (_per_delivery(r, "server") if r else None for r in (api, ui))
        ratio = f"{per_ui / per_api:.2f}" if per_api and per_ui else "–"
        json_ui = (ui or {}).get("json_messages") or {}
        rows.append(
            f"| {name} | {server} | {a['rate']} · {b['rate']} | {a['lost']} · {b['lost']} | "
            f"{a['server']} · {b['server']} | **{ratio}** | {a['generator']} · {b['generator']} | "
            f"{a['latency']} · {b['latency']} | "
            f"{ms(json_ui.get('latency_ms'), '50')} / {ms(json_ui.get('latency_ms'), '99')} | "
            f"{a['ack']} · {b['ack']} | {a['cpu']} · {b['cpu']} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run, under about two minutes")
    parser.add_argument("--only", default="db,idle,fanout,sockets", help="comma-separated: db, idle, fanout, sockets")
    parser.add_argument("--servers", default=None, help="comma-separated filter (default: all three)")
    parser.add_argument("--layers", default=None, help="comma-separated filter (default: pubsub,core)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()

    only = set(args.only.split(","))
    servers = (args.servers or ",".join(common.SERVERS)).split(",")
    layers = (args.layers or ",".join(common.LAYERS)).split(",")
    started = dt.datetime.now()
    info = machine()
    py = sys.executable
    # Root runs the benchmark's own PostgreSQL and Redis at a higher priority than other work.
    root = os.geteuid() == 0
    # The figure of how busy the machine was is kept; waiting for quiet is bounded (2 s here).
    quiet = ["--quiet-wait", "0"] if args.quick else ["--quiet-wait", "2"]
    quiet += [] if root else ["--shared-services"]
    sections: list[str] = []
    failures: list[str] = []

    with tempfile.TemporaryDirectory(prefix="chatty-bench-") as tmp:
        tmpdir = Path(tmp)

        if "db" in only:
            db_script = BENCH / "db.py"
            if db_script.exists():
                code, out = run([py, str(db_script), *(DB_QUICK if args.quick else DB_STANDARD)], 3600)
                table = out[out.rfind("\n\n") :].strip() if "\n\n" in out else out.strip()
                sections += ["## Database (bench/db.py)", "", "```", table or "(no output)", "```", ""]
                if code != 0:
                    failures.append(f"db.py exited {code}")
            else:
                sections += ["## Database", "", "bench/db.py is not there yet: skipped.", ""]

        if "idle" in only:
            out_file = tmpdir / "idle.json"
            idle_args = IDLE_QUICK if args.quick else IDLE_STANDARD
            command = [py, str(BENCH / "idle.py"), *(idle_args if root else _unprivileged(idle_args)), *quiet]
            for server in servers if not args.quick else servers[:1]:
                command += ["--server", server]
            code, _ = run([*command, "--json", str(out_file)], 600 if args.quick else 5400)
            results = json.loads(out_file.read_text())["results"] if out_file.exists() else []
            if code != 0:
                failures.append(f"idle.py exited {code}")
            sections += ["## Idle connections (bench/idle.py)", "", *idle_rows(results), ""]

        done: dict[tuple[str, ...], dict[str, Any]] = {}  # fan-out runs by their arguments

        def fanout_run(name: str, workload: list[str]) -> dict[str, Any] | None:
            workload = workload if root else _unprivileged(workload)
            if tuple(workload) in done:
                return done[tuple(workload)]
            out_file = tmpdir / f"fanout-{len(done)}.json"
            code, _ = run([py, str(BENCH / "fanout.py"), *workload, *quiet, "--json", str(out_file)], 1800)
            if not out_file.exists():
                failures.append(f"fanout {name} {' '.join(workload)}: exit {code}")
                return None
            done[tuple(workload)] = json.loads(out_file.read_text())
            return done[tuple(workload)]

        if "fanout" in only:
            fanout: list[tuple[str, dict[str, Any]]] = []
            plan = [
                (name, workload)
                for name, workload in (FANOUT_QUICK if args.quick else FANOUT_STANDARD)
                if _value(workload, "--server", "daphne") in servers and _value(workload, "--layer", "pubsub") in layers
            ]
            for name, workload in plan:
                result = fanout_run(name, workload)
                if result is not None:
                    fanout.append((name, result))
            sections += ["## Fan-out (bench/fanout.py)", "", *fanout_rows(fanout), "", FOOTNOTES, ""]

        if "sockets" in only:
            server = SOCKETS_SERVER if SOCKETS_SERVER in servers else servers[0]
            layer = SOCKETS_LAYER if SOCKETS_LAYER in layers else layers[0]
            pairs: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = []
            runs: list[tuple[str, dict[str, Any]]] = []
            for name, workload in SOCKETS_QUICK if args.quick else SOCKETS_STANDARD:
                api_args = [*workload, "--server", server, "--layer", layer]
                api, ui = fanout_run(name, api_args), fanout_run(name, [*api_args, *UI])
                pairs.append((name, api, ui))
                runs += [(name, r) for r in (api, ui) if r is not None]
            sections += [
                "## Both sockets: /ws/ and /ws/ui/ (bench/fanout.py --path)",
                "",
                "/ws/ as API clients use it (bearer token; a delivery is a `message` frame); /ws/ui/ as the "
                "page uses it (session cookie and Origin; it gets every JSON frame and then the HTML for htmx, "
                "and a delivery is an HTML message fragment). CPU per delivery: CPU seconds over the window "
                "divided by the deliveries that arrived in it; the ratio is /ws/ui/'s server figure over /ws/'s.",
                "",
                *socket_rows(pairs),
                "",
                *fanout_rows(runs),
                "",
                FOOTNOTES,
                "",
            ]

    took = dt.datetime.now() - started
    head = [
        f"# Chatty benchmarks, {started:%Y-%m-%d %H:%M} ({'quick' if args.quick else 'standard'} profile)",
        "",
        f"Machine: {info['cpus']} CPUs ({info['model']}), {info['memory']} memory, Linux {info['kernel']}, "
        f"Python {info['python']}; commit {info['commit']}. Server pinned to core {common.SERVER_CORE}, "
        f"load generator to core {common.GENERATOR_CORE}; PostgreSQL and Redis unpinned. Took {took}.",
        "",
        "CPU figures are % of one core over the measured window; `others` is everything else that ran "
        "on the machine meanwhile (figures taken while it is high are not comparable).",
        "",
    ]
    if failures:
        head += ["Failed: " + "; ".join(failures), ""]
    text = "\n".join(head + sections)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = args.output or RESULTS / f"{started:%Y-%m-%d}{'-quick' if args.quick else ''}.md"
    output.write_text(text)
    common.log(f"wrote {output}")


if __name__ == "__main__":
    main()
