"""`make run` (scripts/run.sh after the install): DEBUG off on the embedded defaults, so a person
trying Chatty gets its own friendly pages, and static files are served."""

from __future__ import annotations

import http.client
import os

import pytest
from django.conf import settings

from tests.multiprocess.servers import BASE_DIR, ServerProcess, free_port, start_servers
from tests.ops.conftest import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


class RunScript(ServerProcess):
    """scripts/run.sh as `make run` starts it, on a free port (HOST and PORT from the environment)."""

    def command(self) -> list[str]:
        return ["bash", str(BASE_DIR / "scripts" / "run.sh")]

    def launch(self, port: int | None = None) -> None:
        port = port or free_port()
        self.env = {**self.env, "HOST": "127.0.0.1", "PORT": str(port)}
        super().launch(port)


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def test_make_run_shows_the_friendly_pages(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "DJANGO_")) and k not in ("DEBUG", "SECRET_KEY", "REDIS_URL", "STATIC_ROOT")
    }
    env.update(DATABASE_URL=database_url(), STATIC_ROOT=str(tmp_path / "static"), PYTHONUNBUFFERED="1")
    server = RunScript("make-run", env)
    try:
        start_servers([server])
        status, body = _get(server.port, "/no/such/page")
        assert status == 404
        assert "This page does not exist" in body and "Page not found" not in body and "URLconf" not in body
        assert _get(server.port, "/static/css/chatty.css")[0] == 200
        assert (tmp_path / "static" / "css" / "chatty.css").is_file()  # collectstatic ran, into STATIC_ROOT
        assert _get(server.port, "/login")[0] == 200
    finally:
        server.stop()
        output = server.output()
        server.remove_log()
    assert settings.SECRET_KEY not in output
