"""Opening a connection costs a few database calls however many friends and rooms the user
has, and a storm of friends connecting at once tells each friend once per change."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db.backends import utils as db_utils

from chatty.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10.0


async def open_socket(token: str) -> tuple[WebsocketCommunicator, list[dict]]:
    comm = WebsocketCommunicator(application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())])
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    hello = [await comm.receive_json_from(timeout=TIMEOUT) for _ in range(2)]
    return comm, hello


@pytest.fixture
def count_queries(monkeypatch) -> list[str]:
    """Every SQL statement executed, from any thread (the socket's calls run on database threads)."""
    statements: list[str] = []
    for name in ("execute", "executemany"):
        real = getattr(db_utils.CursorWrapper, name)

        def counted(self, sql, *args, _real=real, **kwargs):
            statements.append(sql)
            return _real(self, sql, *args, **kwargs)

        monkeypatch.setattr(db_utils.CursorWrapper, name, counted)
    return statements


@database_sync_to_async
def user_with(make_user, befriend, *, friends: int, rooms: int) -> Any:
    from chats.services import room_create

    user = make_user("Hub")
    others = [make_user(f"Friend {i}") for i in range(friends)]
    for other in others:
        befriend(user, other)
    for i in range(rooms):
        room_create(creator=user, friend_ids=[others[i % friends].pk, others[(i + 1) % friends].pk])
    return user


@pytest.mark.parametrize("friends,rooms", [(2, 1), (40, 25)])
async def test_opening_a_connection_costs_the_same_few_queries_whatever_the_friends_and_rooms(
    make_user, befriend, token_for, count_queries, friends, rooms
):
    user = await user_with(make_user, befriend, friends=friends, rooms=rooms)
    token = await database_sync_to_async(token_for)(user)
    count_queries.clear()
    comm, hello = await open_socket(token)
    # The token's user, the user and friends, the rooms, the online friends' statuses.
    assert len(count_queries) <= 5, count_queries
    assert hello[0] == {"type": "retrieveCurrentUser", "status": "online"}
    await comm.disconnect()


async def test_friends_connecting_together_hear_of_each_other_once_and_end_up_right(make_user, befriend, token_for):
    @database_sync_to_async
    def club(n: int) -> list[Any]:
        members = [make_user(f"Member {i}") for i in range(n)]
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                befriend(a, b)
        return members

    members = await club(12)
    sockets = []
    for member in members:
        token = await database_sync_to_async(token_for)(member)
        sockets.append(await open_socket(token))
    everyone = {str(m.pk) for m in members}
    for index, (comm, hello) in enumerate(sockets):
        online = set(hello[1]["friends"])
        assert online == {str(m.pk) for m in members[:index]}  # those who came before
        # Each who came after is told once: no frame for someone already shown.
        told = []
        for _ in range(len(members) - index - 1):
            frame = await comm.receive_json_from(timeout=TIMEOUT)
            assert frame["type"] == "getOnlineFriend" and frame["status"] == "online", frame
            told.append(frame["userId"])
        assert sorted(told) == sorted({str(m.pk) for m in members[index + 1 :]})
        assert await comm.receive_nothing(timeout=0.2), json.dumps(await comm.receive_output())
        assert online | set(told) == everyone - {str(members[index].pk)}
    for comm, _ in sockets:
        await comm.disconnect()


async def test_one_connection_past_the_per_user_cap_is_accepted_then_closed_with_4429(make_user, token_for, settings):
    settings.CHATTY_MAX_CONNECTIONS_PER_USER = 2
    alice = await database_sync_to_async(make_user)("Alice")
    token = await database_sync_to_async(token_for)(alice)
    tabs = [await open_socket(token) for _ in range(2)]
    extra = WebsocketCommunicator(application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())])
    connected, _ = await extra.connect(timeout=TIMEOUT)
    assert connected  # accepted, so the client can tell why
    out = await extra.receive_output(timeout=TIMEOUT)
    assert out == {"type": "websocket.close", "code": 4429}
    await extra.disconnect()
    # The two tabs it had keep working, and closing one makes room for another.
    await tabs[0][0].disconnect()
    again, hello = await open_socket(token)
    assert hello[0]["type"] == "retrieveCurrentUser"
    for comm in (tabs[1][0], again):
        await comm.disconnect()


async def test_joining_a_room_read_already_costs_one_query(make_user, befriend, token_for, count_queries):
    """Every socket joins its room after a reconnect: the room, the membership and the read
    position come in one statement (they were three ORM queries)."""
    from chats.services import message_send

    user = await user_with(make_user, befriend, friends=2, rooms=1)
    room_id = await database_sync_to_async(lambda: user.participations.get().room_id)()
    await database_sync_to_async(message_send)(sender=user, room_id=room_id, text="read by its sender")
    comm, _ = await open_socket(await database_sync_to_async(token_for)(user))
    count_queries.clear()
    await comm.send_json_to({"type": "connectToRoom", "chatroomId": str(room_id)})
    assert await comm.receive_json_from(timeout=TIMEOUT) == {"type": "joinedChatroom", "chatroomId": str(room_id)}
    assert len(count_queries) == 1, count_queries
    await comm.send_json_to({"type": "connectToRoom", "chatroomId": str(room_id + 1000)})
    frame = await comm.receive_json_from(timeout=TIMEOUT)
    assert frame["type"] == "error" and frame["error"] == "not_found", frame
    await comm.disconnect()


async def test_a_signed_in_browser_s_frames_go_past_the_session_middleware(make_user, monkeypatch):
    """channels' SessionMiddleware wraps `send` for HTTP responses; every frame of a socket
    signed in by its session went through that wrapper (a fifteenth of /ws/ui/'s CPU)."""
    from channels import sessions
    from django.test import Client

    user = await database_sync_to_async(make_user)("Sam")
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    seen: list[str] = []
    real = sessions.InstanceSessionWrapper.send

    async def counting(self, message):
        seen.append(message["type"])
        return await real(self, message)

    monkeypatch.setattr(sessions.InstanceSessionWrapper, "send", counting)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    comm = WebsocketCommunicator(application, "/ws/ui/", headers=[(b"cookie", cookie)])
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    hello = await comm.receive_json_from(timeout=TIMEOUT)
    assert hello == {"type": "retrieveCurrentUser", "status": "online"}
    await comm.send_json_to({"type": "ping"})
    await comm.receive_output(timeout=TIMEOUT)
    assert seen == ["websocket.accept"], seen  # the accept still goes through it; no frame does
    await comm.disconnect()
