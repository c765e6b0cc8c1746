"""What the websocket benchmarks share: a database of their own, a server they start and stop,
CPU and memory read from /proc, and percentiles.

Everything targets 127.0.0.1 only, and every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = sys.executable
DATA = ROOT / "bench" / ".data"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_BASE_URL = PG_ADMIN_URL.rsplit("/", 1)[0]
REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789abcdefghijklmnopqrstuvwxyz"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CORE = 1
GENERATOR_CORE = 0
SERVERS = ("daphne", "uvicorn", "granian")
LAYERS = ("pubsub", "core")


def log(*parts: Any) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(wanted, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- database ---------------------------------------------------------------------------------


def _migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _admin(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


# --- private PostgreSQL and Redis ------------------------------------------------------------------

PRIVATE_PG_DIR = Path(os.environ.get("BENCH_PRIVATE_PG_DIR", "/tmp/chatty-bench-pg"))
PRIVATE_PG_PORT = 5499
PRIVATE_REDIS_PORT = 6399
PG_BIN = Path("/usr/lib/postgresql/15/bin")
service_pids: dict[str, int] = {}


def _wait_tcp(port: int, proc: subprocess.Popen, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not listening on {port} after {timeout}s")


@contextlib.contextmanager
def exclusive(timeout: float = 1800.0) -> Iterator[None]:
    """One benchmark at a time on this machine (they share ports, databases and cores)."""
    import fcntl

    DATA.mkdir(parents=True, exist_ok=True)
    with open(DATA / "bench.lock", "w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError("another benchmark is still running") from None
                time.sleep(1.0)
        yield


def _port_free(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return False
    return True


def priority_prefix(nice: int = 0, realtime: bool = False) -> list[str]:
    """Command prefix: SCHED_FIFO priority 1 (`realtime`, root) or a nice level."""
    if realtime:
        return ["chrt", "-f", "1"]
    return ["nice", "-n", str(nice)] if nice else []


@contextlib.contextmanager
def private_services(nice: int = 0, realtime: bool = False, core: int | None = None) -> Iterator[None]:
    """A PostgreSQL cluster and a Redis of the benchmark's own on 127.0.0.1 (ports 5499, 6399),
    at the benchmark's priority: on a machine shared with other work, the shared services'
    queues would otherwise decide the latencies. Same PostgreSQL settings as Debian's cluster
    (fsync and synchronous_commit on, 128 MB shared buffers). `core`: both pinned there (the
    generator's core), so that the server's core is the server's alone. Always stopped afterwards."""
    global PG_ADMIN_URL, PG_BASE_URL, REDIS_BASE
    prio = priority_prefix(nice, realtime) + (["taskset", "-c", str(core)] if core is not None else [])
    for port in (PRIVATE_PG_PORT, PRIVATE_REDIS_PORT):
        if not _port_free(port):
            raise RuntimeError(f"127.0.0.1:{port} is taken: is another benchmark running?")
    if not (PRIVATE_PG_DIR / "PG_VERSION").exists():
        PRIVATE_PG_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["chown", "postgres:postgres", str(PRIVATE_PG_DIR)], check=True, timeout=30)
        subprocess.run(
            [
                *("runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", str(PRIVATE_PG_DIR)),
                *("-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"),
            ],
            check=True,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )
    DATA.mkdir(parents=True, exist_ok=True)
    pg_log = open(DATA / "private-postgres.log", "w")  # noqa: SIM115
    pg = subprocess.Popen(
        [
            *prio,
            *("runuser", "-u", "postgres", "--", str(PG_BIN / "postgres"), "-D", str(PRIVATE_PG_DIR)),
            *("-p", str(PRIVATE_PG_PORT), "-k", "/tmp", "-c", "listen_addresses=127.0.0.1"),
            *("-c", "max_connections=300", "-c", "shared_buffers=128MB"),
        ],
        stdout=pg_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    redis = subprocess.Popen(
        [
            *prio,
            *("redis-server", "--port", str(PRIVATE_REDIS_PORT), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--daemonize", "no", "--maxclients", "20000"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    saved = PG_ADMIN_URL, PG_BASE_URL, REDIS_BASE
    try:
        _wait_tcp(PRIVATE_PG_PORT, pg, "private PostgreSQL")
        _wait_tcp(PRIVATE_REDIS_PORT, redis, "private Redis")
        PG_BASE_URL = f"postgres://postgres@127.0.0.1:{PRIVATE_PG_PORT}"
        PG_ADMIN_URL = f"{PG_BASE_URL}/postgres"
        REDIS_BASE = f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/13"
        for _ in range(50):  # accepting TCP is not yet accepting queries
            try:
                _admin("SELECT 1")
                break
            except Exception:
                time.sleep(0.2)
        service_pids["postgres"] = pg.pid
        service_pids["redis"] = redis.pid
        log(f"private PostgreSQL :{PRIVATE_PG_PORT} and Redis :{PRIVATE_REDIS_PORT} ({' '.join(prio) or 'nice 0'})")
        yield
    finally:
        PG_ADMIN_URL, PG_BASE_URL, REDIS_BASE = saved
        service_pids.clear()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pg.pid, signal.SIGINT)  # PostgreSQL's fast shutdown
        stop_process(redis)
        try:
            pg.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop_process(pg)
        pg_log.close()


def server_env(database: str, *, layer: str = "pubsub", extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.server_settings",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"{PG_BASE_URL}/{database}",
            "REDIS_URL": REDIS_BASE,
            "SECRET_KEY": SECRET_KEY,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "CHATTY_CHANNEL_LAYER": layer,
        }
    )
    env.update(extra or {})
    return env


def fresh_database(name: str) -> None:
    """Drop `name` and make it again from a migrated template (migrated once per schema)."""
    template = f"{name}_template"
    digest = _migrations_digest()
    rows = _admin(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        [template],
    )
    if not rows or rows[0][0] != digest:
        log(f"migrating template database {template}")
        _admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{template}"')
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=server_env(template),
            check=True,
            timeout=300,
        )
        _admin(f"COMMENT ON DATABASE \"{template}\" IS '{digest}'")
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def flush_redis() -> None:
    """Empty the benchmark's own Redis database (not the others: tests share the server)."""
    import redis

    client = redis.Redis.from_url(REDIS_BASE, socket_timeout=10)
    try:
        client.flushdb()
    finally:
        client.close()


def seed(
    database: str,
    *,
    users: int,
    rooms: int,
    room_size: int,
    friends: int,
    messages: int,
    manifest: Path,
) -> dict[str, Any]:
    """`seed_demo` into `database`; returns its manifest (users with tokens, rooms)."""
    manifest.parent.mkdir(parents=True, exist_ok=True)
    command = [PYTHON, "manage.py", "seed_demo", "--users", str(users), "--friends", str(friends)]
    command += ["--rooms", str(rooms), "--room-size", str(room_size), "--messages", str(messages)]
    command += ["--seed", "1", "--manifest", str(manifest)]
    started = time.monotonic()
    out = subprocess.run(
        command, cwd=ROOT, env=server_env(database), check=True, timeout=1800, capture_output=True, text=True
    )
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    log(f"seed_demo {time.monotonic() - started:.1f}s: {last}")
    return json.loads(manifest.read_text())


# A browser's sign-in, as django.contrib.auth.login leaves it: a stored session naming the
# user (with its auth hash and backend), last_login updated, user_logged_in sent. Run through
# `manage.py shell -c` in the benchmark database (with the server's settings).
_SESSIONS_CODE = """
import json, os
from importlib import import_module
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest
store = import_module(settings.SESSION_ENGINE).SessionStore
with open(os.environ["BENCH_SESSION_USERS"]) as given:
    ids = [int(i) for i in json.load(given)]
users = get_user_model().objects.in_bulk(ids)
keys = {}
for user_id in ids:
    request = HttpRequest()
    request.session = store()
    login(request, users[user_id], backend="django.contrib.auth.backends.ModelBackend")
    request.session.save()
    keys[str(user_id)] = request.session.session_key
with open(os.environ["BENCH_SESSION_OUT"], "w") as out:
    json.dump({"cookie": settings.SESSION_COOKIE_NAME, "sessions": keys}, out)
"""


def browser_sessions(database: str, user_ids: Sequence[str], *, path: Path) -> tuple[str, dict[str, str]]:
    """Sign each user in as a browser would (a Django session each, in `database`):
    returns the session cookie's name and user id -> session key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    users = path.with_name(f"{path.stem}-users.json")
    users.write_text(json.dumps(list(user_ids)))
    env = server_env(database, extra={"BENCH_SESSION_USERS": str(users), "BENCH_SESSION_OUT": str(path)})
    started = time.monotonic()
    subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", _SESSIONS_CODE],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=1800,
        stdout=subprocess.DEVNULL,  # the shell's banner; errors still reach stderr
    )
    made = json.loads(path.read_text())
    log(f"{len(made['sessions'])} sessions in {time.monotonic() - started:.1f}s")
    return made["cookie"], made["sessions"]


# --- /proc ------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, *, with_reaped_children: bool = False) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    f = _stat_fields(pid)
    ticks = int(f[11]) + int(f[12])
    if with_reaped_children:
        ticks += int(f[13]) + int(f[14])
    return ticks / CLK_TCK


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _ppid_and_comm(pid: int) -> tuple[int, str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    return int(raw[raw.rindex(")") + 2 :].split()[1]), comm


def descendants(pid: int) -> list[int]:
    """`pid` and every process under it."""
    children: dict[int, list[int]] = {}
    for p in _all_pids():
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid, _ = _ppid_and_comm(p)
            children.setdefault(ppid, []).append(p)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in descendants(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(p)
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    total = 0
    for p in descendants(pid):
        with contextlib.suppress(OSError):
            total += rss_kib(p)
    return total


def service_cpu_seconds(comm: str) -> float:
    """CPU of a system service (postgres, redis-server) including children it has reaped
    (PostgreSQL forks a backend per connection; short-lived ones would be missed otherwise)."""
    procs = {}
    for p in _all_pids():
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid, c = _ppid_and_comm(p)
            if c.startswith(comm):
                procs[p] = ppid
    total = 0.0
    for p, ppid in procs.items():
        with contextlib.suppress(OSError):
            total += cpu_seconds(p, with_reaped_children=ppid not in procs)
    return total


def _service(name: str) -> float:
    """CPU of the private service's process tree when there is one, else of the machine's."""
    pid = service_pids.get(name)
    if pid is None:
        return service_cpu_seconds("postgres" if name == "postgres" else "redis-server")
    total = 0.0
    for p in descendants(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(p, with_reaped_children=True)
    return total


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class CpuMeter:
    """CPU used during a window by the server, this process, PostgreSQL, Redis, the machine."""

    server_pid: int
    started: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)  # CPU seconds over the last window

    def _read(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = machine_busy_seconds()
        return {
            "server": tree_cpu_seconds(self.server_pid),
            "generator": usage.ru_utime + usage.ru_stime,
            "postgres": _service("postgres"),
            "redis": _service("redis"),
            "machine_busy": busy,
            "machine_total": total,
        }

    def start(self) -> None:
        self.started = time.monotonic()
        self.marks = self._read()

    def stop(self) -> dict[str, float]:
        """Percent of one core for each, over the window; the machine as percent of all cores."""
        elapsed = time.monotonic() - self.started
        now = self._read()
        self.used = {k: now[k] - self.marks[k] for k in ("server", "generator", "postgres", "redis")}
        out = {k: 100.0 * self.used[k] / elapsed for k in self.used}
        span = now["machine_total"] - self.marks["machine_total"]
        busy = now["machine_busy"] - self.marks["machine_busy"]
        out["machine"] = 100.0 * busy / span if span else 0.0
        # Everything else on the machine (other work running beside the benchmark), % of a core.
        known = sum(out[k] for k in ("server", "generator", "postgres", "redis"))
        out["others"] = max(0.0, 100.0 * busy / elapsed - known)
        out["seconds"] = elapsed
        return out


def wait_for_quiet(*, max_busy: float = 25.0, timeout: float = 120.0) -> float:
    """Wait (bounded) until the machine is nearly idle: other work skews every figure.
    Returns the busy share (% of all cores) seen last."""
    deadline = time.monotonic() + timeout
    busy = 100.0
    while True:
        b0, t0 = machine_busy_seconds()
        time.sleep(2.0)
        b1, t1 = machine_busy_seconds()
        busy = 100.0 * (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
        if busy <= max_busy or time.monotonic() >= deadline:
            if busy > max_busy:
                log(f"machine still {busy:.0f}% busy after {timeout:.0f}s: measuring anyway")
            return busy


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(kind: str, port: int, *, deflate: bool = False) -> list[str]:
    """The server's command line; `deflate` turns uvicorn's permessage-deflate on (its default,
    which the benchmarks otherwise turn off)."""
    app = "chatty.asgi:application"
    if kind == "daphne":
        return [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "-v", "0", app]
    if kind == "uvicorn":
        return [
            str(VENV_BIN / "uvicorn"),
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--ws-per-message-deflate",
            "true" if deflate else "false",
            "--ws-ping-interval",  # as deployed (deploy/systemd/chatty@.service)
            "60",
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
            "--backlog",
            "4096",
        ]
    if kind == "granian":
        return [
            str(VENV_BIN / "granian"),
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--runtime-threads",
            "1",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            "--backlog",
            "4096",
            app,
        ]
    raise ValueError(kind)


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"server not listening on {port} after {timeout}s")


@contextlib.contextmanager
def running_server(
    kind: str,
    env: dict[str, str],
    *,
    core: int | None = SERVER_CORE,
    log_path: Path | None = None,
    nice: int = 0,
    realtime: bool = False,
    deflate: bool = False,
    port: int | None = None,
) -> Iterator[tuple[subprocess.Popen, int]]:
    """Start the server pinned to `core` (taskset) in its own process group; always stop it.
    `nice` below 0 (root only) favours it over other work on a shared machine. `port`: a
    given one (a restart on the same address), else a free one."""
    port = port or free_port()
    command = server_command(kind, port, deflate=deflate)
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    command = [*priority_prefix(nice, realtime), *command]
    log_path = log_path or DATA / f"server-{kind}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_port(port, proc)
        log(f"{kind} pid {proc.pid} on 127.0.0.1:{port} (log {log_path.relative_to(ROOT)})")
        yield proc, port
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def server_errors(log_path: Path, limit: int = 5) -> list[str]:
    """The first few error lines of a server log (to print beside the figures)."""
    if not log_path.exists():
        return []
    lines = [
        line.strip()
        for line in log_path.read_text(errors="replace").splitlines()
        if "Error" in line or "ERROR" in line or "Traceback" in line
    ]
    return lines[:limit]


# --- profiles ---------------------------------------------------------------------------------


def start_profile(path: Path, pid: int, seconds: float, *, gil: bool = False) -> subprocess.Popen:
    """py-spy record of `pid` (and its children) for `seconds`, as collapsed stacks (root needed):
    wall-clock samples of every thread, waiting included (read them with bench/profile_summary.py);
    `gil`: only the thread holding the GIL, i.e. where the process's Python CPU goes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(max(1, int(seconds)))]
    command += ["--rate", "200", "--nonblocking", "--subprocesses", "--threads"]
    command += ["--gil"] if gil else ["--idle"]
    command += ["--format", "raw", "--output", str(path)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def finish_profile(proc: subprocess.Popen, path: Path) -> None:
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        stop_process(proc)
    if path.exists():
        log(f"profile: {path}")


# --- figures ----------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[index]


def event_loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(coro):
    """asyncio.run on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def pin_self(core: int = GENERATOR_CORE, nice: int = 0, realtime: bool = False) -> None:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {core})
    if realtime:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    elif nice:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, nice)


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=1))
