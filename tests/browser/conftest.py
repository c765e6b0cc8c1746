"""Browser tests: Debian's Chromium (Playwright, sync API) against a real Chatty server.

The server is `.venv/bin/daphne chatty.asgi:application` in a subprocess, on Chatty's own
settings with DEBUG off, pointed at the pytest-django test database (hence
`django_db(transaction=True)`: rows the test makes are committed, so the server sees them).
One server serves the whole package; each test makes its own users.

Playwright's sync API keeps an asyncio loop running in the test's thread, where Django
refuses synchronous database work and `async_to_sync`. So: everything the tests do to the
database runs in a worker thread (`Live.db`), and DJANGO_ALLOW_ASYNC_UNSAFE is set while the
browser lives, for pytest-django's own flush between tests (which runs in this thread).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).with_name("daphne")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY_TIMEOUT = 60.0
PASSWORD = "a-long-test-password-42"
LIVE = 15_000  # ms: how long a live update may take to show
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_postgres() -> bool:
    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def database_url() -> str:
    """The pytest-django test database (its NAME is the test database's once it is set up)."""
    db = settings.DATABASES["default"]
    if is_postgres():
        from tests.multiprocess.servers import postgres_url

        return postgres_url(db)
    return f"sqlite:///{db['NAME']}"


class ServerFailed(RuntimeError):
    pass


class ChattyServer:
    """One daphne process serving Chatty on 127.0.0.1; can be killed and started again on its port."""

    def __init__(self, env: dict[str, str], name: str = "chatty") -> None:
        self.env = env
        self.name = name
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._out = tempfile.NamedTemporaryFile(prefix=f"chatty-browser-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(self._out.name)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, same_port: bool = False, attempts: int = 3) -> None:
        for attempt in range(attempts):
            self._launch()
            try:
                self._wait_ready()
                return
            except ServerFailed:
                if same_port or attempt + 1 == attempts or "Address already in use" not in self.output():
                    raise
                self.port = free_port()

    def _launch(self) -> None:
        self._out.write(f"--- daphne on 127.0.0.1:{self.port}\n".encode())
        self._out.flush()
        self.proc = subprocess.Popen(
            [str(DAPHNE), "-b", "127.0.0.1", "-p", str(self.port), "chatty.asgi:application"],
            cwd=BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self) -> None:
        """Poll until Django answers check-auth (401 signed out), the process dies, or time runs out."""
        assert self.proc is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            code = self.proc.poll()
            if code is not None:
                raise ServerFailed(f"daphne exited with {code} before it was ready:\n{self.output()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/api/auth/check-auth")
                status = conn.getresponse().status
            except (OSError, http.client.HTTPException):
                status = None
            finally:
                conn.close()
            if status in (200, 401):
                return
            if status is not None or time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(f"daphne not ready (HTTP {status}) on port {self.port}:\n{self.output()}")
            time.sleep(0.1)  # polling interval of the readiness loop, not synchronisation

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the sockets drop without a close frame (browsers see 1006)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def output(self, max_chars: int = 20_000) -> str:
        self._out.flush()
        text = self.log_path.read_text(errors="replace")
        if len(text) > max_chars:
            text = f"... ({len(text) - max_chars} characters cut)\n" + text[-max_chars:]
        return text or "(no output)"

    def close(self) -> None:
        self.stop()
        self._out.close()
        with contextlib.suppress(FileNotFoundError):
            self.log_path.unlink()


# --- package-wide: the environment of the servers, one server, one browser -----------------


@pytest.fixture(scope="package")
def server_env(django_db_setup, django_db_blocker) -> Iterator[dict[str, str]]:
    """What every server of this package runs with: the test database, this run's Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_")) and k not in ("REDIS_URL",)}
    env.update(
        DJANGO_SETTINGS_MODULE="chatty.settings",
        DEBUG="0",
        SECRET_KEY=os.environ["SECRET_KEY"],
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url(),
        PYTHONUNBUFFERED="1",
    )
    lease = None
    if os.environ.get("REDIS_URL"):
        # Other runs may share this Redis: a Redis database of our own for presence, and
        # (pub/sub ignores database numbers) ids that start at a random offset for groups.
        from tests.multiprocess.servers import RedisDbLease, redis_url_with_db

        lease = RedisDbLease(settings.REDIS_URL)
        lease.acquire()
        env["REDIS_URL"] = redis_url_with_db(settings.REDIS_URL, lease.db)
    if is_postgres():
        from django.db import connection

        from accounts.models import User
        from chats.models import ChatRoom, Message

        base = 10**12 + secrets.randbelow(2**40) * 1000
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            for model in (User, ChatRoom, Message):
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [model._meta.db_table, base])
    try:
        yield env
    finally:
        if lease is not None:
            lease.release()


@pytest.fixture(scope="package")
def chatty_server(server_env) -> Iterator[ChattyServer]:
    server = ChattyServer(server_env)
    try:
        server.start()
    except ServerFailed as exc:
        server.close()
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# --- per test ------------------------------------------------------------------------------

_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser-tests-db")


def _in_worker(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    from django.db import connections

    try:
        return fn(*args, **kwargs)
    finally:
        connections.close_all()  # no connection outlives the call (the test database is dropped at the end)


class Live:
    """What a browser test works with: the server, fresh users, signed-in browser contexts."""

    def __init__(self, server: ChattyServer, browser: Any) -> None:
        self.server = server
        self.browser = browser
        self.contexts: list[Any] = []
        self.dialogs: list[str] = []
        self.page_errors: list[str] = []
        self._names = iter(range(1, 1000))

    # the database, from a thread without Playwright's event loop
    def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return _worker.submit(_in_worker, fn, *args, **kwargs).result(timeout=30)

    def user(self, name: str | None = None, **fields: Any) -> Any:
        def make() -> Any:
            from django.contrib.auth.hashers import PBKDF2PasswordHasher

            from accounts.models import User

            n = next(self._names)
            user = User(username=f"b{n}-{secrets.token_hex(4)}", name=name or f"Person {n}", **fields)
            # The server hashes with Django's defaults (the tests use MD5): a PBKDF2 hash it can check.
            user.password = PBKDF2PasswordHasher().encode(PASSWORD, secrets.token_hex(8), iterations=1000)
            user.save()
            return user

        return self.db(make)

    def befriend(self, a: Any, b: Any) -> None:
        from friends.services import friendship_create

        self.db(friendship_create, user=a, friend_tag=b.user_tag)

    def room(self, creator: Any, *others: Any) -> Any:
        from chats.services import room_create

        return self.db(room_create, creator=creator, friend_ids=[o.pk for o in others])[0]

    def send(self, sender: Any, room: Any, text: str, client_id: str | None = None) -> Any:
        from chats.services import message_send

        return self.db(message_send, sender=sender, room_id=room.pk, text=text, client_id=client_id)[0]

    def session_cookie(self, user: Any) -> dict[str, Any]:
        def login() -> str:
            from django.test import Client

            client = Client()
            client.force_login(user)
            return client.cookies[settings.SESSION_COOKIE_NAME].value

        return {"name": settings.SESSION_COOKIE_NAME, "value": self.db(login), "url": self.server.url}

    # the browser
    def context(self, user: Any = None, *, server: ChattyServer | None = None, **options: Any) -> Any:
        server = server or self.server
        options.setdefault("viewport", DESKTOP)
        options.setdefault("locale", "en-US")
        context = self.browser.new_context(base_url=server.url, **options)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        if user is not None:
            context.add_cookies([{**self.session_cookie(user), "url": server.url}])
        context.on("page", self._watch)
        return context

    def _watch(self, page: Any) -> None:
        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def page(self, user: Any = None, path: str = "/dashboard", **options: Any) -> Any:
        """A new context (signed in as `user`) with one page at `path`, its socket connected."""
        page = self.context(user, **options).new_page()
        page.goto(path)
        if options.get("java_script_enabled", True) and user is not None:
            connected(page)
        return page

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()
        self.contexts.clear()


def connected(page: Any, timeout: float = 15_000) -> None:
    """The page's socket is open (and, in a room, the room is joined: the composer is enabled)."""
    from playwright.sync_api import expect

    expect(page.locator("#conn-state")).to_have_attribute("data-state", "online", timeout=timeout)
    if page.locator("#composer").count():
        expect(page.locator("#composer-text")).to_be_enabled(timeout=timeout)


def write(page: Any, text: str) -> None:
    page.fill("#composer-text", text)
    page.press("#composer-text", "Enter")


def message(page: Any, text: str, *, mine: bool | None = None):
    """The stored message (it has its id) holding exactly this text."""
    selector = "#messages li.msg[data-id]"
    if mine is True:
        selector += ".mine"
    elif mine is False:
        selector += ":not(.mine)"
    return page.locator(selector).filter(has=page.locator(".text", has_text=re.compile(f"^{re.escape(text)}$")))


@pytest.fixture
def live(request: pytest.FixtureRequest, chatty_server: ChattyServer, browser: Any) -> Iterator[Live]:
    if not chatty_server.alive():  # a test killed it and failed before starting it again
        chatty_server.start()
    session = Live(chatty_server, browser)
    request.node.chatty_servers = [chatty_server]
    try:
        yield session
    finally:
        session.close()
    assert not session.dialogs, f"a page opened a dialog: {session.dialogs}"
    assert not session.page_errors, f"uncaught errors in a page: {session.page_errors}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed and report.when in ("setup", "call", "teardown"):
        for server in getattr(item, "chatty_servers", []):
            with contextlib.suppress(Exception):
                state = "running" if server.alive() else "stopped"
                report.sections.append((f"daphne {server.name} (port {server.port}, {state}) output", server.output()))
    return report
