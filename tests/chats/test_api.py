"""/api/chat/create-chat, /api/chat/chat-info and /api/chat/chat-list (SPEC §3)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats.models import ChatRoom, Message, Participant
from chats.services import message_send

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert set(data) == {"error", "detail"} and data["error"] == code


def send(sender, room, count: int, prefix: str = "m") -> list:
    return [message_send(sender=sender, room_id=room.pk, text=f"{prefix}{i}")[0] for i in range(count)]


# --- create-chat -----------------------------------------------------------------------


def test_create_direct_chat_then_get_the_same_one(people, api, published):
    alice, bob = people("Alice", "Bob")
    client = api(alice)
    with published() as events:
        response = client.post("/api/chat/create-chat", {"friendIds": [str(bob.pk)]})
    assert response.status_code == 201
    data = response.json()
    room_id = data["chatroomId"]
    assert data == {"chatroomId": room_id, "created": True}
    assert isinstance(room_id, str)
    room = ChatRoom.objects.get(pk=int(room_id))
    assert room.kind == "direct"
    assert set(Participant.objects.filter(room=room).values_list("user_id", flat=True)) == {alice.pk, bob.pk}
    added = [(g, e["chatroom"]["title"]) for g, e in events if e["type"] == "chat.added"]
    assert added == [(f"user.{bob.pk}", "Alice")]
    # The creator's own sockets hear of the room too, to follow its last messages.
    assert (f"user.{alice.pk}", {"type": "chat.created", "room_id": room.pk}) in events
    assert len(events) == 2

    with published() as events:
        again = client.post("/api/chat/create-chat", {"friendIds": [bob.pk]})
        from_bob = api(bob).post("/api/chat/create-chat", {"friendIds": [alice.pk]})
    assert again.status_code == 200
    assert again.json() == {"chatroomId": room_id, "created": False}
    assert from_bob.status_code == 200
    assert from_bob.json() == {"chatroomId": room_id, "created": False}
    assert events == []
    assert ChatRoom.objects.count() == 1


def test_create_group_chat_is_new_each_time(people, api, published):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    client = api(alice)
    with published() as events:
        first = client.post("/api/chat/create-chat", {"friendIds": [bob.pk, carol.pk]})
    assert first.status_code == 201
    assert first.json()["created"] is True
    titles = {g: e["chatroom"]["title"] for g, e in events if e["type"] == "chat.added"}
    assert titles == {f"user.{bob.pk}": "Alice, Carol", f"user.{carol.pk}": "Alice, Bob"}
    second = client.post("/api/chat/create-chat", {"friendIds": [str(carol.pk), str(bob.pk)]})
    assert second.status_code == 201
    assert second.json()["chatroomId"] != first.json()["chatroomId"]
    assert ChatRoom.objects.filter(kind="group").count() == 2


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"friendIds": []},
        {"friendIds": None},
        {"friendIds": "1"},
        {"friendIds": 1},
        {"friendIds": {"0": 1}},
        {"friendIds": ["abc"]},
        {"friendIds": [1.5]},
        {"friendIds": [True]},
        {"friendIds": [None]},
        {"friendIds": [[1]]},
        {"friendIds": ["9" * 30]},
        {"friendIds": [-3]},
    ],
)
def test_create_chat_with_garbage_ids_is_400(people, api, body):
    alice, _ = people("Alice", "Bob")
    assert_error(api(alice).post("/api/chat/create-chat", body), 400, "invalid")
    assert not ChatRoom.objects.exists()


def test_create_chat_with_a_non_friend_or_oneself_is_400(people, api, make_user):
    alice, bob = people("Alice", "Bob")
    stranger = make_user("Stranger")
    client = api(alice)
    for ids in ([stranger.pk], [bob.pk, stranger.pk], [alice.pk], [alice.pk, bob.pk], [987654321]):
        assert_error(client.post("/api/chat/create-chat", {"friendIds": ids}), 400, "invalid")
    assert not ChatRoom.objects.exists()


def test_create_chat_after_the_friendship_ended_is_400(people, api):
    from friends.services import friendship_delete

    alice, bob = people("Alice", "Bob")
    friendship_delete(user=bob, friend_id=alice.pk)
    assert_error(api(alice).post("/api/chat/create-chat", {"friendIds": [bob.pk]}), 400, "invalid")


def test_create_chat_signed_out_or_without_csrf(people, api):
    alice, bob = people("Alice", "Bob")
    assert_error(api().post("/api/chat/create-chat", {"friendIds": [bob.pk]}), 401, "unauthenticated")
    response = api(alice).post("/api/chat/create-chat", {"friendIds": [bob.pk]}, csrf=False)
    assert_error(response, 403, "forbidden")
    assert not ChatRoom.objects.exists()


def test_create_chat_with_a_bearer_token(people, api, token_for):
    alice, bob = people("Alice", "Bob")
    client = api(token=token_for(alice))
    assert client.post("/api/chat/create-chat", {"friendIds": [bob.pk]}, csrf=False).status_code == 201


# --- chat-info -------------------------------------------------------------------------


def test_chat_info_shape(people, room, api):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    m1, m2 = send(bob, r, 1, "hello")[0], send(alice, r, 1, "hi")[0]
    response = api(carol).get("/api/chat/chat-info", chatId=str(r.pk))
    assert response.status_code == 200
    assert response.json() == {
        "id": str(r.pk),
        "title": "Alice, Bob",
        "kind": "group",
        "participants": [
            {"participantId": str(alice.pk), "participantPicture": "", "name": "Alice"},
            {"participantId": str(bob.pk), "participantPicture": "", "name": "Bob"},
            {"participantId": str(carol.pk), "participantPicture": "", "name": "Carol"},
        ],
        "messages": [
            {
                "id": str(m.pk),
                "chatroomId": str(r.pk),
                "message": m.text,
                "senderId": str(m.sender_id),
                "senderName": name,
                "senderImage": "",
                "timestamp": int(m.created_at.timestamp() * 1000),
                "editedAt": None,
                "replyTo": None,
                "reactions": [],
                "attachments": [],
            }
            for m, name in ((m1, "Bob"), (m2, "Alice"))
        ],
        "hasMore": False,
        "readPositions": {str(alice.pk): str(m2.pk), str(bob.pk): str(m1.pk), str(carol.pk): None},
    }


def test_chat_info_of_a_direct_room_is_titled_by_the_other(people, room, api):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    assert api(alice).get("/api/chat/chat-info", chatId=r.pk).json()["title"] == "Bob"
    data = api(bob).get("/api/chat/chat-info", chatId=r.pk).json()
    assert (data["title"], data["kind"], data["messages"], data["hasMore"]) == ("Alice", "direct", [], False)


def test_chat_info_message_is_returned_as_typed(people, room, api):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    typed = "  <script>alert('x')</script> \U0001f600  "
    message_send(sender=alice, room_id=r.pk, text=typed)
    response = api(bob).get("/api/chat/chat-info", chatId=r.pk)
    assert response.json()["messages"][0]["message"] == typed


def test_chat_info_newest_page_by_default_then_pages_back(people, room, api):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    sent = send(alice, r, 120)
    client = api(bob)

    first = client.get("/api/chat/chat-info", chatId=r.pk).json()
    assert [m["id"] for m in first["messages"]] == [str(m.pk) for m in sent[-50:]]
    assert first["hasMore"] is True

    seen = [m["id"] for m in first["messages"]]
    before = first["messages"][0]["id"]
    while True:
        page = client.get("/api/chat/chat-info", chatId=r.pk, before=before, limit=30).json()
        assert len(page["messages"]) <= 30
        seen = [m["id"] for m in page["messages"]] + seen
        if not page["hasMore"]:
            break
        before = page["messages"][0]["id"]
    assert seen == [str(m.pk) for m in sent]


def test_chat_info_limit_bounds(people, room, api):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    send(alice, r, 101)
    client = api(alice)
    one = client.get("/api/chat/chat-info", chatId=r.pk, limit=1).json()
    assert len(one["messages"]) == 1 and one["hasMore"] is True
    hundred = client.get("/api/chat/chat-info", chatId=r.pk, limit=100).json()
    assert len(hundred["messages"]) == 100 and hundred["hasMore"] is True
    for bad in ("0", "101", "x", "-1", "1.5", ""):
        assert_error(client.get("/api/chat/chat-info", chatId=r.pk, limit=bad), 400, "invalid")


@pytest.mark.parametrize("before", ["x", "0", "-5", "1.5", "", "9" * 30])
def test_chat_info_bad_before_is_400(people, room, api, before):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    assert_error(api(alice).get("/api/chat/chat-info", chatId=r.pk, before=before), 400, "invalid")


def test_chat_info_not_a_participant_is_403(people, room, api, make_user):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    send(alice, r, 1)
    response = api(make_user("Eve")).get("/api/chat/chat-info", chatId=r.pk)
    assert_error(response, 403, "not_participant")
    assert b"m0" not in response.content


def test_chat_info_unknown_room_is_404(people, api):
    alice, _ = people("Alice", "Bob")
    assert_error(api(alice).get("/api/chat/chat-info", chatId="987654321"), 404, "not_found")


@pytest.mark.parametrize("chat_id", [None, "", "abc", "0", "-1", "1.5", "9" * 30])
def test_chat_info_missing_or_bad_chat_id_is_400(people, api, chat_id):
    alice, _ = people("Alice", "Bob")
    params = {} if chat_id is None else {"chatId": chat_id}
    assert_error(api(alice).get("/api/chat/chat-info", **params), 400, "invalid")


def test_chat_info_signed_out_is_401(people, room, api):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    assert_error(api().get("/api/chat/chat-info", chatId=r.pk), 401, "unauthenticated")


# --- chat-list -------------------------------------------------------------------------


def test_chat_list_shape_and_order(people, room, api):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    older = room(alice, bob)
    group = room(alice, bob, carol)
    empty = room(alice, carol)
    send(bob, group, 1)
    last = send(bob, older, 2)[-1]
    response = api(alice).get("/api/chat/chat-list")
    assert response.status_code == 200
    rooms = response.json()["chatRooms"]
    assert [r["id"] for r in rooms] == [str(older.pk), str(group.pk), str(empty.pk)]
    first = rooms[0]
    assert set(first) == {
        "id",
        "createdAt",
        "kind",
        "title",
        "participants",
        "lastMessage",
        "unreadMessagesCount",
        "muted",
    }
    assert first["kind"] == "direct" and first["title"] == "Bob"
    assert isinstance(first["createdAt"], int)
    assert first["lastMessage"] == {
        "id": str(last.pk),
        "chatroomId": str(older.pk),
        "message": "m1",
        "senderId": str(bob.pk),
        "senderName": "Bob",
        "senderImage": "",
        "timestamp": int(last.created_at.timestamp() * 1000),
        "editedAt": None,
        "replyTo": None,
        "reactions": [],
        "attachments": [],
    }
    assert first["unreadMessagesCount"] == 2
    assert rooms[1]["title"] == "Bob, Carol" and rooms[1]["unreadMessagesCount"] == 1
    assert rooms[2]["lastMessage"] is None and rooms[2]["unreadMessagesCount"] == 0
    assert [p["participantId"] for p in rooms[1]["participants"]] == [str(alice.pk), str(bob.pk), str(carol.pk)]


def test_chat_list_empty(make_user, api):
    assert api(make_user()).get("/api/chat/chat-list").json() == {"chatRooms": []}


def test_chat_list_signed_out_is_401(api):
    assert_error(api().get("/api/chat/chat-list"), 401, "unauthenticated")


def test_chat_list_after_a_deleted_last_message(people, room, api):
    from chats.services import message_delete

    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    first, second = send(bob, r, 2)
    message_delete(message=Message.objects.get(pk=second.pk))
    [summary] = api(alice).get("/api/chat/chat-list").json()["chatRooms"]
    assert summary["lastMessage"]["id"] == str(first.pk)
    assert summary["unreadMessagesCount"] == 1


def _list_queries(client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/chat/chat-list")
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["chatRooms"])


def test_chat_list_query_count_does_not_grow_with_rooms(people, room, api, make_user, befriend):
    alice, bob = people("Alice", "Bob")
    send(bob, room(alice, bob), 1)
    client = api(alice)
    client.get("/api/chat/chat-list")  # warm: the session and user are loaded the same way each time
    queries_for_one, count = _list_queries(client)
    assert count == 1
    for i in range(29):
        friend = make_user(f"Friend {i}")
        befriend(alice, friend)
        new = room(alice, friend, bob) if i % 3 == 0 else room(alice, friend)
        send(friend, new, 1)
    queries_for_thirty, count = _list_queries(client)
    assert count == 30
    assert queries_for_thirty == queries_for_one
