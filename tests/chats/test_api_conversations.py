"""SPEC §9 over HTTP: every endpoint's answer and every error code it can give."""

from __future__ import annotations

import json

import pytest

from chats.models import ChatRoom, Message, Participant, Reaction
from chats.services import message_send, reaction_toggle
from friends.services import friendship_delete

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert set(data) == {"error", "detail"} and data["error"] == code and data["detail"]


def send(sender, room, text: str = "hi", **kwargs) -> Message:
    return message_send(sender=sender, room_id=room.pk, text=text, **kwargs)[0]


@pytest.fixture
def trio(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    return alice, bob, carol, room(alice, bob, carol)


# --- edit-message ----------------------------------------------------------------------


def test_edit_message_answers_the_extended_message(trio, api, published):
    alice, _, _, r = trio
    m = send(alice, r, "helo")
    with published() as events:
        response = api(alice).post("/api/chat/edit-message", {"messageId": str(m.pk), "message": "hello **you**"})
    assert response.status_code == 200
    data = response.json()
    m.refresh_from_db()
    assert data["id"] == str(m.pk) and data["message"] == "hello **you**"  # as typed, not rendered
    assert data["editedAt"] == int(m.edited_at.timestamp() * 1000)
    assert {"replyTo", "reactions", "attachments"} <= set(data)
    assert [e["type"] for _, e in events] == ["chat.message_edited"]


def test_edit_message_errors(trio, api, make_user, befriend):
    alice, bob, _, r = trio
    m = send(bob, r, "bob's")
    client = api(alice)
    assert_error(client.post("/api/chat/edit-message", {"messageId": str(m.pk), "message": "x"}), 403, "forbidden")
    assert_error(client.post("/api/chat/edit-message", {"messageId": "999999", "message": "x"}), 404, "not_found")
    assert_error(
        api(make_user("Eve")).post("/api/chat/edit-message", {"messageId": m.pk, "message": "x"}), 404, "not_found"
    )
    assert_error(client.post("/api/chat/edit-message", {"message": "x"}), 400, "invalid")
    assert_error(client.post("/api/chat/edit-message", {"messageId": "1.5", "message": "x"}), 400, "invalid")
    bob_client = api(bob)
    assert_error(bob_client.post("/api/chat/edit-message", {"messageId": m.pk, "message": "  "}), 400, "invalid")
    assert_error(bob_client.post("/api/chat/edit-message", {"messageId": m.pk, "message": 5}), 400, "invalid")
    assert_error(bob_client.post("/api/chat/edit-message", {"messageId": m.pk, "message": "x" * 4001}), 400, "too_long")
    assert_error(api().post("/api/chat/edit-message", {"messageId": m.pk, "message": "x"}), 401, "unauthenticated")
    assert_error(bob_client.get("/api/chat/edit-message"), 405, "method_not_allowed")
    m.refresh_from_db()
    assert m.text == "bob's" and m.edited_at is None


def test_a_direct_room_of_former_friends_is_read_only_over_http(people, room, api):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m = send(alice, r, "before")
    friendship_delete(user=bob, friend_id=alice.pk)
    client = api(alice)
    assert_error(client.post("/api/chat/edit-message", {"messageId": m.pk, "message": "after"}), 403, "forbidden")
    assert_error(client.post("/api/chat/react", {"messageId": m.pk, "emoji": "👍"}), 403, "forbidden")
    assert client.get("/api/chat/chat-info", chatId=r.pk).json()["messages"][0]["message"] == "before"


# --- delete-message --------------------------------------------------------------------


def test_delete_message_removes_it_from_history(trio, api):
    alice, bob, _, r = trio
    keep = send(alice, r, "keep")
    gone = send(alice, r, "gone")
    response = api(alice).post("/api/chat/delete-message", {"messageId": str(gone.pk)})
    assert response.status_code == 200 and response.json() == {"messageId": str(gone.pk)}
    history = api(bob).get("/api/chat/chat-info", chatId=r.pk).json()["messages"]
    assert [m["id"] for m in history] == [str(keep.pk)]
    assert api(bob).get("/api/chat/chat-list").json()["chatRooms"][0]["lastMessage"]["id"] == str(keep.pk)


def test_delete_message_errors(trio, api, make_user):
    alice, bob, _, r = trio
    m = send(bob, r, "bob's")
    assert_error(api(alice).post("/api/chat/delete-message", {"messageId": m.pk}), 403, "forbidden")
    assert_error(api(make_user("Eve")).post("/api/chat/delete-message", {"messageId": m.pk}), 404, "not_found")
    assert_error(api(alice).post("/api/chat/delete-message", {"messageId": 10**12}), 404, "not_found")
    assert_error(api(alice).post("/api/chat/delete-message", {"messageId": True}), 400, "invalid")
    assert_error(api(alice).post("/api/chat/delete-message", {}), 400, "invalid")
    assert Message.objects.filter(pk=m.pk).exists()


# --- react -----------------------------------------------------------------------------


def test_react_toggles(trio, api):
    alice, bob, _, r = trio
    m = send(alice, r)
    response = api(bob).post("/api/chat/react", {"messageId": str(m.pk), "emoji": "👍"})
    assert response.status_code == 200
    assert response.json() == {"messageId": str(m.pk), "reactions": [{"emoji": "👍", "userIds": [str(bob.pk)]}]}
    again = api(bob).post("/api/chat/react", {"messageId": str(m.pk), "emoji": "👍"})
    assert again.json() == {"messageId": str(m.pk), "reactions": []}
    info = api(alice).get("/api/chat/chat-info", chatId=r.pk).json()
    assert info["messages"][0]["reactions"] == []


def test_react_errors(trio, api, make_user):
    alice, bob, _, r = trio
    m = send(alice, r)
    client = api(bob)
    for emoji in ["a", "1", "", "👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍", None, ["👍"]]:
        assert_error(client.post("/api/chat/react", {"messageId": m.pk, "emoji": emoji}), 400, "invalid")
    for i in range(20):
        reaction_toggle(user=alice, message_id=m.pk, emoji=chr(0x1F600 + i))
    assert_error(client.post("/api/chat/react", {"messageId": m.pk, "emoji": "🚀"}), 400, "invalid")
    assert_error(api(make_user("Eve")).post("/api/chat/react", {"messageId": m.pk, "emoji": "👍"}), 404, "not_found")
    assert_error(client.post("/api/chat/react", {"emoji": "👍"}), 400, "invalid")
    assert Reaction.objects.filter(user=bob).count() == 0


# --- mark-unread -----------------------------------------------------------------------


def test_mark_unread(trio, api):
    alice, bob, _, r = trio
    m1, m2 = send(alice, r, "a"), send(alice, r, "b")
    client = api(bob)
    client.get("/api/chat/chat-info", chatId=r.pk)  # reading the API does not move the position
    response = client.post("/api/chat/mark-unread", {"chatId": str(r.pk), "messageId": str(m2.pk)})
    assert response.status_code == 200
    assert response.json() == {"chatId": str(r.pk), "unreadMessagesCount": 1}
    assert client.get("/api/chat/chat-list").json()["chatRooms"][0]["unreadMessagesCount"] == 1
    positions = client.get("/api/chat/chat-info", chatId=r.pk).json()["readPositions"]
    assert positions[str(bob.pk)] == str(m1.pk)


def test_mark_unread_errors(trio, api, make_user, room):
    alice, bob, _carol, r = trio
    m = send(alice, r)
    other = send(alice, room(alice, bob), "direct")
    client = api(bob)
    assert_error(client.post("/api/chat/mark-unread", {"chatId": r.pk, "messageId": other.pk}), 404, "not_found")
    assert_error(client.post("/api/chat/mark-unread", {"chatId": 10**9, "messageId": m.pk}), 404, "not_found")
    assert_error(client.post("/api/chat/mark-unread", {"chatId": r.pk}), 400, "invalid")
    assert_error(client.post("/api/chat/mark-unread", {"messageId": m.pk}), 400, "invalid")
    assert_error(client.post("/api/chat/mark-unread", {"chatId": "x", "messageId": m.pk}), 400, "invalid")
    eve = api(make_user("Eve"))
    assert_error(eve.post("/api/chat/mark-unread", {"chatId": r.pk, "messageId": m.pk}), 403, "not_participant")


# --- chat-info readPositions -----------------------------------------------------------


def test_chat_info_has_every_participants_read_position(trio, api):
    alice, bob, carol, r = trio
    m = send(alice, r)
    api(bob).post("/api/chat/mark-unread", {"chatId": r.pk, "messageId": m.pk})
    positions = api(carol).get("/api/chat/chat-info", chatId=r.pk).json()["readPositions"]
    assert positions == {str(alice.pk): str(m.pk), str(bob.pk): None, str(carol.pk): None}


# --- rename ----------------------------------------------------------------------------


def test_rename_a_group(trio, api):
    alice, bob, _, r = trio
    response = api(bob).post("/api/chat/rename", {"chatId": str(r.pk), "title": "Weekend"})
    assert response.status_code == 200
    summary = response.json()
    assert summary["id"] == str(r.pk) and summary["title"] == "Weekend" and summary["customTitle"] == "Weekend"
    assert {"muted", "unreadMessagesCount", "participants", "lastMessage"} <= set(summary)
    assert api(alice).get("/api/chat/chat-info", chatId=r.pk).json()["title"] == "Weekend"
    back = api(alice).post("/api/chat/rename", {"chatId": r.pk, "title": ""}).json()
    assert back["title"] == "Bob, Carol" and back["customTitle"] is None


def test_rename_errors(trio, api, people, room, make_user):
    alice, bob, _, r = trio
    direct = room(alice, bob)
    client = api(alice)
    assert_error(client.post("/api/chat/rename", {"chatId": direct.pk, "title": "Us"}), 400, "invalid")
    assert_error(client.post("/api/chat/rename", {"chatId": r.pk, "title": "x" * 101}), 400, "invalid")
    assert_error(client.post("/api/chat/rename", {"chatId": r.pk, "title": 7}), 400, "invalid")
    assert_error(client.post("/api/chat/rename", {"chatId": r.pk}), 400, "invalid")
    assert_error(client.post("/api/chat/rename", {"chatId": 10**9, "title": "x"}), 404, "not_found")
    assert_error(api(make_user("Eve")).post("/api/chat/rename", {"chatId": r.pk, "title": "x"}), 403, "not_participant")
    assert ChatRoom.objects.get(pk=r.pk).title == ""


# --- add-members -----------------------------------------------------------------------


def test_add_members(trio, api, make_user, befriend):
    alice, _bob, _carol, r = trio
    dan = make_user("Dan")
    befriend(alice, dan)
    response = api(alice).post("/api/chat/add-members", {"chatId": str(r.pk), "friendIds": [str(dan.pk)]})
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["participants"]] == ["Alice", "Bob", "Carol", "Dan"]
    assert api(dan).get("/api/chat/chat-info", chatId=r.pk).status_code == 200


def test_add_members_errors(trio, api, make_user, room):
    alice, bob, carol, r = trio
    stranger = make_user("Stranger")
    client = api(alice)
    assert_error(client.post("/api/chat/add-members", {"chatId": r.pk, "friendIds": [bob.pk]}), 400, "invalid")
    assert_error(client.post("/api/chat/add-members", {"chatId": r.pk, "friendIds": [stranger.pk]}), 400, "invalid")
    assert_error(client.post("/api/chat/add-members", {"chatId": r.pk, "friendIds": []}), 400, "invalid")
    assert_error(client.post("/api/chat/add-members", {"chatId": r.pk, "friendIds": "1"}), 400, "invalid")
    direct = room(alice, bob)
    assert_error(client.post("/api/chat/add-members", {"chatId": direct.pk, "friendIds": [carol.pk]}), 400, "invalid")
    assert_error(client.post("/api/chat/add-members", {"chatId": 10**9, "friendIds": [carol.pk]}), 404, "not_found")
    outsider = api(stranger)
    assert_error(
        outsider.post("/api/chat/add-members", {"chatId": r.pk, "friendIds": [alice.pk]}), 403, "not_participant"
    )
    assert Participant.objects.filter(room=r).count() == 3


# --- leave -----------------------------------------------------------------------------


def test_leave_a_group(trio, api):
    alice, _bob, carol, r = trio
    send(carol, r, "see you")
    client = api(carol)
    response = client.post("/api/chat/leave", {"chatId": str(r.pk)})
    assert response.status_code == 200 and response.json() == {"chatId": str(r.pk)}
    assert_error(client.get("/api/chat/chat-info", chatId=r.pk), 403, "not_participant")
    assert client.get("/api/chat/chat-list").json() == {"chatRooms": []}
    info = api(alice).get("/api/chat/chat-info", chatId=r.pk).json()
    assert [m["message"] for m in info["messages"]] == ["see you"]
    assert info["title"] == "Bob" and str(carol.pk) not in info["readPositions"]
    assert_error(client.post("/api/chat/leave", {"chatId": r.pk}), 403, "not_participant")


def test_leave_errors(people, room, api):
    alice, bob = people("Alice", "Bob")
    direct = room(alice, bob)
    assert_error(api(alice).post("/api/chat/leave", {"chatId": direct.pk}), 400, "invalid")
    assert_error(api(alice).post("/api/chat/leave", {"chatId": 10**9}), 404, "not_found")
    assert_error(api(alice).post("/api/chat/leave", {}), 400, "invalid")


# --- mute ------------------------------------------------------------------------------


def test_mute(trio, api):
    alice, bob, _, r = trio
    response = api(bob).post("/api/chat/mute", {"chatId": str(r.pk), "muted": True})
    assert response.status_code == 200 and response.json() == {"chatId": str(r.pk), "muted": True}
    assert api(bob).get("/api/chat/chat-list").json()["chatRooms"][0]["muted"] is True
    assert api(alice).get("/api/chat/chat-list").json()["chatRooms"][0]["muted"] is False
    send(alice, r, "still counts")
    assert api(bob).get("/api/chat/chat-list").json()["chatRooms"][0]["unreadMessagesCount"] == 1
    api(bob).post("/api/chat/mute", {"chatId": r.pk, "muted": False})
    assert api(bob).get("/api/chat/chat-list").json()["chatRooms"][0]["muted"] is False


def test_mute_errors(trio, api, make_user):
    _, bob, _, r = trio
    assert_error(api(bob).post("/api/chat/mute", {"chatId": r.pk, "muted": "yes"}), 400, "invalid")
    assert_error(api(bob).post("/api/chat/mute", {"chatId": r.pk}), 400, "invalid")
    assert_error(api(bob).post("/api/chat/mute", {"chatId": 10**9, "muted": True}), 404, "not_found")
    assert_error(api(make_user("Eve")).post("/api/chat/mute", {"chatId": r.pk, "muted": True}), 403, "not_participant")


# --- PATCH /api/user -------------------------------------------------------------------


def patch(client, body) -> object:
    client._ensure_csrf_cookie()
    return client.client.patch(
        "/api/user", data=json.dumps(body), content_type="application/json", headers=client._headers()
    )


def test_renaming_oneself_tells_friends(people, api, published):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    with published() as events:
        response = patch(api(alice), {"name": "  Alicia  "})
    assert response.status_code == 200
    data = response.json()
    assert (
        data["id"] == str(alice.pk)
        and data["name"] == "Alicia"
        and set(data)
        == {
            "id",
            "name",
            "picture",
            "status",
            "userTag",
        }
    )
    friend = {"userId": str(alice.pk), "name": "Alicia", "image": "", "userTag": alice.user_tag, "status": "offline"}
    own = (f"user.{alice.pk}", {"type": "user.renamed", "user_id": alice.pk, "name": "Alicia"})
    assert sorted(events, key=lambda e: e[0]) == sorted(
        [(f"user.{u.pk}", {"type": "friend.updated", "friend": friend}) for u in (bob, carol)] + [own],
        key=lambda e: e[0],
    )
    assert api(bob).get("/api/friend").json()["friends"][0]["name"] == "Alicia"


def test_renaming_oneself_errors(make_user, api, token_for):
    alice = make_user("Alice")
    client = api(alice)
    for body in ({"name": ""}, {"name": "   "}, {"name": "x" * 51}, {"name": 5}, {}):
        assert_error(patch(client, body), 400, "invalid")
    assert_error(patch(api(), {"name": "Who"}), 401, "unauthenticated")
    alice.refresh_from_db()
    assert alice.name == "Alice"
    bearer = api(token=token_for(alice))
    assert patch(bearer, {"name": "x" * 50}).json()["name"] == "x" * 50
