"""Fixtures for the fault tests: a daphne server on a private Redis that the test may stop."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings

from tests.faults.services import PrivateRedis
from tests.multiprocess.conftest import pytest_runtest_makereport, require_postgres_and_redis
from tests.multiprocess.servers import ServerFailed, ServerProcess, postgres_url, start_servers

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
    server = ServerProcess("S", env)
    request.node.chatty_servers = [server]
    try:
        start_servers([server])
    except ServerFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        reports = [getattr(request.node, f"rep_{when}", None) for when in ("setup", "call")]
        if not any(report is not None and report.failed for report in reports):
            server.remove_log()
