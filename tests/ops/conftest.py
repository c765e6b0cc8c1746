"""Real uvicorn processes for the operator tests, started as the shipped unit starts them
(deploy/systemd/chatty@.service) plus what a test adds (workers, LOG_FORMAT, metrics)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.multiprocess.servers import BASE_DIR, UVICORN, ServerProcess, postgres_url, start_servers

LOG_CONFIG = BASE_DIR / "deploy" / "logging.json"


def database_url() -> str:
    db = settings.DATABASES["default"]
    if "postgresql" in db["ENGINE"]:
        return postgres_url(db)
    return f"sqlite:///{db['NAME']}"


class Uvicorn(ServerProcess):
    def __init__(self, name: str, env: dict[str, str], *, extra: list[str]) -> None:
        super().__init__(name, env, server="uvicorn")
        self.extra = extra

    def command(self) -> list[str]:
        assert self.port is not None
        return [
            str(UVICORN),
            "chatty.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ws-per-message-deflate",
            "false",
            "--log-config",
            str(LOG_CONFIG.relative_to(BASE_DIR)),
            *self.extra,
        ]


@pytest.fixture
def uvicorn_server(transactional_db, request: pytest.FixtureRequest) -> Iterator[Callable[..., Uvicorn]]:
    """Start a uvicorn on the test database (no Redis: one host's processes, in-process layer)."""
    started: list[Uvicorn] = []

    def start(*, extra: list[str] | None = None, **env: str) -> Uvicorn:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "DJANGO_")) and k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
        }
        base.update(
            DJANGO_SETTINGS_MODULE="chatty.settings",
            DEBUG="0",
            SECRET_KEY=settings.SECRET_KEY,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=database_url(),
            PYTHONUNBUFFERED="1",
            **env,
        )
        server = Uvicorn(f"uvicorn{len(started)}", base, extra=extra or [])
        started.append(server)
        start_servers([server])
        return server

    yield start
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for server in started:
        server.stop()
        if failed:
            print(f"--- {server.name} log: {server.log_path}")
        else:
            server.remove_log()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


def read_text(path: Path) -> str:
    return path.read_text(errors="replace")
