"""Every way a session or an account ends closes its websockets (SPEC §9), whichever code
path ends it: allauth's logout and password change, a password set or a deactivation or a
deletion from a shell, clearsessions, "log out everywhere".

Sockets are Channels' WebsocketCommunicator against the real ASGI application, signed in by
a real session cookie or bearer token; what is asserted is what a client sees (a close with
4401, or a socket that still answers).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from importlib import import_module

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from chatty.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-for-tests-123"  # conftest's make_user sets it
NEW_PASSWORD = "A-new-long-password-4711"
TIMEOUT = 5.0


def signed_in_client(user: User) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"login": user.username, "password": PASSWORD}).status_code == 302
    return client


def ws(*, client: Client | None = None, token: str | None = None) -> WebsocketCommunicator:
    headers = [(b"host", b"127.0.0.1:8000")]
    if client is not None:
        headers.append(
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())
        )
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return WebsocketCommunicator(application, "/ws/", headers=headers)


async def opened(comm: WebsocketCommunicator) -> WebsocketCommunicator:
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    kinds = [(await comm.receive_json_from(timeout=TIMEOUT))["type"] for _ in range(2)]
    assert kinds == ["retrieveCurrentUser", "retrieveOnlineFriends"]
    return comm


async def close_code(comm: WebsocketCommunicator, timeout: float = TIMEOUT) -> int:
    """The code the server closes this socket with, within `timeout` (frames before it skipped)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0 or await comm.receive_nothing(min(left, 0.2)):
            if asyncio.get_running_loop().time() >= deadline:
                raise AssertionError("the socket is still open")
            continue
        out = await comm.receive_output(1)
        if out["type"] == "websocket.close":
            return out.get("code", 1000)


async def still_open(comm: WebsocketCommunicator) -> bool:
    """The socket still answers a frame (userOnline is answered with retrieveCurrentUser)."""
    await comm.send_json_to({"type": "userOnline"})
    while True:
        out = await comm.receive_output(TIMEOUT)
        if out["type"] == "websocket.close":
            return False
        if '"retrieveCurrentUser"' in (out.get("text") or ""):
            return True


@pytest.fixture
async def sockets():
    opened_list: list[WebsocketCommunicator] = []

    def track(comm: WebsocketCommunicator) -> WebsocketCommunicator:
        opened_list.append(comm)
        return comm

    yield track
    for comm in opened_list:
        if not comm.future.done():
            await comm.disconnect(timeout=TIMEOUT)


async def test_allauth_logout_closes_that_sessions_socket_and_no_other(make_user, sockets):
    alice = await sync_to_async(make_user)("Alice")
    laptop, phone = await sync_to_async(signed_in_client)(alice), await sync_to_async(signed_in_client)(alice)
    laptop_ws = await opened(sockets(ws(client=laptop)))
    phone_ws = await opened(sockets(ws(client=phone)))

    response = await sync_to_async(laptop.post)("/accounts/logout/")
    assert response.status_code == 302

    assert await close_code(laptop_ws) == 4401
    assert await still_open(phone_ws), "another session of the same user keeps its socket"


async def test_password_change_through_allauth_closes_every_socket_and_revokes_tokens(make_user, sockets, token_for):
    alice = await sync_to_async(make_user)("Alice")
    own, thief = await sync_to_async(signed_in_client)(alice), await sync_to_async(signed_in_client)(alice)
    token = await sync_to_async(token_for)(alice)
    thief_ws = await opened(sockets(ws(client=thief)))
    token_ws = await opened(sockets(ws(token=token)))

    response = await sync_to_async(own.post)(
        "/accounts/password/change/", {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302

    assert await close_code(thief_ws) == 4401
    assert await close_code(token_ws) == 4401
    # The token is revoked, the thief's session no longer signs in; the changer stays in.
    assert (
        await sync_to_async(Client().get)("/api/user", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401
    assert (await sync_to_async(thief.get)("/api/user")).status_code == 401
    assert (await sync_to_async(own.get)("/api/user")).status_code == 200


async def test_a_password_set_in_a_shell_closes_the_users_sockets(make_user, sockets):
    alice = await sync_to_async(make_user)("Alice")
    client = await sync_to_async(signed_in_client)(alice)
    comm = await opened(sockets(ws(client=client)))

    def set_password() -> None:
        user = User.objects.get(pk=alice.pk)
        user.set_password(NEW_PASSWORD)
        user.save()

    await sync_to_async(set_password)()
    assert await close_code(comm) == 4401


async def test_deactivation_by_save_closes_session_and_token_sockets(make_user, sockets, token_for):
    alice = await sync_to_async(make_user)("Alice")
    client = await sync_to_async(signed_in_client)(alice)
    session_ws = await opened(sockets(ws(client=client)))
    token_ws = await opened(sockets(ws(token=await sync_to_async(token_for)(alice))))

    def deactivate() -> None:
        user = User.objects.get(pk=alice.pk)
        user.is_active = False
        user.save()

    await sync_to_async(deactivate)()
    assert await close_code(session_ws) == 4401
    assert await close_code(token_ws) == 4401


async def test_deleting_the_user_closes_their_sockets(make_user, sockets, token_for):
    alice = await sync_to_async(make_user)("Alice")
    token_ws = await opened(sockets(ws(token=await sync_to_async(token_for)(alice))))

    await sync_to_async(lambda: User.objects.get(pk=alice.pk).delete())()
    assert await close_code(token_ws) == 4401


async def test_clearsessions_closes_the_socket_of_an_expired_session(make_user, sockets):
    alice, bob = await sync_to_async(make_user)("Alice"), await sync_to_async(make_user)("Bob")
    expiring, lasting = await sync_to_async(signed_in_client)(alice), await sync_to_async(signed_in_client)(bob)
    expiring_ws = await opened(sockets(ws(client=expiring)))
    lasting_ws = await opened(sockets(ws(client=lasting)))

    def expire_and_clear() -> None:
        key = expiring.cookies[settings.SESSION_COOKIE_NAME].value
        sessions = import_module(settings.SESSION_ENGINE).SessionStore.get_model_class()
        sessions.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
        call_command("clearsessions")

    await sync_to_async(expire_and_clear)()
    assert await close_code(expiring_ws) == 4401
    assert await still_open(lasting_ws)


async def test_logout_everywhere_closes_every_socket_and_ends_every_session_and_token(make_user, sockets, token_for):
    alice, bob = await sync_to_async(make_user)("Alice"), await sync_to_async(make_user)("Bob")
    here, there = await sync_to_async(signed_in_client)(alice), await sync_to_async(signed_in_client)(alice)
    bobs = await sync_to_async(signed_in_client)(bob)
    token = await sync_to_async(token_for)(alice)
    comms = [await opened(sockets(ws(client=there))), await opened(sockets(ws(token=token)))]
    bob_ws = await opened(sockets(ws(client=bobs)))

    response = await sync_to_async(here.post)("/accounts/logout-everywhere/")
    assert response.status_code == 302 and response["Location"] == settings.LOGOUT_REDIRECT_URL

    for comm in comms:
        assert await close_code(comm) == 4401
    for client in (here, there):
        assert (await sync_to_async(client.get)("/api/user")).status_code == 401
    assert (
        await sync_to_async(Client().get)("/api/user", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401
    assert await still_open(bob_ws), "someone else's socket is not touched"
    assert (await sync_to_async(bobs.get)("/api/user")).status_code == 200
