"""Database benchmark: history pages and the chat list at a million messages.

    .venv/bin/python bench/db.py [--messages 1000000] [--database sqlite|postgres|both] [--reuse]
                                 [--runs 200] [--explain]

For each database it seeds its own database with `seed_demo` (a SQLite file under
bench/.data/, a PostgreSQL database `chatty_bench`, created when missing), or with --reuse
keeps one already seeded to the asked size; then it times, in-process, the selectors the API
uses: `chats.selectors.history` (the newest page and a `before` page deep in the biggest room),
`chats.selectors.chat_list` for a user with 50 rooms, and `chats.search.search_messages` (the
search API's selector, first page of 20) for that user: a common word, two words, a word
found nowhere, a word of two letters (no trigram index can serve it) and a Korean one, and
prints p50/p99/mean.

Each database runs in its own child process (Django's settings are fixed once per process).
PostgreSQL is reached at $BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/chatty_bench).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
SQLITE_PATH = DATA / "chatty-bench.sqlite3"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/chatty_bench")
# 1000 users in 10,000 rooms of 5: every user is in exactly 50 rooms.
USERS, FRIENDS, ROOMS, ROOM_SIZE = 1000, 10, 10_000, 5
ROOMS_PER_USER = ROOMS * ROOM_SIZE // USERS
WARMUP = 20
SEED = 20_251_125


# --- parent: one child per database, one table at the end ---------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reuse", action="store_true", help="keep a database already seeded to this size")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--explain", action="store_true", help="print each query's plan")
    parser.add_argument("--worker", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args)
        args.result_file.write_text(json.dumps(result))
        return

    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    results = []
    for database in databases:
        print(f"== {database} ==", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            command = [sys.executable, __file__, "--worker", database, "--result-file", out.name]
            command += ["--messages", str(args.messages), "--runs", str(args.runs)]
            command += ["--reuse"] if args.reuse else []
            command += ["--explain"] if args.explain else []
            subprocess.run(command, check=True, cwd=ROOT)
            results.append(json.loads(Path(out.name).read_text()))
    print_table(results, runs=args.runs)


def print_table(results: list[dict[str, Any]], *, runs: int) -> None:
    # One block without blank lines: bench/run_all.py keeps what follows the last blank line.
    print()
    header = f"{'database':<9} {'query':<40} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'min ms':>8} {'queries':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        for name, t in r["timings"].items():
            print(
                f"{r['database']:<9} {name:<40} {t['p50']:>8.2f} {t['p99']:>8.2f} {t['mean']:>8.2f} {t['min']:>8.2f}"
                f" {t['queries']:>8}"
            )
    print(f"({runs} timed runs each after {WARMUP} warm-up runs, in-process, selector calls end to end)")
    for r in results:
        how = "reused, seeded earlier" if r["reused"] else "seeded now"
        seed = f"{r['seed_seconds']:.1f}s" if r["seed_seconds"] is not None else "unknown"
        print(
            f"{r['database']}: {r['messages']:,} messages, {r['rooms']:,} rooms, {r['users']:,} users; "
            f"seed_demo {seed} ({how}); biggest room {r['big_room_messages']:,} messages; "
            f"chat_list user in {r['user_rooms']} rooms"
        )


# --- child: one database ------------------------------------------------------------------


def worker(args: argparse.Namespace) -> dict[str, Any]:
    DATA.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{SQLITE_PATH}" if args.worker == "sqlite" else POSTGRES_URL
    if args.worker == "postgres":
        ensure_postgres_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "chatty.settings"
    # DEBUG off: Django would otherwise keep every query in memory, which costs time too.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-used-for-anything-real-0123456789")
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    info_path = DATA / f"db-{args.worker}.json"
    reused = args.reuse and seeded_size() == (USERS, ROOMS, args.messages)
    if reused:
        seed_seconds = json.loads(info_path.read_text())["seed_seconds"] if info_path.exists() else None
        print(f"reusing the {args.worker} database: {args.messages:,} messages", flush=True)
    else:
        reset_database(args.worker, url)
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        call_command(
            "seed_demo",
            users=USERS,
            friends=FRIENDS,
            rooms=ROOMS,
            room_size=ROOM_SIZE,
            messages=args.messages,
            seed=SEED,
        )
        seed_seconds = time.perf_counter() - started
        info_path.write_text(json.dumps({"seed_seconds": seed_seconds, "messages": args.messages}))
    settle(args.worker)
    return measure(args, reused=reused, seed_seconds=seed_seconds)


def ensure_postgres_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def seeded_size() -> tuple[int, int, int]:
    from accounts.models import User
    from chats.models import ChatRoom, Message

    return User.objects.count(), ChatRoom.objects.count(), Message.objects.count()


def reset_database(database: str, url: str) -> None:
    """Start from an empty database, so that the figures are for exactly what is seeded."""
    from django.db import connection

    connection.close()
    if getattr(connection, "pool", None) is not None:
        connection.close_pool()  # the pooled connections would be cut by the DROP below
    if database == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def settle(database: str) -> None:
    """PostgreSQL: what autovacuum does shortly after a bulk load (statistics, visibility map)."""
    if database != "postgres":
        return
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f}s", flush=True)


def measure(args: argparse.Namespace, *, reused: bool, seed_seconds: float | None) -> dict[str, Any]:
    from django.db import transaction
    from django.db.models import Count

    from accounts.models import User
    from chats.models import ChatRoom, Message, Participant
    from chats.search import SearchQuery, search_messages, split_words
    from chats.selectors import chat_list, history

    big = (
        Message.objects.values("room_id").annotate(n=Count("id")).order_by("-n", "room_id").first()
    )  # one pass over the table, once
    big_room, big_count = big["room_id"], big["n"]
    deep_before = Message.objects.filter(room_id=big_room).order_by("id").values_list("id", flat=True)[big_count // 10]
    member = (
        Participant.objects.filter(user__participations__room_id=big_room)
        .values("user_id")
        .annotate(n=Count("id"))
        .filter(n__gte=ROOMS_PER_USER)
        .order_by("n", "user_id")
        .first()
    )
    user = User.objects.get(pk=member["user_id"])

    cases = {
        "history newest page (biggest room)": (lambda: history(room_id=big_room), None),
        "history before= 90% deep": (lambda: history(room_id=big_room, before=deep_before), None),
        f"chat_list ({member['n']} rooms)": (lambda: chat_list(user=user), None),
        # Someone who never opened the busiest room: its whole history is unread.
        f"chat_list, {big_count:,} unread in one room": (lambda: chat_list(user=user), (big_room, user.pk)),
    }
    assert len(chat_list(user=user)) == member["n"]

    def search(q: str) -> Callable[[], Any]:
        query = SearchQuery(words=split_words(q), room_id=None, before=None, limit=20)
        return lambda: search_messages(user_id=user.pk, query=query)

    # The seeded texts are 40 phrases: "meeting" is in one of them (2.5 % of all messages),
    # "birthday" + "happy" in another; "zebra" and "회의" are in none, so the whole of the
    # user's history is looked at; "hi" (two letters) gets nothing from a trigram index.
    for q, label in (
        ("meeting", "common word"),
        ("happy birthday", "two words"),
        ("zebra", "found nowhere"),
        ("hi", "two letters"),
        ("회의", "Korean, found nowhere"),
    ):
        cases[f"search {q!r} ({label})"] = (search(q), None)

    timings = {}
    for name, (call, never_read) in cases.items():
        with transaction.atomic():
            if never_read is not None:
                # Rolled back below: the database stays as seeded for --reuse.
                unread = Message.objects.filter(room_id=never_read[0]).exclude(sender_id=never_read[1]).count()
                Participant.objects.filter(room_id=never_read[0], user_id=never_read[1]).update(
                    last_read_id=0, unread_count=unread
                )
            timings[name] = time_calls(call, args.runs, explain_plans=args.explain)
            transaction.set_rollback(True)

    return {
        "database": args.worker,
        "messages": Message.objects.count(),
        "rooms": ChatRoom.objects.count(),
        "users": User.objects.count(),
        "big_room_messages": big_count,
        "user_rooms": member["n"],
        "reused": reused,
        "seed_seconds": seed_seconds,
        "timings": timings,
    }


def time_calls(call: Callable[[], Any], runs: int, *, explain_plans: bool) -> dict[str, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARMUP):
        call()
    with CaptureQueriesContext(connection) as queries:
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    samples.sort()
    if explain_plans:
        for query in queries.captured_queries:
            explain(query["sql"])
    return {
        "p50": statistics.median(samples),
        "p99": samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))],
        "mean": statistics.fmean(samples),
        # On a shared machine the minimum is the closest to the cost without contention.
        "min": samples[0],
        "queries": len(queries),
    }


def explain(sql: str) -> None:
    from django.db import connection

    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        rows = cursor.fetchall()
    print(f"\n-- {sql[:300]}{'…' if len(sql) > 300 else ''}")
    for row in rows:
        print("   ", row[-1] if connection.vendor == "postgresql" else f"{row[0]}|{row[1]}  {row[-1]}")


if __name__ == "__main__":
    main()
