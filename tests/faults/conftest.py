"""Fixtures for the fault tests: a daphne server on a private Redis that the test may stop."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings

from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.multiprocess.conftest import pytest_runtest_makereport, require_postgres_and_redis
from tests.multiprocess.servers import BASE_DIR, ServerFailed, ServerProcess, postgres_url, start_servers

__all__ = ["pytest_runtest_makereport"]


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="chatty.settings",
        DEBUG="0",
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PYTHONUNBUFFERED="1",
    )
    return env


def _serve(
    request: pytest.FixtureRequest, server: ServerProcess, also_show: Callable[[], str] | None = None
) -> Iterator[ServerProcess]:
    """Start `server` for one test and stop it after; its log is kept only if the test failed."""
    request.node.chatty_servers = [server]
    try:
        start_servers([server])
    except ServerFailed as exc:
        pytest.fail(f"{exc}\n{also_show()}" if also_show else str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        reports = [getattr(request.node, f"rep_{when}", None) for when in ("setup", "call")]
        if not any(report is not None and report.failed for report in reports):
            server.remove_log()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    require_postgres_and_redis()
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_on_private_redis(request: pytest.FixtureRequest, transactional_db, private_redis) -> Iterator[ServerProcess]:
    """One daphne process on the test database and the private Redis."""
    env = server_env(postgres_url(settings.DATABASES["default"]), private_redis.url)
    yield from _serve(request, ServerProcess("S", env))


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this test's own, with a migrated `chatty` database."""
    require_postgres_and_redis()
    cluster = PrivatePostgres()
    try:
        cluster.init()
        cluster.start()
        import psycopg

        with psycopg.connect(cluster.url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE DATABASE chatty")
        env = server_env(cluster.url("chatty"), "")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=BASE_DIR,
            env=env,
            check=True,
            timeout=120,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def server_on_private_postgres(
    request: pytest.FixtureRequest, private_postgres: PrivatePostgres, private_redis: PrivateRedis
) -> Iterator[ServerProcess]:
    """One daphne process on the private cluster's `chatty` database and the private Redis."""
    server = ServerProcess("S", server_env(private_postgres.url("chatty"), private_redis.url))
    yield from _serve(request, server, also_show=lambda: f"--- private PostgreSQL:\n{private_postgres.output()}")
