"""Fixtures for tests that run Chatty as several real server processes (SPEC §7)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings

from tests.multiprocess.servers import (
    RedisDbLease,
    ServerFailed,
    ServerProcess,
    postgres_url,
    redis_url_with_db,
    start_servers,
)


def require_postgres_and_redis() -> None:
    """These tests mean nothing on SQLite or the in-process layer: fail (never skip) there."""
    engine = settings.DATABASES["default"]["ENGINE"]
    problems = []
    if "postgresql" not in engine:
        problems.append(f"DATABASE_URL must point at PostgreSQL (the database engine is {engine})")
    if not settings.REDIS_URL:
        problems.append("REDIS_URL must be set (several processes share Redis)")
    if problems:
        pytest.fail(
            "Multi-process tests need PostgreSQL and Redis: "
            + "; ".join(problems)
            + ". Run e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/chatty REDIS_URL=redis://127.0.0.1:6379/0 "
            '.venv/bin/python -m pytest tests/multiprocess (or `-m "not needs_postgres"` to leave them out).',
            pytrace=False,
        )


@pytest.fixture(scope="session")
def redis_db_lease() -> Iterator[RedisDbLease]:
    require_postgres_and_redis()
    lease = RedisDbLease(settings.REDIS_URL)
    try:
        lease.acquire()
    except ServerFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    yield lease
    lease.release()


@pytest.fixture
def distinct_ids(transactional_db) -> int:
    """Start user and room ids at a random offset for this test.

    The servers' channel layer is Redis pub/sub, which ignores Redis database numbers: group
    names (`user.<id>`, `room.<id>`, `members.<id>`) are what keeps this run's events apart
    from another run's. Ids stay below 2**53 (exact in JavaScript).
    """
    from django.db import connection

    from accounts.models import User
    from chats.models import ChatRoom, Message

    base = 10**12 + secrets.randbelow(2**40) * 1000
    with connection.cursor() as cursor:
        for model in (User, ChatRoom, Message):
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [model._meta.db_table, base])
    return base


@pytest.fixture
def chatty_servers(
    request: pytest.FixtureRequest, transactional_db, distinct_ids, redis_db_lease: RedisDbLease
) -> Iterator[Callable[..., list[ServerProcess]]]:
    """`start(*names)` starts one daphne process per name, all on the same PostgreSQL and Redis.

    Every process is stopped when the test ends (before the test database is flushed); their
    output is attached to the report of a failing test.
    """
    require_postgres_and_redis()
    redis_db_lease.flush()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="chatty.settings",
        DEBUG="0",
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=postgres_url(settings.DATABASES["default"]),
        REDIS_URL=redis_url_with_db(settings.REDIS_URL, redis_db_lease.db),
        PYTHONUNBUFFERED="1",
    )
    started: list[ServerProcess] = []
    request.node.chatty_servers = started

    def start(*names: str) -> list[ServerProcess]:
        servers = [ServerProcess(name, env) for name in names]
        started.extend(servers)
        try:
            start_servers(servers)
        except ServerFailed as exc:
            pytest.fail(str(exc), pytrace=False)
        return servers

    try:
        yield start
    finally:
        for server in started:
            server.stop()
        reports = [getattr(request.node, f"rep_{when}", None) for when in ("setup", "call")]
        if not any(report is not None and report.failed for report in reports):
            for server in started:
                server.remove_log()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    if report.failed and report.when in ("setup", "call"):
        for server in getattr(item, "chatty_servers", []):
            state = "running" if server.alive() else f"exited {server.proc.returncode if server.proc else '-'}"
            report.sections.append(
                (f"{server.name} (daphne, port {server.port}, {state}) output: {server.log_path}", server.output())
            )
    return report
