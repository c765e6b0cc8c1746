"""Run every benchmark and write one markdown table of figures: `make bench`.

    .venv/bin/python bench/run_all.py            # the standard profile (about an hour)
    .venv/bin/python bench/run_all.py --quick    # a smoke run, under about two minutes
    .venv/bin/python bench/run_all.py --only fanout --servers daphne,uvicorn

Runs bench/db.py when it is there (database selectors at scale), bench/idle.py (idle
connections: RSS per connection, idle CPU) and bench/fanout.py (messages through the real
protocol: throughput, loss, latency), each in its own process with a timeout, and writes
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

# name, fanout arguments. "moderate" is the 1,000 connections in rooms of 10 at one
# message per member per second; "rooms of 100" aims at 25,000 deliveries/s.
FANOUT_QUICK = [
    ("smoke: 2 rooms x 10, 1 msg/s", ["--rooms", "2", "--room-size", "10", "--seconds", "5", "--warmup", "2"])
]
FANOUT_STANDARD = [
    ("moderate: 100 rooms x 10, 1 msg/s", ["--rooms", "100", "--room-size", "10", "--seconds", "30", "--warmup", "10"]),
    (
        "rooms of 100: 10 x 100, 0.25 msg/s",
        ["--rooms", "10", "--room-size", "100", "--rate", "0.25", "--seconds", "30", "--warmup", "10"],
    ),
]
IDLE_QUICK = ["--connections", "200", "--idle-seconds", "5"]
IDLE_STANDARD = ["--connections", "10000", "--idle-seconds", "20", "--connect-concurrency", "20"]
DB_QUICK = ["--messages", "20000", "--database", "postgres", "--runs", "20"]
DB_STANDARD: list[str] = []


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


def ms(d: dict[str, Any], q: str) -> str:
    value = d.get(q, d.get(int(q)) if q.isdigit() else None)
    return "–" if value is None else f"{value:g}"


def idle_rows(results: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| server | layer | connections | RSS/conn KiB | idle CPU % of a core | connects/s | failed | "
        "RSS before → after MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in results:
        c = r["config"]
        rows.append(
            f"| {c['server']} | {c['layer']} | {r['connections']:,} | {r['rss_per_connection_kib']} | "
            f"{r['idle_cpu_percent']} | {r['connects_per_second']} | {r['connect_failed'] or 0} | "
            f"{r['rss_before_mib']} → {r['rss_after_mib']} |"
        )
    return rows


def fanout_rows(results: list[tuple[str, dict[str, Any]]]) -> list[str]:
    rows = [
        "| workload | server | layer | conns | sent | acked | delivered / expected | lost | deliveries/s | "
        "latency p50 / p95 / p99 / max ms | ack p50 / p99 ms | CPU % server / gen / pg / redis / others |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for name, r in results:
        c, lat, ack, cpu = r["config"], r["latency_ms"], r["ack_ms"], r["cpu_percent"]
        rows.append(
            f"| {name} | {c['server']} | {c['layer']} | {r['connections']:,} | {r['sent']:,} | "
            f"{r['acknowledged']:,} | {r['delivered']:,} / {r['expected']:,} | {r['lost']:,} | "
            f"{r['deliveries_per_second']:,} | {ms(lat, '50')} / {ms(lat, '95')} / {ms(lat, '99')} / "
            f"{ms(lat, 'max')} | {ms(ack, '50')} / {ms(ack, '99')} | {cpu['server']} / {cpu['generator']} / "
            f"{cpu['postgres']} / {cpu['redis']} / {cpu['others']} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run, under about two minutes")
    parser.add_argument("--only", default="db,idle,fanout", help="comma-separated: db, idle, fanout")
    parser.add_argument("--servers", default=None, help="comma-separated (default: quick daphne; else all three)")
    parser.add_argument("--layers", default=None, help="comma-separated (default: quick pubsub; else pubsub,core)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()

    only = set(args.only.split(","))
    servers = (args.servers or ("daphne" if args.quick else ",".join(common.SERVERS))).split(",")
    layers = (args.layers or ("pubsub" if args.quick else ",".join(common.LAYERS))).split(",")
    started = dt.datetime.now()
    info = machine()
    py = sys.executable
    quiet = ["--quiet-wait", "0"] if args.quick else ["--quiet-wait", "120"]
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
            command = [py, str(BENCH / "idle.py"), *(IDLE_QUICK if args.quick else IDLE_STANDARD), *quiet]
            for server in servers:
                command += ["--server", server]
            code, _ = run([*command, "--json", str(out_file)], 600 if args.quick else 5400)
            results = json.loads(out_file.read_text())["results"] if out_file.exists() else []
            if code != 0:
                failures.append(f"idle.py exited {code}")
            sections += ["## Idle connections (bench/idle.py)", "", *idle_rows(results), ""]

        if "fanout" in only:
            fanout: list[tuple[str, dict[str, Any]]] = []
            plan: list[tuple[str, list[str]]] = []
            for name, workload in FANOUT_QUICK if args.quick else FANOUT_STANDARD:
                for server in servers:
                    plan.append((name, [*workload, "--server", server, "--layer", layers[0]]))
                for layer in layers[1:]:
                    plan.append((name, [*workload, "--server", servers[0], "--layer", layer]))
            for i, (name, workload) in enumerate(plan):
                out_file = tmpdir / f"fanout-{i}.json"
                code, _ = run([py, str(BENCH / "fanout.py"), *workload, *quiet, "--json", str(out_file)], 1800)
                if out_file.exists():
                    fanout.append((name, json.loads(out_file.read_text())))
                else:
                    failures.append(f"fanout {name} {' '.join(workload)}: exit {code}")
            sections += ["## Fan-out (bench/fanout.py)", "", *fanout_rows(fanout), ""]

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
