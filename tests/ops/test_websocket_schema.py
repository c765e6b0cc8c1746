"""docs/websocket.schema.json describes the /ws/ protocol: real frames of the consumer, both
ways, validate against it, and every frame type the consumer handles is in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatty.asgi import application
from chatty.reference import openapi_document

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "websocket.schema.json"
TIMEOUT = 5.0


def _validator(definition: str) -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    registry = Registry().with_resources(
        [
            ("urn:chatty:websocket", Resource.from_contents(schema, default_specification=DRAFT202012)),
            ("urn:chatty:openapi", Resource.from_contents(openapi_document(), default_specification=DRAFT202012)),
        ]
    )
    return Draft202012Validator({"$ref": f"urn:chatty:websocket#/$defs/{definition}"}, registry=registry)


CLIENT = _validator("ClientFrame")
SERVER = _validator("ServerFrame")


def check(validator: Draft202012Validator, frame: dict[str, Any]) -> None:
    errors = list(validator.iter_errors(frame))
    assert not errors, f"{frame} does not match docs/websocket.schema.json: " + "; ".join(e.message for e in errors[:5])


def test_the_schema_is_json_schema_and_knows_every_frame_of_the_consumer():
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    from edge.protocol import FRAMES

    client_types = set(schema["$defs"]["ClientFrame"]["properties"]["type"]["enum"])
    assert set(FRAMES) <= client_types
    server_types = set(schema["$defs"]["ServerFrame"]["properties"]["type"]["enum"])
    from chatty.metrics import FRAME_TYPES

    assert client_types | server_types <= FRAME_TYPES  # metrics label every documented frame by name


class Socket:
    """A communicator whose every frame, sent or received, is checked against the schema."""

    def __init__(self, token: str) -> None:
        self.comm = WebsocketCommunicator(application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())])
        self.seen: list[dict[str, Any]] = []

    async def open(self) -> list[dict[str, Any]]:
        connected, _ = await self.comm.connect(timeout=TIMEOUT)
        assert connected
        return [await self.recv() for _ in range(2)]

    async def send(self, frame: dict[str, Any], *, valid: bool = True) -> None:
        if valid:
            check(CLIENT, frame)
        await self.comm.send_json_to(frame)

    async def recv(self) -> dict[str, Any]:
        frame = await self.comm.receive_json_from(timeout=TIMEOUT)
        check(SERVER, frame)
        self.seen.append(frame)
        return frame

    async def until(self, type_: str) -> dict[str, Any]:
        while True:
            frame = await self.recv()
            if frame["type"] == type_:
                return frame

    async def close(self) -> None:
        if not self.comm.future.done():
            await self.comm.disconnect(timeout=2 * TIMEOUT)


async def test_real_frames_both_ways_match_the_schema(make_user, befriend, token_for):
    from chats.services import message_delete, message_send, room_create
    from friends.services import friendship_create, friendship_delete

    alice, bob, carol = [await database_sync_to_async(make_user)(n) for n in ("Alice", "Bob", "Carol")]
    await database_sync_to_async(befriend)(alice, bob)
    room, _ = await database_sync_to_async(room_create)(creator=alice, friend_ids=[str(bob.pk)])
    a = Socket(await database_sync_to_async(token_for)(alice))
    b = Socket(await database_sync_to_async(token_for)(bob))
    try:
        await a.open()
        await b.open()
        await a.until("getOnlineFriend")  # bob came online
        room_id = str(room.pk)
        await a.send({"type": "connectToRoom", "chatroomId": room_id})
        await a.until("joinedChatroom")
        await b.send({"type": "connectToRoom", "chatroomId": int(room_id)})
        await b.until("joinedChatroom")
        await a.send({"type": "sendMessage", "chatroomId": room_id, "message": "hi *Bob*", "clientId": "c-1"})
        ack = await a.until("ack")
        await a.send({"type": "sendMessage", "chatroomId": room_id, "message": "no client id"})
        await a.until("ack")
        await b.until("message")
        await b.until("lastMessage")
        await a.send({"type": "typing", "chatroomId": room_id})
        await b.until("typing")
        await b.send({"type": "markRead", "chatroomId": room_id, "messageId": ack["messageId"]})
        await a.send({"type": "changeStatus", "status": "away"})
        await a.until("retrieveCurrentUser")
        await b.until("getOnlineFriend")
        await a.send({"type": "userOnline"})
        await a.until("retrieveOnlineFriends")
        await b.send({"type": "leaveChatroom", "chatroomId": room_id})
        await b.send({"type": "connectToRoom", "chatroomId": room_id, "afterId": "1"})  # replays what it missed
        await b.until("joinedChatroom")

        # Answers to bad frames are error frames of the schema too.
        await a.comm.send_to(text_data="not json")
        await a.until("error")
        await a.send({"type": "noSuchFrame"}, valid=False)
        await a.until("error")
        await a.send({"type": "sendMessage", "chatroomId": "x", "message": "", "clientId": "c-2"}, valid=False)
        assert (await a.until("error"))["clientId"] == "c-2"

        # Frames caused elsewhere: friendships, new rooms, moderation.
        await database_sync_to_async(friendship_create)(user=carol, friend_tag=alice.user_tag)
        await a.until("addedAsFriend")
        await database_sync_to_async(room_create)(creator=carol, friend_ids=[str(alice.pk)])
        await a.until("addedInChatroom")
        message, _ = await database_sync_to_async(message_send)(sender=bob, room_id=room.pk, text="to delete")
        await database_sync_to_async(message_delete)(message=message)
        await a.until("messageDeleted")
        await database_sync_to_async(friendship_delete)(user=carol, friend_id=alice.pk)
        await a.until("removedAsFriend")
        await a.send({"type": "logout"})
    finally:
        await a.close()
        await b.close()
    seen = {f["type"] for f in a.seen + b.seen}
    assert seen >= {
        "retrieveCurrentUser",
        "retrieveOnlineFriends",
        "getOnlineFriend",
        "joinedChatroom",
        "ack",
        "message",
        "lastMessage",
        "typing",
        "error",
        "addedAsFriend",
        "addedInChatroom",
        "messageDeleted",
        "removedAsFriend",
    }


def test_a_frame_off_the_schema_is_caught():
    """The check itself: a wrong field name or type is refused."""
    with pytest.raises(AssertionError):
        check(SERVER, {"type": "ack", "clientId": None, "messageID": "1", "timestamp": 1})
    with pytest.raises(AssertionError):
        check(CLIENT, {"type": "changeStatus", "status": "busy"})
