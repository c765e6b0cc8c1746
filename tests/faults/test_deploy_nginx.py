"""docs/deploy.md, run for real: two uvicorn processes behind nginx, on PostgreSQL and Redis.

What runs is what the recipe ships under deploy/, read from the same files the doc tells
operators to copy:

- `deploy/systemd/chatty@.service`: both processes are started with its ExecStart word for
  word (`%i` = a free port, `/srv/chatty/app` = this checkout) in the environment of
  `deploy/chatty.env.example`, of which only SECRET_KEY (the tests' key, which signs the bearer
  tokens), DATABASE_URL (the pytest-django test database), REDIS_URL (a Redis database
  leased for this run) and MEDIA_ROOT (a folder of this test) are replaced. `deploy/Procfile`
  must hold the same command.
- `deploy/nginx/chatty.conf`: included, as Debian's nginx.conf includes sites-enabled/, in the
  http {} block of a private nginx (`nginx -p <tmp> -c <tmp>/nginx.conf -g 'daemon off;'`,
  logs, pid and temporary files in <tmp>). The test replaces only what a test machine cannot
  have, each replacement matching exactly once (a shipped file the test does not understand
  fails it): `listen 443`/`listen 80` become free ports on 127.0.0.1, the Let's Encrypt
  certificate a self-signed one for chat.example.com made with openssl, the upstream ports
  8001/8002 the ports the processes got, /srv/chatty/app/staticfiles/ the directory this
  test's collectstatic filled (the checkout's own staticfiles/ is left alone: other runs share it)
  and /srv/chatty/media/ the processes' MEDIA_ROOT.

Clients talk https to nginx with `Host: chat.example.com`, as they would to the real site, each
connection from a loopback address of its own (127.0.0.2, 127.0.0.3, ...). uvicorn's access log
shows the client address it took from X-Forwarded-For, so one log line proves both that nginx
passed the address on and which of the two processes served the connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import itertools
import json
import os
import re
import secrets
import shlex
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.multiprocess.conftest import distinct_ids, redis_db_lease, require_postgres_and_redis
from tests.multiprocess.servers import (
    BASE_DIR,
    STOP_TIMEOUT,
    RedisDbLease,
    ServerFailed,
    ServerProcess,
    free_port,
    postgres_url,
    redis_url_with_db,
    start_servers,
)
from tests.multiprocess.wsclient import WsClient

__all__ = ["distinct_ids", "redis_db_lease"]  # fixtures from tests/multiprocess, used by name

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

DEPLOY = BASE_DIR / "deploy"
UNIT_FILE = DEPLOY / "systemd" / "chatty@.service"
PROCFILE = DEPLOY / "Procfile"
NGINX_SITE = DEPLOY / "nginx" / "chatty.conf"
ENV_EXAMPLE = DEPLOY / "chatty.env.example"
DOC = BASE_DIR / "docs" / "deploy.md"
APP_DIR = "/srv/chatty/app"  # where the recipe puts the code
MEDIA_DIR = "/srv/chatty/media"  # where it keeps uploads (MEDIA_ROOT)
SITE = "chat.example.com"
UVICORN = BASE_DIR / ".venv" / "bin" / "uvicorn"
PYTHON = BASE_DIR / ".venv" / "bin" / "python"
READY_TIMEOUT = 60.0  # a process loading Django on a busy machine
WAIT = 30.0  # any single wait for an answer or a log line
DOC_PORTS = (8001, 8002)

# 127.0.0.2, 127.0.0.3, ...: never one twice.
_sources = (f"127.0.{n // 250}.{n % 250 + 2}" for n in itertools.count())


def next_source() -> str:
    """A loopback address no earlier connection of this test used (Linux routes all of 127/8)."""
    return next(_sources)


# --- the shipped files --------------------------------------------------------------------


def read_unit() -> dict[str, str]:
    """`Section.Key` -> value (systemd joins a line ending in a backslash with the next)."""
    values: dict[str, str] = {}
    section = ""
    for raw in UNIT_FILE.read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{UNIT_FILE}: not Key=value: {raw!r}"
        values[f"{section}.{key.strip()}"] = value.strip()
    return values


def unit_command(port: int | str) -> list[str]:
    """The unit's ExecStart for instance `port`, as recipe-relative words."""
    unit = read_unit()
    assert unit["Service.WorkingDirectory"] == APP_DIR
    assert unit["Service.EnvironmentFile"] == "/etc/chatty.env"
    argv = [word.replace("%i", str(port)) for word in shlex.split(unit["Service.ExecStart"])]
    assert argv[0] == f"{APP_DIR}/.venv/bin/uvicorn", argv
    return argv


def env_file() -> dict[str, str]:
    """deploy/chatty.env.example as systemd's EnvironmentFile= reads it (plain KEY=value lines)."""
    values: dict[str, str] = {}
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f"{ENV_EXAMPLE}: not KEY=value: {raw!r}"
        values[key] = value
    return values


def service_env(database_url: str, redis_url: str, media_root: Path) -> dict[str, str]:
    values = env_file()
    for key in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MEDIA_ROOT"):
        assert key in values, f"{ENV_EXAMPLE} has no {key}"
    values.update(
        SECRET_KEY=settings.SECRET_KEY, DATABASE_URL=database_url, REDIS_URL=redis_url, MEDIA_ROOT=str(media_root)
    )
    # What systemd gives a service besides EnvironmentFile=; nothing of the test's environment.
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(Path.home()), **values}


def test_shipped_files_agree_with_each_other_and_the_doc():
    """The Procfile runs the unit's command; the env example reads the same in sh and systemd;
    the doc points at the files instead of keeping copies of its own."""
    unit_argv = unit_command("%i")
    procfile: dict[str, list[str]] = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            procfile[name.strip()] = shlex.split(command)
    assert procfile == {
        f"web{n}": [".venv/bin/uvicorn", *(w.replace("%i", str(port)) for w in unit_argv[1:])]
        for n, port in enumerate(DOC_PORTS, 1)
    }

    values = env_file()
    sourced = subprocess.run(
        ["sh", "-c", 'set -a; . "$1"; env', "sh", str(ENV_EXAMPLE)],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    sh_values = dict(line.split("=", 1) for line in sourced.splitlines() if "=" in line)
    assert {k: sh_values.get(k) for k in values} == values

    doc = DOC.read_text()
    for path in (UNIT_FILE, PROCFILE, NGINX_SITE, ENV_EXAMPLE):
        assert str(path.relative_to(BASE_DIR)) in doc, f"docs/deploy.md does not mention {path}"
    for copy in ("ExecStart=", "proxy_pass", "upstream chatty {", "ALLOWED_HOSTS=chat"):
        assert copy not in doc, f"docs/deploy.md keeps its own copy of the shipped configuration ({copy!r})"
    for command in ("pg_dump --format=custom --file=", "pg_restore --no-owner --exit-on-error --dbname="):
        assert command in doc, f"docs/deploy.md no longer says {command!r}: update this test with it"


# --- processes ----------------------------------------------------------------------------


def get(
    port: int,
    path: str,
    *,
    tls: ssl.SSLContext | None = None,
    source: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One GET with `Host: chat.example.com`; (status, lower-cased headers, body)."""
    if tls is not None:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=WAIT, context=tls, source_address=(source, 0)
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Host": SITE, **(headers or {})})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


class UnitProcess(ServerProcess):
    """One `chatty@<port>` instance: the unit's ExecStart, run from this checkout."""

    def command(self) -> list[str]:
        return [str(UVICORN), *unit_command(self.port)[1:]]

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll /healthz (as the doc's curl does) until it says ok, the process dies, or time runs out."""
        assert self.proc is not None and self.port is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerFailed(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                status, _, body = get(self.port, "/healthz")
            except (OSError, http.client.HTTPException):
                status, body = None, b""
            if status == 200:
                assert json.loads(body) == {"status": "ok", "database": "ok", "redis": "ok"}
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(f"{self.name}: no healthy /healthz within {timeout:.0f} s:\n{self.output()}")
            time.sleep(0.1)

    def log(self) -> str:
        """The process's log as text lines: each JSON line (LOG_FORMAT=json in the env example,
        the unit's --log-config) stands for its message, so access lines read as uvicorn's own."""
        lines = []
        for line in self.output(max_chars=10**8).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                lines.append(line)
                continue
            lines.append(record.get("message", line) if isinstance(record, dict) else line)
        return "\n".join(lines)


class Nginx:
    """A private nginx serving deploy/nginx/chatty.conf (with the substitutions above)."""

    def __init__(
        self, root: Path, upstream_ports: list[int], static_root: Path, media_root: Path, cert: Path, key: Path
    ) -> None:
        self.name = "nginx"
        self.root = root
        self.upstream_ports = upstream_ports
        self.static_root = static_root
        self.media_root = media_root
        self.cert, self.key = cert, key
        self.port: int | None = None  # https
        self.http_port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = root / "error.log"
        self.tls = ssl.create_default_context(cafile=str(cert))

    def site_config(self) -> str:
        text = NGINX_SITE.read_text()
        replacements = [
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.port} ssl http2;"),
            ("listen 80;", f"listen 127.0.0.1:{self.http_port};"),
            (f"/etc/letsencrypt/live/{SITE}/fullchain.pem", str(self.cert)),
            (f"/etc/letsencrypt/live/{SITE}/privkey.pem", str(self.key)),
            *(
                (f"server 127.0.0.1:{doc_port}", f"server 127.0.0.1:{port}")
                for doc_port, port in zip(DOC_PORTS, self.upstream_ports, strict=True)
            ),
            (f"{APP_DIR}/staticfiles/", f"{self.static_root}/"),
            (f"{MEDIA_DIR}/", f"{self.media_root}/"),
        ]
        for old, new in replacements:
            assert text.count(old) == 1, f"{NGINX_SITE}: expected {old!r} exactly once; update this test"
            text = text.replace(old, new)
        settings_lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        assert not any(APP_DIR in line or MEDIA_DIR in line or "listen 443" in line for line in settings_lines)
        return text

    def main_config(self) -> str:
        r = self.root
        # Debian's nginx.conf runs workers as www-data: they must be able to read the static files.
        user = "user www-data;\n" if os.geteuid() == 0 else ""
        return (
            f"{user}worker_processes 1;\npid {r}/nginx.pid;\nerror_log {r}/error.log info;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            "    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
            f"    access_log {r}/access.log;\n"
            f"    client_body_temp_path {r}/client_body;\n    proxy_temp_path {r}/proxy;\n"
            f"    fastcgi_temp_path {r}/fastcgi;\n    uwsgi_temp_path {r}/uwsgi;\n    scgi_temp_path {r}/scgi;\n"
            f"    include {r}/chatty.conf;\n"
            "}\n"
        )

    def start(self, attempts: int = 3) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        for attempt in range(attempts):
            self.port, self.http_port = free_port(), free_port()
            (self.root / "chatty.conf").write_text(self.site_config())
            (self.root / "nginx.conf").write_text(self.main_config())
            with (self.root / "nginx.out").open("ab") as out:
                self.proc = subprocess.Popen(
                    [
                        nginx,
                        *("-p", f"{self.root}/", "-e", str(self.log_path)),
                        *("-c", str(self.root / "nginx.conf"), "-g", "daemon off;"),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                self.wait_ready()
                return
            except ServerFailed:
                if attempt + 1 < attempts and "Address already in use" in self.output():
                    continue
                raise

    def wait_ready(self, timeout: float = WAIT) -> None:
        assert self.proc is not None and self.port is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerFailed(f"nginx exited with {self.proc.returncode}:\n{self.output()}")
            try:
                get(self.port, "/static/does-not-exist", tls=self.tls)
                return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(f"nginx not answering on 127.0.0.1:{self.port} within {timeout:.0f} s")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.terminate()  # fast shutdown
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def output(self, max_chars: int = 30_000) -> str:
        parts = []
        for name in ("nginx.out", "error.log", "access.log", "chatty.conf"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-max_chars:]}")
        return "\n".join(parts) or "(no output)"


def served_by(units: list[UnitProcess], line: str, timeout: float = WAIT) -> UnitProcess:
    """The one process whose log has `line` (an access-log line naming a client address)."""
    pattern = re.compile(rf"(?<![\d.]){re.escape(line)}")
    deadline = time.monotonic() + timeout
    while True:
        hits = [unit for unit in units if pattern.search(unit.log())]
        assert len(hits) <= 1, f"{line!r} in the logs of {[u.name for u in hits]}"
        if hits:
            return hits[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no process logged {line!r} within {timeout:.0f} s")
        time.sleep(0.05)


def ws_line(source: str) -> str:
    return f'{source}:0 - "WebSocket /ws/" [accepted]'


async def open_via_nginx(nginx: Nginx, token: str, name: str, source: str, origin: str | None = None) -> WsClient:
    """wss://chat.example.com/ws/ with a bearer token, the TCP connection going to the private nginx."""
    ws = await connect(
        f"wss://{SITE}/ws/",
        additional_headers={"Authorization": f"Bearer {token}"},
        origin=origin,  # type: ignore[arg-type]
        ssl=nginx.tls,
        host="127.0.0.1",
        port=nginx.port,
        local_addr=(source, 0),
        open_timeout=WAIT,
        close_timeout=2,
        proxy=None,
    )
    return WsClient(ws, name, nginx.port or 0)


def post_file(nginx: Nginx, path: str, token: str, filename: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """A multipart POST with field `file`, over https to nginx, with a bearer token."""
    boundary = secrets.token_hex(16)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    conn = http.client.HTTPSConnection("127.0.0.1", nginx.port, timeout=WAIT, context=nginx.tls)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Host": SITE,
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def check_attachments_through_nginx(nginx, media_root, alice, room, alice_token, bob_token, stranger_token) -> None:
    """Alice uploads, then sends to the room she shares with Bob."""
    import io

    from PIL import Image

    from chats.attachments import Attachment
    from chats.services import message_send
    from chats.uploads import attach_to_message

    noise = Image.frombytes("RGB", (1024, 1024), os.urandom(1024 * 1024 * 3))  # incompressible
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert out.tell() > 3 * 1024 * 1024
    status, _, body = post_file(nginx, "/api/chat/upload", alice_token, "noise.png", out.getvalue())
    assert status == 201, body[:500]
    uploaded = json.loads(body)
    assert (uploaded["contentType"], uploaded["width"], uploaded["height"]) == ("image/png", 1024, 1024)
    stored = media_root / Attachment.objects.get(pk=uploaded["id"]).file
    assert stored.stat().st_size == uploaded["size"]

    def fetch(url: str, token: str) -> tuple[int, dict[str, str], bytes]:
        return get(nginx.port, url, tls=nginx.tls, headers={"Authorization": f"Bearer {token}"})

    status, headers, served = fetch(uploaded["url"], alice_token)
    assert status == 200
    assert served == stored.read_bytes()
    assert headers["content-type"] == "image/png"
    assert headers["content-disposition"].startswith("inline")
    assert "x-accel-redirect" not in headers
    status, headers, thumbnail = fetch(uploaded["thumbnailUrl"], alice_token)
    assert (status, headers["content-type"], thumbnail[:4], thumbnail[8:12]) == (200, "image/webp", b"RIFF", b"WEBP")
    assert fetch(uploaded["url"], bob_token)[0] == 404  # not sent yet: its uploader only
    assert get(nginx.port, uploaded["url"], tls=nginx.tls)[0] == 404  # nobody signed in
    name = Attachment.objects.get(pk=uploaded["id"]).file
    assert get(nginx.port, f"/protected-media/{name}", tls=nginx.tls)[0] == 404  # internal only

    message, _ = message_send(sender=alice, room_id=room.pk, text="a picture")
    attach_to_message(message_id=message.pk, uploader_id=alice.pk, attachment_ids=[int(uploaded["id"])])
    status, _, served = fetch(uploaded["url"], bob_token)
    assert (status, served == stored.read_bytes()) == (200, True)
    assert fetch(uploaded["url"], stranger_token)[0] == 404
    assert fetch(uploaded["thumbnailUrl"], stranger_token)[0] == 404

    # Too large: one byte over 10 MiB is Django's answer, 12 MiB nginx's; both JSON.
    for size, detail in ((10 * 1024 * 1024 + 1, "10 MiB"), (12 * 1024 * 1024, "too large")):
        status, headers, body = post_file(nginx, "/api/chat/upload", alice_token, "big.bin", os.urandom(size))
        assert (status, headers["content-type"]) == (413, "application/json"), body[:300]
        assert json.loads(body)["error"] == "too_large"
        assert detail in json.loads(body)["detail"]


def psql_url(url: str, dbname: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{dbname}"


# --- the recipe ---------------------------------------------------------------------------


@pytest.fixture
def stack_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A temporary directory for nginx and the static files; kept, with the logs, when the test fails."""
    root = Path(tempfile.mkdtemp(prefix="chatty-deploy-"))
    root.chmod(0o755)  # nginx workers (www-data) read the static files in here
    yield root
    reports = [getattr(request.node, f"rep_{when}", None) for when in ("setup", "call")]
    if not any(report is not None and report.failed for report in reports):
        for server in getattr(request.node, "chatty_servers", []):
            if isinstance(server, UnitProcess):
                server.remove_log()
        shutil.rmtree(root, ignore_errors=True)


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> str:
    done = subprocess.run(argv, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{shlex.join(argv)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_two_uvicorn_processes_behind_nginx_with_postgres_and_redis(
    request: pytest.FixtureRequest,
    stack_dir: Path,
    distinct_ids: int,
    redis_db_lease: RedisDbLease,
    make_user,
    befriend,
    token_for,
):
    require_postgres_and_redis()
    redis_db_lease.flush()
    database_url = postgres_url(settings.DATABASES["default"])
    media_root = stack_dir / "media"
    env = service_env(database_url, redis_url_with_db(settings.REDIS_URL, redis_db_lease.db), media_root)
    units = [UnitProcess("chatty@A", env), UnitProcess("chatty@B", env)]
    request.node.chatty_servers = list(units)
    nginx: Nginx | None = None
    restore_db = f"{settings.DATABASES['default']['NAME']}_restored"
    try:
        # §2: the management commands of the recipe, beside the processes starting (§3).
        static_root = stack_dir / "staticfiles"
        (stack_dir / "deploy_test_settings.py").write_text(
            f"from chatty.settings import *  # noqa: F403\nSTATIC_ROOT = {str(static_root)!r}\n"
        )
        collect_env = {**env, "DJANGO_SETTINGS_MODULE": "deploy_test_settings", "PYTHONPATH": str(stack_dir)}
        with ThreadPoolExecutor(3) as pool:
            migrate = pool.submit(run, [str(PYTHON), "manage.py", "migrate", "--noinput"], env)
            collect = pool.submit(run, [str(PYTHON), "manage.py", "collectstatic", "--noinput", "-v0"], collect_env)
            check = pool.submit(run, [str(PYTHON), "manage.py", "check", "--deploy"], env)
            start_servers(units)
            migrate.result()  # the test database is migrated already: this must just succeed
            collect.result()
            assert "System check identified no issues" in check.result()

        # §4: nginx, TLS with a self-signed certificate for the site.
        cert, key = stack_dir / "fullchain.pem", stack_dir / "privkey.pem"
        run(
            [
                *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
                *("-nodes", "-days", "2", "-subj", f"/CN={SITE}", "-addext", f"subjectAltName=DNS:{SITE},IP:127.0.0.1"),
                *("-keyout", str(key), "-out", str(cert)),
            ]
        )
        nginx = Nginx(stack_dir, [u.port for u in units if u.port], static_root, media_root, cert, key)
        request.node.chatty_servers.append(nginx)
        nginx.start()
        a, b = units
        tls = nginx.tls

        # /healthz through nginx.
        status, _, body = get(nginx.port, "/healthz", tls=tls)
        assert (status, json.loads(body)) == (200, {"status": "ok", "database": "ok", "redis": "ok"})

        # The client's address and scheme reach Django: the access log names the address nginx
        # saw (not one the client claims), and https is known (CHATTY_HTTPS=1 would redirect
        # a plain-http request, and sends HSTS on secure ones only).
        source = next_source()
        probe = f"/api/auth/check-auth?probe={secrets.token_hex(4)}"
        status, headers, _ = get(nginx.port, probe, tls=tls, source=source, headers={"X-Forwarded-For": "198.51.100.7"})
        assert status == 401
        assert headers["strict-transport-security"].startswith("max-age=31536000")
        # (Access lines leave out the query string: search words and OAuth codes stay out of logs.)
        served_by(units, f'{source}:0 - "GET {probe.split("?")[0]} HTTP/1.0" 401')
        assert "198.51.100.7" not in a.log() + b.log()
        status, headers, _ = get(a.port, "/api/auth/check-auth")  # straight to a process: plain http
        assert (status, headers["location"]) == (301, f"https://{SITE}/api/auth/check-auth")
        status, headers, _ = get(nginx.http_port, "/login")  # port 80 sends browsers to https
        assert (status, headers["location"]) == (301, f"https://{SITE}/login")

        # Static files: collectstatic's output, served by nginx itself (the processes never see it).
        status, headers, body = get(nginx.port, "/static/css/chatty.css", tls=tls)
        assert status == 200
        assert body == (BASE_DIR / "static" / "css" / "chatty.css").read_bytes()
        assert headers["cache-control"] == "max-age=604800"  # `expires 7d`
        assert "GET /static/" not in a.log() + b.log()

        alice, bob = make_user("Alice"), make_user("Bob")
        befriend(alice, bob)
        from chats.models import Message
        from chats.services import room_create

        room, _ = room_create(creator=alice, friend_ids=[bob.pk])
        rid = str(room.pk)
        tokens = {"alice": token_for(alice), "bob": token_for(bob)}

        # Uploads: a 3 MiB image (over nginx's 2m for other bodies) through the upload location;
        # its file comes from nginx's internal location (Django answers X-Accel-Redirect and no
        # body), to its uploader only until it is sent, then to the room's participants.
        dana, eli = make_user("Dana"), make_user("Eli")
        befriend(dana, eli)
        dana_eli, _ = room_create(creator=dana, friend_ids=[eli.pk])
        check_attachments_through_nginx(
            nginx, media_root, dana, dana_eli, token_for(dana), token_for(eli), token_for(make_user("Carol"))
        )

        # Websockets through nginx, one client on each process, exchange messages in a room.

        async def scenario() -> str:
            clients: list[WsClient] = []

            async def place(who: str, target: UnitProcess, after_id: str | None) -> tuple[WsClient, list]:
                """Connect through nginx until nginx hands the connection to `target`; hello, join."""
                deadline = time.monotonic() + WAIT
                while True:
                    source = next_source()
                    origin = f"https://{SITE}" if who == "bob" else None  # a browser's Origin; none
                    client = await open_via_nginx(nginx, tokens[who], who, source, origin)
                    clients.append(client)
                    if await asyncio.to_thread(served_by, units, ws_line(source)) is target:
                        await client.hello()
                        return client, await client.join(rid, after_id)
                    await client.close()
                    assert time.monotonic() < deadline, f"no connection via nginx reached {target.name} in {WAIT} s"

            async def healthz_via_nginx() -> None:
                status, _, body = await asyncio.to_thread(get, nginx.port, "/healthz", tls=tls)
                assert status == 200, (status, body)

            try:
                alice_ws, history = await place("alice", a, None)
                assert history == []
                bob_ws, history = await place("bob", b, None)
                assert history == []
                ack = await alice_ws.send_message(rid, f"from {a.name} through nginx", "deploy-1")
                got = await bob_ws.expect(
                    "message", chatroomId=rid, pred=lambda f: f["message"]["id"] == ack["messageId"]
                )
                assert got["message"]["senderId"] == str(alice.pk)
                ack = await bob_ws.send_message(rid, f"from {b.name} through nginx", "deploy-2")
                got = await alice_ws.expect(
                    "message", chatroomId=rid, pred=lambda f: f["message"]["id"] == ack["messageId"]
                )
                assert got["message"]["senderId"] == str(bob.pk)
                last_seen = ack["messageId"]

                # A browser's Origin must be the site's.
                with pytest.raises(InvalidStatus) as refused:
                    clients.append(
                        await open_via_nginx(nginx, tokens["bob"], "evil", next_source(), "https://evil.example")
                    )
                assert refused.value.response.status_code == 403

                # §6 upgrading: restart one process, wait until it is healthy, restart the other.
                # Alice is on the process going down, Bob on the other; nginx must keep serving,
                # Alice reconnects through it and catches up with afterId.
                where = {"alice": a, "bob": b}
                for down, up in ((a, b), (b, a)):
                    if where["bob"] is not up:
                        await bob_ws.close()
                        bob_ws, missed = await place("bob", up, last_seen)
                        assert missed == []
                        where["bob"] = up
                    assert where["alice"] is down
                    await asyncio.to_thread(down.stop)  # systemctl restart: SIGTERM, wait for the exit
                    for _ in range(4):  # round robin would give every other request to `down`
                        await healthz_via_nginx()
                    await asyncio.wait_for(alice_ws.ws.wait_closed(), WAIT)
                    ack = await bob_ws.send_message(rid, f"while {down.name} restarts", f"deploy-{down.name}")
                    alice_ws, caught_up = await place("alice", up, last_seen)
                    assert [m["message"]["id"] for m in caught_up] == [ack["messageId"]]
                    where["alice"], last_seen = up, ack["messageId"]
                    await asyncio.to_thread(down.launch, down.port)  # the same instance: the same port
                    await asyncio.to_thread(down.wait_ready)
                return last_seen
            finally:
                for client in clients:
                    await client.close()

        last_id = asyncio.run(scenario())
        assert Message.objects.filter(room=room).count() == 4

        # §5 backups: pg_dump as the doc says, restored into a new database.
        dump = stack_dir / f"chatty-{dt.date.today():%F}.dump"
        run(["pg_dump", "--format=custom", f"--file={dump}", database_url])
        import psycopg

        admin_url = psql_url(database_url, "postgres")
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restore_db}"')
            conn.execute(f'CREATE DATABASE "{restore_db}"')
        restored_url = psql_url(database_url, restore_db)
        run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored_url}", str(dump)])
        with psycopg.connect(restored_url, connect_timeout=10) as conn:
            rows = conn.execute(
                f"SELECT text FROM {Message._meta.db_table} WHERE room_id = %s ORDER BY id", [room.pk]
            ).fetchall()
        assert [r[0] for r in rows] == [m.text for m in Message.objects.filter(room=room).order_by("id")]
        assert str(Message.objects.filter(room=room).order_by("id").last().pk) == last_id
    finally:
        if nginx is not None:
            nginx.stop()
        for unit in units:
            unit.stop()
        import psycopg

        with psycopg.connect(
            psql_url(postgres_url(settings.DATABASES["default"]), "postgres"), autocommit=True, connect_timeout=10
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restore_db}" WITH (FORCE)')
