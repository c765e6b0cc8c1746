"""Private Redis and PostgreSQL servers that the fault tests may stop and start.

The system PostgreSQL and Redis are shared with other work: the tests never touch them.
These run on free ports on 127.0.0.1, under a temporary directory, and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.multiprocess.servers import free_port

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def wait_listening(port: int, proc: subprocess.Popen | None, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not listening on 127.0.0.1:{port} after {timeout:.0f} s")
        time.sleep(0.05)


class PrivateRedis:
    """`redis-server` on a free port, no persistence: a restart comes back empty."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_listening(self.port, self.proc, "private redis-server")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)


def _pg_bin() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "postgres").exists():
            return candidate
    found = shutil.which("postgres") or shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("no PostgreSQL binaries (initdb, postgres) on this machine")


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb under a temporary directory, trust auth)."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="chatty-faults-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "postgres.log"
        self._as_postgres = os.geteuid() == 0  # PostgreSQL refuses to run as root
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self._as_postgres else list(args)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        subprocess.run(
            self._cmd(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"),
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        # initdb --no-sync is not in every version; fsync off keeps the test quick.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self._cmd(
                str(self.bin / "postgres"),
                *("-D", str(self.data), "-p", str(self.port), "-k", str(self.dir)),
                *("-c", "listen_addresses=127.0.0.1"),
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_listening(self.port, self.proc, "private PostgreSQL")
        self.wait_queries()

    def wait_queries(self, timeout: float = START_TIMEOUT) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): clients are disconnected, nothing committed is lost."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT * 2)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-10_000:]
        except FileNotFoundError:
            return "(no output)"

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
