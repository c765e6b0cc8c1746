"""Cross-site websocket hijacking (SPEC §4): the `Origin` header, when present, must be this
very site; a browser on another site must not get a socket, even with the victim's session
cookie (the browser adds it). Non-browser clients send no Origin and authenticate by bearer.

The socket is reached as http://127.0.0.1:8000 (ws://, Host 127.0.0.1:8000) unless a case
says otherwise.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from .wsutil import HOST, communicator, open_ready, safe_disconnect, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

REFUSED = {
    "other-site": ("http://evil.example", HOST),
    "null": ("null", HOST),
    "other-scheme": ("https://127.0.0.1:8000", HOST),
    "look-alike-suffix": ("http://127.0.0.1.evil.com:8000", HOST),
    "look-alike-localhost": ("http://localhost.attacker.test:8000", "localhost:8000"),
    "other-port": ("http://127.0.0.1:9000", HOST),
    "default-port-instead": ("http://127.0.0.1", HOST),
    "userinfo-trick": ("http://127.0.0.1:8000@evil.com", HOST),
    "port-suffix-trick": ("http://127.0.0.1:8000.evil.com", HOST),
    "empty": ("", HOST),
    "not-a-url": ("127.0.0.1:8000", HOST),
    "javascript-scheme": ("javascript://127.0.0.1:8000", HOST),
    "file-scheme": ("file://", HOST),
    "rebinding-host": ("http://evil.test:8000", "evil.test:8000"),  # Host not in ALLOWED_HOSTS
}
ACCEPTED = {
    "same-origin": ("http://127.0.0.1:8000", HOST),
    "same-origin-localhost": ("http://localhost:8000", "localhost:8000"),
    "same-origin-default-port": ("http://localhost", "localhost"),
}


@pytest.fixture
def alice_credentials(make_user, token_for):
    alice = make_user("Alice")
    return {"cookie": session_cookie(alice), "token": token_for(alice)}


async def test_same_origin_with_a_session_is_accepted(alice_credentials):
    for case, (origin, host) in sorted(ACCEPTED.items()):
        comm = communicator(cookie=alice_credentials["cookie"], origin=origin, host=host)
        try:
            await open_ready(comm)
        except AssertionError as exc:
            raise AssertionError(f"{case}: Origin {origin!r} with Host {host!r} was not accepted: {exc}") from exc
        finally:
            await safe_disconnect(comm)


async def test_no_origin_with_a_bearer_token_is_accepted(alice_credentials):
    """SPEC §4 / TRAPS: non-browser clients send no Origin at all."""
    comm = communicator(token=alice_credentials["token"], origin=None)
    try:
        await open_ready(comm)
    finally:
        await safe_disconnect(comm)


async def test_https_origin_on_a_secure_socket_is_accepted(alice_credentials):
    """Behind TLS (wss://), the page's origin is https://: the same site."""
    comm = communicator(cookie=alice_credentials["cookie"], origin="https://127.0.0.1:8000", scheme="wss")
    try:
        await open_ready(comm)
    finally:
        await safe_disconnect(comm)


async def test_cross_site_origins_are_refused_at_the_handshake(alice_credentials):
    """No socket at all: refused before `accept`, whatever credentials come with it."""
    opened = []
    for case, (origin, host) in sorted(REFUSED.items()):
        for credential in ("cookie", "token"):
            comm = communicator(origin=origin, host=host, **{credential: alice_credentials[credential]})
            try:
                connected, _code = await comm.connect(timeout=3)
                if connected:
                    opened.append(f"{case} ({credential}): Origin {origin!r}, Host {host!r}")
            finally:
                await safe_disconnect(comm)
    assert not opened, f"sockets opened for cross-site origins: {opened}"


async def test_the_ui_socket_checks_the_origin_too(alice_credentials):
    for origin, host in REFUSED.values():
        comm = communicator("/ws/ui/", cookie=alice_credentials["cookie"], origin=origin, host=host)
        try:
            connected, _ = await comm.connect(timeout=3)
            assert not connected, origin
        finally:
            await safe_disconnect(comm)
    comm = communicator("/ws/ui/", cookie=alice_credentials["cookie"], origin="http://127.0.0.1:8000")
    try:
        await open_ready(comm)
    finally:
        await safe_disconnect(comm)


async def test_a_refused_origin_leaves_no_presence(alice_credentials, fresh_live_state, make_user):
    """A hijack attempt must not even make Alice look online to her friends."""
    from accounts.models import User
    from chatty.live import astatuses

    comm = communicator(cookie=alice_credentials["cookie"], origin="http://evil.example")
    try:
        connected, _ = await comm.connect(timeout=3)
        assert not connected
    finally:
        await safe_disconnect(comm)
    alice = await sync_to_async(lambda: User.objects.get(name="Alice"))()
    status = await astatuses([alice])
    assert status[alice.pk] == "offline"
