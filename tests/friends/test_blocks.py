"""Friends you can keep away (SPEC §9): block, unblock, the blocked list, and direct rooms
that turn read-only when a friendship ends, on every path (service, frame, form)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chats.models import Message
from chats.services import message_send, room_create
from chatty.asgi import application
from chatty.errors import Forbidden
from friends.models import Friendship

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    data = response.json()
    assert set(data) == {"error", "detail"} and data["error"] == code


def test_block_ends_the_friendship_and_both_sides_hear_of_it(make_user, befriend, api, published):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    with published() as events:
        response = api(alice).post("/api/friend/block", {"userId": str(bob.pk)})
    assert response.status_code == 200 and response.json() == {"userId": str(bob.pk)}
    assert not Friendship.objects.exists()
    assert sorted((g, e["type"], e["user_id"]) for g, e in events) == sorted(
        [
            (f"user.{bob.pk}", "friend.removed", alice.pk),
            (f"user.{alice.pk}", "friend.removed", bob.pk),
            # Neither sees the other's presence any more, also as members of one group room.
            (f"user.{alice.pk}", "friend.blocked", bob.pk),
            (f"user.{bob.pk}", "friend.blocked", alice.pk),
        ]
    )
    assert api(alice).get("/api/friend").json() == {"friends": []}
    assert api(bob).get("/api/friend").json() == {"friends": []}


def test_blocked_list_and_unblock(make_user, api):
    alice, bob, carol = make_user("Alice"), make_user("Bob", picture="https://example.com/b.png"), make_user("Carol")
    client = api(alice)
    assert client.get("/api/friend/blocked").json() == {"blocked": []}
    client.post("/api/friend/block", {"userId": str(bob.pk)})
    client.post("/api/friend/block", {"userId": bob.pk})  # twice is once
    client.post("/api/friend/block", {"userId": str(carol.pk)})
    blocked = client.get("/api/friend/blocked").json()["blocked"]
    assert blocked == [
        {"userId": str(carol.pk), "name": "Carol", "image": "", "userTag": carol.user_tag},
        {"userId": str(bob.pk), "name": "Bob", "image": "https://example.com/b.png", "userTag": bob.user_tag},
    ]
    assert api(bob).get("/api/friend/blocked").json() == {"blocked": []}, "the list is the blocker's own"
    response = client.post("/api/friend/unblock", {"userId": str(bob.pk)})
    assert response.status_code == 200 and response.json() == {"userId": str(bob.pk)}
    assert [b["userId"] for b in client.get("/api/friend/blocked").json()["blocked"]] == [str(carol.pk)]
    assert not Friendship.objects.exists(), "no friendship comes back by itself"


def test_block_and_unblock_bad_input(make_user, api):
    alice = make_user("Alice")
    client = api(alice)
    for body in ({}, {"userId": None}, {"userId": "x"}, {"userId": 1.5}, {"userId": True}, {"userId": [1]}):
        assert_error(client.post("/api/friend/block", body), 400, "invalid")
        assert_error(client.post("/api/friend/unblock", body), 400, "invalid")
    assert_error(client.post("/api/friend/block", {"userId": str(alice.pk)}), 400, "invalid")
    assert_error(client.post("/api/friend/block", {"userId": "99999999"}), 404, "not_found")
    assert_error(client.post("/api/friend/unblock", {"userId": str(alice.pk + 1)}), 404, "not_found")
    assert_error(client.get("/api/friend/block"), 405, "method_not_allowed")
    assert_error(client.post("/api/friend/blocked"), 405, "method_not_allowed")
    assert_error(api().get("/api/friend/blocked"), 401, "unauthenticated")
    assert_error(api().post("/api/friend/block", {"userId": str(alice.pk)}), 401, "unauthenticated")


def test_the_blocked_cannot_add_the_blocker_it_looks_like_an_unknown_tag(make_user, api):
    alice, bob = make_user("Alice"), make_user("Bob")
    api(alice).post("/api/friend/block", {"userId": str(bob.pk)})
    blocked = api(bob).post("/api/friend/add-friend", {"friendUserTag": alice.user_tag})
    unknown = api(bob).post("/api/friend/add-friend", {"friendUserTag": "nobody#123456"})
    assert_error(blocked, 404, "not_found")
    assert blocked.json() == unknown.json()
    assert_error(api(alice).post("/api/friend/add-friend", {"friendUserTag": bob.user_tag}), 400, "invalid")
    assert not Friendship.objects.exists()
    api(alice).post("/api/friend/unblock", {"userId": str(bob.pk)})
    assert api(bob).post("/api/friend/add-friend", {"friendUserTag": alice.user_tag}).status_code == 201


def test_a_direct_room_of_ex_friends_is_read_only_but_readable(make_user, befriend, api):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[bob.pk])
    message_send(sender=alice, room_id=room.pk, text="before")
    api(bob).post("/api/friend/delete-friend", {"friendId": str(alice.pk)})
    for sender in (alice, bob):
        with pytest.raises(Forbidden):
            message_send(sender=sender, room_id=room.pk, text="after")
    assert list(Message.objects.values_list("text", flat=True)) == ["before"]
    info = api(alice).get("/api/chat/chat-info", chatId=str(room.pk))
    assert info.status_code == 200 and [m["message"] for m in info.json()["messages"]] == ["before"]
    befriend(alice, bob)  # friends again: writable again
    message_send(sender=bob, room_id=room.pk, text="again")


def test_a_block_makes_the_direct_room_read_only_but_not_a_group(make_user, befriend, api):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    befriend(alice, bob), befriend(alice, carol), befriend(bob, carol)
    direct, _ = room_create(creator=alice, friend_ids=[bob.pk])
    group, _ = room_create(creator=alice, friend_ids=[bob.pk, carol.pk])
    api(alice).post("/api/friend/block", {"userId": str(bob.pk)})
    with pytest.raises(Forbidden):
        message_send(sender=bob, room_id=direct.pk, text="let me in")
    message, created = message_send(sender=bob, room_id=group.pk, text="in the group")
    assert created and message.text == "in the group"


def test_the_no_javascript_form_answers_read_only_and_stores_nothing(make_user, befriend):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[bob.pk])
    client = Client()
    client.force_login(bob)
    client.post("/api/friend/block", {"userId": str(alice.pk)}, content_type="application/json")  # CSRF off here
    response = client.post(f"/dashboard/chat/{room.pk}/send", {"message": "hello?"}, follow=True)
    assert response.status_code == 200
    assert "read-only" in response.content.decode()
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_a_send_frame_to_a_blocked_direct_room_answers_forbidden(make_user, befriend, token_for):
    alice, bob = await sync_to_async(make_user)("Alice"), await sync_to_async(make_user)("Bob")
    await sync_to_async(befriend)(alice, bob)
    room, _ = await sync_to_async(room_create)(creator=alice, friend_ids=[bob.pk])
    from friends.services import block_create

    await sync_to_async(block_create)(user=alice, other_id=bob.pk)
    token = await sync_to_async(token_for)(bob)
    comm = WebsocketCommunicator(application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())])
    try:
        connected, _ = await comm.connect(timeout=5)
        assert connected
        for _ in range(2):
            await comm.receive_json_from(timeout=5)
        await comm.send_json_to({"type": "sendMessage", "chatroomId": str(room.pk), "message": "hi", "clientId": "c1"})
        while True:
            frame = await comm.receive_json_from(timeout=5)
            if frame["type"] == "error":
                break
        assert frame["error"] == "forbidden" and frame["ref"] == "sendMessage" and frame.get("clientId") == "c1"
        assert await sync_to_async(Message.objects.count)() == 0
    finally:
        await comm.disconnect(timeout=5)


def test_the_room_page_shows_the_blocked_person_offline(make_user, befriend, fresh_live_state):
    from asgiref.sync import async_to_sync

    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[bob.pk])
    async_to_sync(fresh_live_state.add_connection)(bob.pk, "bob-conn")
    client = Client()
    client.force_login(alice)
    page = client.get(f"/dashboard/chat/{room.pk}").content.decode()
    assert f"dot dot-user-{bob.pk} online" in page
    from friends.services import block_create

    block_create(user=alice, other_id=bob.pk)
    page = client.get(f"/dashboard/chat/{room.pk}").content.decode()
    assert f"dot dot-user-{bob.pk} offline" in page
    assert f"dot dot-user-{bob.pk} online" not in page


def test_the_settings_list_unblocks_without_javascript(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    from friends.services import block_create

    block_create(user=alice, other_id=bob.pk)
    client = Client()
    client.force_login(alice)
    page = client.get("/dashboard").content.decode()
    assert f'id="blocked-{bob.pk}"' in page and bob.user_tag in page
    response = client.post("/dashboard/unblock", {"userId": str(bob.pk), "next": "/dashboard"})
    assert response.status_code == 302 and response["Location"] == "/dashboard"
    page = client.get("/dashboard").content.decode()
    assert f'id="blocked-{bob.pk}"' not in page
    response = client.post("/dashboard/block", {"userId": str(bob.pk), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard", "no open redirect"
    assert f'id="blocked-{bob.pk}"' in client.get("/dashboard").content.decode()


def test_error_details_people_see_are_in_their_language(make_user, api):
    alice = make_user("Alice")
    client = api(alice)
    client.client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ko"
    assert (
        client.post("/api/friend/block", {"userId": str(alice.pk)}).json()["detail"] == "자기 자신은 차단할 수 없어요."
    )
    stranger = api()
    stranger.client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ko"
    assert stranger.get("/api/friend/blocked").json() == {"error": "unauthenticated", "detail": "먼저 로그인하세요."}
