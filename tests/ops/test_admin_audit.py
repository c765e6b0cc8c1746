"""The admin's bulk actions leave an audit trail (Django's LogEntry: the admin's history)."""

from __future__ import annotations

from django.contrib.admin.models import CHANGE, DELETION, LogEntry


def _admin(client, make_user):
    admin = make_user("Moderator", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return admin


def test_deactivating_users_in_bulk_is_logged(client, make_user):
    admin = _admin(client, make_user)
    a, b = make_user("Eve"), make_user("Mallory")
    response = client.post(
        "/admin/accounts/user/", {"action": "deactivate", "_selected_action": [a.pk, b.pk]}, follow=True
    )
    assert response.status_code == 200
    entries = LogEntry.objects.filter(user=admin, action_flag=CHANGE)
    assert sorted(int(e.object_id) for e in entries) == sorted([a.pk, b.pk])
    assert all("Deactivated" in e.get_change_message() for e in entries)


def test_deleting_messages_in_bulk_is_logged_without_their_text(client, make_user, befriend):
    from chats.services import message_send, room_create

    admin = _admin(client, make_user)
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[str(bob.pk)])
    first, _ = message_send(sender=alice, room_id=room.pk, text="secret plans")
    second, _ = message_send(sender=bob, room_id=room.pk, text="more secrets")
    response = client.post(
        "/admin/chats/message/",
        {"action": "delete_and_notify", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert response.status_code == 200
    entries = LogEntry.objects.filter(user=admin, action_flag=DELETION)
    assert sorted(int(e.object_id) for e in entries) == sorted([first.pk, second.pk])
    assert not any("secret" in e.object_repr for e in entries)
