"""A socket does not outlive its session or token, whatever ended them: the edge checks every
socket again on a timer (edge/hub.py), also for changes that publish nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from chatty.asgi import application
from edge.hub import get_hub

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10.0


async def open_socket(headers) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    for _ in range(2):
        await comm.receive_json_from(timeout=TIMEOUT)
    return comm


async def closed_with(comm: WebsocketCommunicator, code: int) -> None:
    while True:
        out = await comm.receive_output(timeout=TIMEOUT)
        if out["type"] == "websocket.close":
            assert out.get("code") == code, out
            return


@database_sync_to_async
def session_cookie(user) -> tuple[bytes, bytes]:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())


async def test_a_session_that_expired_closes_its_socket_at_the_next_check(make_user):
    alice = await database_sync_to_async(make_user)("Alice")
    cookie = await session_cookie(alice)
    comm = await open_socket([cookie])
    assert await get_hub().recheck_now() == 0  # still signed in: nothing closes

    @database_sync_to_async
    def expire() -> None:
        from accounts.models import UserSession

        # An update publishes nothing: only the re-check can notice.
        UserSession.objects.filter(user_id=alice.pk).update(expire_date=timezone.now() - dt.timedelta(seconds=1))

    await expire()
    assert await get_hub().recheck_now() == 1
    await closed_with(comm, 4401)
    await comm.disconnect()


async def test_a_user_deactivated_by_an_update_loses_every_socket_at_the_next_check(make_user, token_for):
    alice = await database_sync_to_async(make_user)("Alice")
    bob = await database_sync_to_async(make_user)("Bob")
    token = await database_sync_to_async(token_for)(alice)
    tabs = [await open_socket([(b"authorization", f"Bearer {token}".encode())]) for _ in range(2)]
    bob_ws = await open_socket([(b"authorization", f"Bearer {await database_sync_to_async(token_for)(bob)}".encode())])

    @database_sync_to_async
    def deactivate() -> None:
        from accounts.models import User

        User.objects.filter(pk=alice.pk).update(is_active=False)

    await deactivate()
    assert await get_hub().recheck_now() == 2
    for comm in tabs:
        await closed_with(comm, 4401)
        await comm.disconnect()
    assert await bob_ws.receive_nothing(timeout=0.2)  # Bob's socket is left alone
    await bob_ws.disconnect()


async def test_the_check_runs_by_itself_on_its_timer(make_user, token_for, settings):
    settings.CHATTY_SOCKET_RECHECK_SECONDS = 0.1
    alice = await database_sync_to_async(make_user)("Alice")
    token = await database_sync_to_async(token_for)(alice)
    comm = await open_socket([(b"authorization", f"Bearer {token}".encode())])

    @database_sync_to_async
    def revoke() -> None:
        from django.db.models import F

        from accounts.models import User

        User.objects.filter(pk=alice.pk).update(token_generation=F("token_generation") + 1)

    await revoke()
    await closed_with(comm, 4401)
    await comm.disconnect()
