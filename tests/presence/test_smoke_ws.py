import pytest
from channels.testing import WebsocketCommunicator

from chatty.asgi import application


@pytest.mark.django_db(transaction=True)
async def test_two_friends_exchange_a_message(make_user, befriend, token_for):
    from asgiref.sync import sync_to_async

    from chats.services import room_create

    alice = await sync_to_async(make_user)("Alice")
    bob = await sync_to_async(make_user)("Bob")
    await sync_to_async(befriend)(alice, bob)
    room, _ = await sync_to_async(room_create)(creator=alice, friend_ids=[bob.pk])
    a = WebsocketCommunicator(application, "/ws/", headers=[(b"authorization", f"Bearer {token_for(alice)}".encode())])
    b = WebsocketCommunicator(application, "/ws/", headers=[(b"authorization", f"Bearer {token_for(bob)}".encode())])
    assert (await a.connect())[0]
    assert (await b.connect())[0]
    assert (await a.receive_json_from())["type"] == "retrieveCurrentUser"
    assert (await a.receive_json_from())["type"] == "retrieveOnlineFriends"
    first = await a.receive_json_from()
    assert first == {"type": "getOnlineFriend", "userId": str(bob.pk), "status": "online"}
    await b.receive_json_from()
    online = await b.receive_json_from()
    assert online["friends"] == {str(alice.pk): {"status": "online"}}
    await b.send_json_to({"type": "connectToRoom", "chatroomId": str(room.pk)})
    assert await b.receive_json_from() == {"type": "joinedChatroom", "chatroomId": str(room.pk)}
    await a.send_json_to({"type": "sendMessage", "chatroomId": str(room.pk), "message": "hi", "clientId": "c1"})
    ack = await a.receive_json_from()
    assert ack["type"] == "ack" and ack["clientId"] == "c1"
    got = [await b.receive_json_from(), await b.receive_json_from()]
    types = sorted(f["type"] for f in got)
    assert types == ["lastMessage", "message"]
    await a.disconnect()
    await b.disconnect()
