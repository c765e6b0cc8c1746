"""The per-process fan-out (edge/hub.py) through the real ASGI application: one
subscription per group per process, one render per event per process (counted, not timed),
each socket getting its own part (one's own message, one's own unread count)."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from chats import fragments
from chatty.asgi import application
from edge.hub import get_hub

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10.0


@database_sync_to_async
def world(make_user, befriend, members: int) -> tuple[Any, list[Any], Any]:
    from chats.services import room_create

    sender = make_user("Sender")
    others = [make_user(f"Member {i}") for i in range(members)]
    for other in others:
        befriend(sender, other)
    room, _ = room_create(creator=sender, friend_ids=[o.pk for o in others])
    return sender, others, room


async def open_socket(token: str, path: str = "/ws/") -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, path, headers=[(b"authorization", f"Bearer {token}".encode())])
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    return comm


async def until(comm: WebsocketCommunicator, predicate) -> list[str]:
    """Every text frame up to and including the first that `predicate` accepts."""
    seen = []
    while True:
        out = await comm.receive_output(timeout=TIMEOUT)
        assert out["type"] == "websocket.send", out
        seen.append(out["text"])
        if predicate(out["text"]):
            return seen


def counting(monkeypatch, module: Any, name: str) -> list[Any]:
    calls: list[Any] = []
    real = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


async def test_a_message_to_a_room_is_rendered_once_per_process_and_reaches_every_socket(
    make_user, befriend, token_for, monkeypatch
):
    sender, others, room = await world(make_user, befriend, 8)
    joined = '{"type":"joinedChatroom"'
    sockets = []
    # Every member on the JSON socket and on the browser's socket, in English and Korean.
    for i, member in enumerate(others):
        for path in ("/ws/", f"/ws/ui/?lang={'ko' if i % 2 else 'en'}"):
            comm = await open_socket(token_for(member), path)
            await comm.send_json_to({"type": "connectToRoom", "chatroomId": str(room.pk)})
            await until(comm, lambda text: text.startswith(joined))
            sockets.append((member, path, comm))
    sender_ws = await open_socket(token_for(sender))
    message_html = counting(monkeypatch, fragments, "message")
    preview_html = counting(monkeypatch, fragments, "preview")
    rendered_before = get_hub().rendered.copy()

    await sender_ws.send_json_to({"type": "sendMessage", "chatroomId": str(room.pk), "message": "hi all"})
    for _member, path, comm in sockets:
        if path == "/ws/":
            frames = await until(comm, lambda text: '"type":"message"' in text)
            assert '"message":"hi all"' in frames[-1]
            last = await until(comm, lambda text: '"type":"lastMessage"' in text)
            assert last[-1].endswith('"unreadMessagesCount":0}')  # joined: read as it arrived
        else:
            frames = await until(comm, lambda text: 'id="msg-' in text)
            assert "hi all" in frames[-1] and " mine" not in frames[-1]  # someone else's message
            # The JSON comes first all the same: a delivery is a `message` frame on either
            # socket, for its clients and for the side-by-side runner that counts them.
            assert [f for f in frames if f.startswith('{"type":"message"')], frames
            await until(comm, lambda text: "-preview" in text)
    # One render of each event for the whole process: the message (to the room's stream) and
    # the lastMessage (to the members); HTML once per language and side, never per socket.
    # (By type: presence news of the members' own connects may still be arriving.)
    rendered = get_hub().rendered - rendered_before
    assert (rendered["message"], rendered["chat.message"]) == (1, 1), rendered
    assert len(message_html) == 2  # English and Korean, others' side (16 sockets)
    assert len(preview_html) == 2
    for _, _, comm in sockets:
        await comm.disconnect()
    await sender_ws.disconnect()


async def test_the_process_subscribes_once_per_group_however_many_sockets_follow_it(
    make_user, befriend, token_for, monkeypatch
):
    sender, others, room = await world(make_user, befriend, 5)
    layer = get_channel_layer()
    adds: list[str] = []
    real_add = layer.group_add

    async def group_add(group: str, channel: str) -> None:
        adds.append(group)
        await real_add(group, channel)

    monkeypatch.setattr(layer, "group_add", group_add)
    comms = []
    for member in [*others, sender]:
        for _ in range(2):  # two tabs each
            comm = await open_socket(token_for(member))
            await comm.send_json_to({"type": "connectToRoom", "chatroomId": str(room.pk)})
            await until(comm, lambda text: text.startswith('{"type":"joinedChatroom"'))
            comms.append(comm)
    assert sorted(adds) == sorted(set(adds)), adds  # no group twice
    assert adds.count(f"room.{room.pk}") == 1
    assert adds.count(f"members.{room.pk}") == 1
    assert len([g for g in adds if g.startswith("user.")]) == 6
    for comm in comms:
        await comm.disconnect()


async def test_each_participant_gets_their_own_unread_count_in_one_rendered_frame(make_user, befriend, token_for):
    sender, others, room = await world(make_user, befriend, 3)
    reader, away, _ = others
    reader_ws = await open_socket(token_for(reader))
    await reader_ws.send_json_to({"type": "connectToRoom", "chatroomId": str(room.pk)})
    await until(reader_ws, lambda text: text.startswith('{"type":"joinedChatroom"'))
    away_ws = await open_socket(token_for(away), "/ws/ui/?lang=ko")
    sender_ws = await open_socket(token_for(sender))
    for text in ("one", "two"):
        await sender_ws.send_json_to({"type": "sendMessage", "chatroomId": str(room.pk), "message": text})
    got = await until(reader_ws, lambda text: '"lastMessage"' in text and '"two"' in text)
    assert got[-1].endswith('"unreadMessagesCount":0}')
    html = await until(away_ws, lambda text: 'data-unread="2"' in text)
    assert "읽지 않은 메시지 2개" in html[-1]  # the Korean socket, its own count
    for comm in (reader_ws, away_ws, sender_ws):
        await comm.disconnect()


async def test_a_message_sent_while_a_socket_joins_a_new_room_reaches_it(make_user, befriend, token_for, monkeypatch):
    """Subscribe first, then read: the process hears the room's messages (published to its
    members' group) before the joining socket reads the database, even for a room this
    process has not heard of yet (its chat.created news not arrived)."""
    from chats import frames
    from chats.services import message_send, room_create
    from chatty.realtime import collecting, publish
    from edge import protocol

    ana, ben = await database_sync_to_async(make_user)("Ana"), await database_sync_to_async(make_user)("Ben")
    await database_sync_to_async(befriend)(ana, ben)
    ben_ws = await open_socket(token_for(ben))
    for news in ("chat.created", "chat.added"):  # the news of the new room has not arrived yet
        monkeypatch.setitem(protocol.EVENTS, news, lambda event: None)
    room, _ = await database_sync_to_async(room_create)(creator=ana, friend_ids=[ben.pk])
    real = frames.Rooms.load_join

    async def read_then_ana_sends(user, room_id, after_id):
        loaded = await real(user, room_id, after_id)
        _sent, events = await database_sync_to_async(collecting(message_send))(
            sender=ana, room_id=room_id, text="in the window", viewer_ids=set()
        )
        await publish(events)
        return loaded

    monkeypatch.setattr(frames.Rooms, "load_join", staticmethod(read_then_ana_sends))
    await ben_ws.send_json_to({"type": "connectToRoom", "chatroomId": str(room.pk)})
    await until(ben_ws, lambda text: text.startswith('{"type":"joinedChatroom"'))
    seen = await until(ben_ws, lambda text: text.startswith('{"type":"message"'))
    assert '"in the window"' in seen[-1]
    await ben_ws.disconnect()
