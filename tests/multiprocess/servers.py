"""Real Chatty server processes for the multi-process tests, and the Redis database they share.

Each server is `.venv/bin/daphne -b 127.0.0.1 -p <free port> chatty.asgi:application` on the
project's own settings (`chatty.settings`), its output captured to a temporary file. With
`ServerProcess(..., server="uvicorn")` it is the production server instead, launched as
docs/deploy.md's unit file does: `.venv/bin/uvicorn chatty.asgi:application --host 127.0.0.1
--port <free port> --loop uvloop --ws-per-message-deflate false`.

Isolation from other test runs on the same Redis: the servers' presence keys live in a Redis
database leased for this run (`RedisDbLease`). Redis pub/sub, which the channel layer uses, is
not per database, so the tests also start their ids at a random offset (see the conftest):
group names (`user.<id>`, `room.<id>`, ...) then differ from those of any other run.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import redis

BASE_DIR = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).with_name("daphne")
UVICORN = Path(sys.executable).with_name("uvicorn")
SERVER_KINDS = ("daphne", "uvicorn")
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class ServerFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_url(db: dict) -> str:
    """A DATABASE_URL for the database Django is connected to (the pytest-django test database)."""
    user = quote(db.get("USER") or "", safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}"


def redis_url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def start_servers(servers: list[ServerProcess], attempts: int = 3) -> None:
    """Start every server at once (they load Django in parallel), then wait for each to answer.

    A server whose port was taken between choosing it and binding it gets another port.
    """
    for server in servers:
        server.launch()
    for server in servers:
        for attempt in range(attempts):
            try:
                server.wait_ready()
                break
            except ServerFailed:
                # daphne says "Address already in use", uvicorn "address already in use".
                if attempt + 1 < attempts and "address already in use" in server.output().lower():
                    server.launch()
                    continue
                raise


class ServerProcess:
    """One daphne (default) or uvicorn process serving Chatty on 127.0.0.1."""

    def __init__(self, name: str, env: dict[str, str], *, server: str = "daphne") -> None:
        if server not in SERVER_KINDS:
            raise ValueError(f"server must be one of {SERVER_KINDS}, not {server!r}")
        self.name = name
        self.env = env
        self.server = server
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        fd, path = tempfile.mkstemp(prefix=f"chatty-{name}-", suffix=".log")
        os.close(fd)
        self.log_path = Path(path)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        assert self.port is not None
        if self.server == "uvicorn":
            # As docs/deploy.md's unit file runs it in production.
            return [
                str(UVICORN),
                "chatty.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--ws-per-message-deflate",
                "false",
            ]
        return [str(DAPHNE), "-b", "127.0.0.1", "-p", str(self.port), "chatty.asgi:application"]

    def launch(self, port: int | None = None) -> None:
        """Start the server on `port`, or on one that was free a moment ago (see `start_servers`
        for retries)."""
        self.port = port or free_port()
        with self.log_path.open("ab") as log:
            log.write(f"--- {self.name}: {shlex.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll HTTP until the server answers (any status), the process dies, or time runs out."""
        assert self.proc is not None and self.port is not None
        deadline = time.monotonic() + timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                raise ServerFailed(f"{self.name} exited with {code} before it was ready:\n{self.output()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/api/auth/check-auth")
                status = conn.getresponse().status
            except (OSError, http.client.HTTPException):
                status = None
            finally:
                conn.close()
            if status is not None:
                if status in (200, 401):  # check-auth: signed in or not; Django is up
                    return
                self.stop()
                raise ServerFailed(f"{self.name} answered HTTP {status} to check-auth:\n{self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(f"{self.name} did not answer HTTP within {timeout:.0f} s:\n{self.output()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """`kill -9`: no shutdown, no disconnect handlers, no goodbye to Redis."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def output(self, max_chars: int = 30_000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output file)"
        if len(text) > max_chars:
            text = f"... ({len(text) - max_chars} characters cut)\n" + text[-max_chars:]
        return text or "(no output)"

    def remove_log(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.log_path.unlink()


LEASE_PREFIX = "chatty-multiprocess-tests:lease:"
OWNED_MARKER = "chatty-multiprocess-tests:owned"
LEASE_SECONDS = 3600


class RedisDbLease:
    """A Redis database number held by this test run only.

    Leases are keys in the database of REDIS_URL, set with NX and an expiry (a crashed run
    frees its database within the hour). A database is taken only when it is empty or was
    last used by these tests (it holds OWNED_MARKER), so nobody else's data is ever flushed.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.db: int | None = None

    def acquire(self) -> int:
        own_db = int(urlsplit(self.url).path.lstrip("/") or 0)
        try:
            count = int(self.admin.config_get("databases").get("databases", 16))
        except redis.ResponseError:
            count = 16
        candidates = [n for n in range(1, count) if n != own_db]
        start = secrets.randbelow(len(candidates))
        for n in candidates[start:] + candidates[:start]:
            if not self.admin.set(f"{LEASE_PREFIX}{n}", self.token, nx=True, ex=LEASE_SECONDS):
                continue
            client = self.client(n)
            try:
                if client.dbsize() == 0 or client.exists(OWNED_MARKER):
                    self.db = n
                    self.flush()
                    return n
            finally:
                client.close()
            self.admin.delete(f"{LEASE_PREFIX}{n}")
        raise ServerFailed(
            f"No free Redis database on {self.url} for the multi-process tests: databases 1..{count - 1} are "
            "leased by other runs or hold data that is not theirs."
        )

    def client(self, db: int | None = None) -> redis.Redis:
        return redis.Redis.from_url(redis_url_with_db(self.url, self.db if db is None else db), socket_timeout=5)

    def flush(self) -> None:
        """Empty the leased database (the previous test's presence records) and renew the lease."""
        assert self.db is not None
        client = self.client()
        try:
            client.flushdb()
            client.set(OWNED_MARKER, self.token)
        finally:
            client.close()
        self.admin.set(f"{LEASE_PREFIX}{self.db}", self.token, xx=True, ex=LEASE_SECONDS)

    def release(self) -> None:
        """Leave the database empty (as it was found, or as a crashed run of these tests left it)."""
        if self.db is None:
            return
        client = self.client()
        try:
            client.flushdb()
        finally:
            client.close()
        key = f"{LEASE_PREFIX}{self.db}"
        # Delete only our own lease (compare and delete in one step).
        self.admin.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            1,
            key,
            self.token,
        )
        self.db = None
        self.admin.close()
