"""Moderation through /admin/ (SPEC §5): find users, deactivate them, browse rooms, delete messages."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from chats.models import ChatRoom, Message
from chats.selectors import message_payload
from chats.services import message_send, room_create
from chatty.realtime import capture_events, members_group, user_group
from friends.models import Friendship

pytestmark = pytest.mark.django_db

PASSWORD = "moderation-is-work-42"


@pytest.fixture
def admin_client() -> Client:
    moderator = User.objects.create_superuser(username=f"mod-{uuid.uuid4().hex[:8]}", password=PASSWORD)
    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def published(django_capture_on_commit_callbacks) -> Any:
    """A block recording what is published once its transaction commits (tests run in one)."""

    @contextlib.contextmanager
    def capture() -> Iterator[list[tuple[str, dict[str, Any]]]]:
        with capture_events() as events, django_capture_on_commit_callbacks(execute=True):
            yield events

    return capture


@pytest.fixture
def group(make_user, befriend) -> tuple[ChatRoom, list[User]]:
    """A group of three friends with a few messages."""
    ada, bo, cy = make_user("Ada Lovelace"), make_user("Bo Diddley"), make_user("Cy Twombly")
    befriend(ada, bo)
    befriend(ada, cy)
    befriend(bo, cy)
    room, _ = room_create(creator=ada, friend_ids=[bo.pk, cy.pk])
    return room, [ada, bo, cy]


def page(answer: Any) -> str:
    assert answer.status_code == 200
    return answer.content.decode()


def test_users_are_found_by_name_and_by_user_tag(admin_client: Client, make_user) -> None:
    zelda, other = make_user("Zelda Fitzgerald"), make_user("Ernest Hemingway")

    by_name = page(admin_client.get("/admin/accounts/user/", {"q": "zelda"}))
    assert zelda.username in by_name and other.username not in by_name

    by_tag = page(admin_client.get("/admin/accounts/user/", {"q": other.user_tag.upper()}))
    assert other.username in by_tag and zelda.username not in by_tag


def test_deactivating_blocks_tokens_and_sign_in(admin_client: Client, make_user, token_for, published) -> None:
    user = make_user("Mallory Troll")
    user.set_password(PASSWORD)
    user.save()
    token = token_for(user, minutes=60)
    assert Client().get("/api/user", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200

    with published() as events:
        answer = admin_client.post(
            "/admin/accounts/user/", {"action": "deactivate", "_selected_action": [user.pk]}, follow=True
        )
    assert "Deactivated 1 user(s)." in page(answer)

    user.refresh_from_db()
    assert user.is_active is False
    assert (user_group(user.pk), {"type": "user.deactivated"}) in events
    refused = Client().get("/api/user", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert refused.status_code == 401 and refused.json()["error"] == "unauthenticated"

    # A visitor of their own (allauth rate-limits failed sign-ins per address).
    browser = Client(REMOTE_ADDR=f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.7")
    browser.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    assert browser.get("/api/auth/check-auth").status_code == 401
    assert Client().login(username=user.username, password=PASSWORD) is False


def test_room_pages_show_the_members(admin_client: Client, group) -> None:
    room, members = group

    change = page(admin_client.get(f"/admin/chats/chatroom/{room.pk}/change/"))
    assert all(m.name in change for m in members)

    listing = page(admin_client.get("/admin/chats/chatroom/", {"q": members[1].user_tag}))
    assert f"/admin/chats/chatroom/{room.pk}/change/" in listing
    assert "Ada Lovelace, Bo Diddley, Cy Twombly" in listing


def test_messages_are_searchable_by_text(admin_client: Client, group) -> None:
    room, (ada, bo, _) = group
    message_send(sender=ada, room_id=room.pk, text="Who ordered the pineapple pizza?")
    message_send(sender=bo, room_id=room.pk, text="Not me, I am at the cinema")

    found = page(admin_client.get("/admin/chats/message/", {"q": "PINEAPPLE"}))
    assert "Who ordered the pineapple pizza?" in found and "cinema" not in found


def test_deleting_a_message_removes_it_and_tells_live_clients(admin_client: Client, group, published) -> None:
    room, (ada, bo, _) = group
    kept, _ = message_send(sender=ada, room_id=room.pk, text="hello all")
    rude, _ = message_send(sender=bo, room_id=room.pk, text="something rude")

    assert f"message {rude.pk} in {room.pk}" in page(admin_client.get(f"/admin/chats/message/{rude.pk}/delete/"))
    with published() as events:
        answer = admin_client.post(f"/admin/chats/message/{rude.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302

    assert not Message.objects.filter(pk=rude.pk).exists()
    expected = {
        "type": "chat.message_deleted",
        "room_id": room.pk,
        "message_id": rude.pk,
        "last_message": message_payload(Message.objects.get(pk=kept.pk)),
    }
    assert (members_group(room.pk), expected) in events
    room.refresh_from_db()
    assert room.last_message_id == kept.pk


def test_the_bulk_delete_action_tells_live_clients_too(admin_client: Client, group, published) -> None:
    room, (ada, _, _) = group
    messages = [message_send(sender=ada, room_id=room.pk, text=f"spam {i}")[0] for i in range(3)]

    with published() as events:
        answer = admin_client.post(
            "/admin/chats/message/",
            {"action": "delete_and_notify", "_selected_action": [m.pk for m in messages[:2]]},
        )
    assert answer.status_code == 302

    assert list(Message.objects.filter(room=room).values_list("pk", flat=True)) == [messages[2].pk]
    deleted = {e["message_id"] for _, e in events if e["type"] == "chat.message_deleted"}
    assert deleted == {messages[0].pk, messages[1].pk}


def test_rooms_messages_and_friendships_cannot_be_edited_around_the_services(admin_client: Client, group) -> None:
    room, (ada, bo, _) = group
    message, _ = message_send(sender=ada, room_id=room.pk, text="as typed")
    friendship = Friendship.objects.get(user=ada, friend=bo)

    for path in ("/admin/chats/chatroom/add/", "/admin/chats/message/add/", "/admin/friends/friendship/add/"):
        assert admin_client.get(path).status_code == 403
    answer = admin_client.post(f"/admin/chats/message/{message.pk}/change/", {"text": "edited"})
    assert answer.status_code == 403
    message.refresh_from_db()
    assert message.text == "as typed"
    assert admin_client.post(f"/admin/friends/friendship/{friendship.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Friendship.objects.filter(user=bo, friend=ada).exists()
    # Still browsable.
    for path in (
        "/admin/",
        "/admin/chats/chatroom/",
        "/admin/chats/message/",
        f"/admin/chats/message/{message.pk}/change/",
        "/admin/friends/friendship/",
        f"/admin/friends/friendship/{friendship.pk}/change/",
        f"/admin/accounts/user/{ada.pk}/change/",
    ):
        assert admin_client.get(path).status_code == 200, path
