"""Chat selectors: room summaries, the chat list, history pages, catch-up and unread counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats.models import ChatRoom
from chats.selectors import (
    chat_list,
    history,
    messages_after,
    room_for_member,
    room_ids_of,
    room_members,
    room_summary,
    unread_counts,
)
from chats.services import message_send, read_mark
from chatty.errors import NotFound, NotParticipant

pytestmark = pytest.mark.django_db


def send(sender, room, count: int, prefix: str = "m") -> list:
    return [message_send(sender=sender, room_id=room.pk, text=f"{prefix}{i}")[0] for i in range(count)]


# --- chat list -------------------------------------------------------------------------


def test_summary_shape_of_an_empty_direct_room(people, room):
    alice, bob = people("Alice", "Bob")
    bob.picture = "https://example.com/b.png"
    bob.save(update_fields=["picture"])
    r = room(alice, bob)
    [summary] = chat_list(user=alice)
    assert summary == {
        "id": str(r.pk),
        "createdAt": int(r.created_at.timestamp() * 1000),
        "kind": "direct",
        "title": "Bob",
        "participants": [
            {"participantId": str(alice.pk), "participantPicture": "", "name": "Alice"},
            {"participantId": str(bob.pk), "participantPicture": "https://example.com/b.png", "name": "Bob"},
        ],
        "lastMessage": None,
        "unreadMessagesCount": 0,
        "muted": False,
    }
    assert chat_list(user=bob)[0]["title"] == "Alice"


def test_summary_carries_the_last_message_and_unread_count(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    *_, last = send(alice, r, 3)
    summary = chat_list(user=bob)[0]
    assert summary["kind"] == "group"
    assert summary["title"] == "Alice, Carol"
    assert summary["lastMessage"] == {
        "id": str(last.pk),
        "chatroomId": str(r.pk),
        "message": "m2",
        "senderId": str(alice.pk),
        "senderName": "Alice",
        "senderImage": "",
        "timestamp": int(last.created_at.timestamp() * 1000),
        "editedAt": None,
        "replyTo": None,
        "reactions": [],
        "attachments": [],
    }
    assert summary["unreadMessagesCount"] == 3
    assert chat_list(user=alice)[0]["unreadMessagesCount"] == 0
    read_mark(user=bob, room_id=r.pk)
    assert chat_list(user=bob)[0]["unreadMessagesCount"] == 0


def test_chat_list_is_ordered_by_latest_activity(people, room):
    alice, bob, carol, dan = people("Alice", "Bob", "Carol", "Dan")
    with_bob = room(alice, bob)
    with_carol = room(alice, carol)
    group = room(alice, bob, carol)
    with_dan = room(alice, dan)  # newest room, no message yet
    assert [s["id"] for s in chat_list(user=alice)] == [str(r.pk) for r in (with_dan, group, with_carol, with_bob)]
    send(bob, with_bob, 1)
    assert [s["id"] for s in chat_list(user=alice)] == [str(r.pk) for r in (with_bob, with_dan, group, with_carol)]
    send(carol, group, 1)
    send(alice, with_carol, 1)
    assert [s["id"] for s in chat_list(user=alice)] == [str(r.pk) for r in (with_carol, group, with_bob, with_dan)]
    assert [s["id"] for s in chat_list(user=bob)] == [str(r.pk) for r in (group, with_bob)]


def test_chat_list_holds_only_the_users_rooms(people, room, make_user):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    room(alice, bob)
    assert chat_list(user=carol) == []
    assert chat_list(user=make_user("Eve")) == []


def test_unread_counts_per_room_in_the_list(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    with_bob = room(alice, bob)
    with_carol = room(alice, carol)
    send(bob, with_bob, 2)
    send(carol, with_carol, 5)
    send(alice, with_carol, 1)  # her own message does not count, nor move others' counts for her
    counts = {s["id"]: s["unreadMessagesCount"] for s in chat_list(user=alice)}
    # Sending reads the room for the sender: everything before her message is read.
    assert counts == {str(with_bob.pk): 2, str(with_carol.pk): 0}
    counts = {s["id"]: s["unreadMessagesCount"] for s in chat_list(user=carol)}
    assert counts == {str(with_carol.pk): 1}


def _chat_list_queries(user) -> int:
    with CaptureQueriesContext(connection) as ctx:
        rooms = chat_list(user=user)
    assert rooms
    return len(ctx.captured_queries)


def test_chat_list_takes_the_same_queries_for_1_and_30_rooms(people, room, make_user, befriend):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob)
    send(bob, r, 2)
    one = _chat_list_queries(alice)

    for i in range(29):
        friend = make_user(f"Friend {i}")
        befriend(alice, friend)
        new = room(alice, friend) if i % 2 else room(alice, friend, bob, carol)
        send(friend, new, 2)
    assert len(chat_list(user=alice)) == 30
    assert _chat_list_queries(alice) == one
    assert one <= 3  # rooms, members, the last messages' attachments


# --- one room --------------------------------------------------------------------------


def test_room_summary_matches_the_list_entry(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    send(alice, r, 2)
    assert room_summary(room_id=r.pk, user=carol) == chat_list(user=carol)[0]


def test_room_for_member(people, room, make_user):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    assert room_for_member(user_id=bob.pk, room_id=r.pk) == r
    assert room_for_member(user_id=bob.pk, room_id=str(r.pk)) == r
    with pytest.raises(NotParticipant):
        room_for_member(user_id=make_user("Eve").pk, room_id=r.pk)
    for bad in (r.pk + 1000, "abc", None, 10**30, 1.5, -1):
        with pytest.raises(NotFound):
            room_for_member(user_id=alice.pk, room_id=bad)


def test_room_members_and_room_ids(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r1 = room(alice, bob)
    r2 = room(alice, bob, carol)
    assert [u.pk for u in room_members(room_id=r2.pk)] == [alice.pk, bob.pk, carol.pk]
    assert sorted(room_ids_of(user_id=alice.pk)) == sorted([r1.pk, r2.pk])
    assert room_ids_of(user_id=carol.pk) == [r2.pk]


# --- history ---------------------------------------------------------------------------


def test_history_newest_page_oldest_first(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    sent = send(alice, r, 7)
    page, has_more = history(room_id=r.pk, limit=3)
    assert [m.pk for m in page] == [m.pk for m in sent[4:]]
    assert has_more is True


def test_history_pages_back_with_before(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    sent = send(alice, r, 7)
    seen = []
    before = None
    while True:
        page, has_more = history(room_id=r.pk, before=before, limit=3)
        seen = [m.pk for m in page] + seen
        if not has_more:
            break
        before = page[0].pk
    assert seen == [m.pk for m in sent]
    page, has_more = history(room_id=r.pk, before=sent[0].pk, limit=3)
    assert (page, has_more) == ([], False)


def test_history_exact_page_has_no_more(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    send(alice, r, 3)
    page, has_more = history(room_id=r.pk, limit=3)
    assert len(page) == 3 and has_more is False


def test_history_keeps_to_its_room(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r1, r2 = room(alice, bob), room(alice, carol)
    send(alice, r1, 2)
    send(alice, r2, 2, prefix="other")
    page, _ = history(room_id=r1.pk)
    assert [m.text for m in page] == ["m0", "m1"]
    assert all(m.room_id == r1.pk for m in page)


def test_messages_after(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    sent = send(alice, r, 5)
    page, more = messages_after(room_id=r.pk, after_id=sent[1].pk, limit=2)
    assert [m.pk for m in page] == [sent[2].pk, sent[3].pk]
    assert more is True
    page, more = messages_after(room_id=r.pk, after_id=sent[1].pk, limit=3)
    assert ([m.pk for m in page], more) == ([m.pk for m in sent[2:]], False)
    assert messages_after(room_id=r.pk, after_id=sent[-1].pk) == ([], False)


def test_unread_counts_of_a_room(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    assert unread_counts(room_id=r.pk) == {alice.pk: 0, bob.pk: 0, carol.pk: 0}
    send(bob, r, 2)
    assert unread_counts(room_id=r.pk) == {alice.pk: 2, bob.pk: 0, carol.pk: 2}


def test_an_empty_room_has_no_last_message(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    assert ChatRoom.objects.get(pk=r.pk).last_message is None
    assert chat_list(user=alice)[0]["lastMessage"] is None


# --- §9: every <message> in a fixed number of queries ----------------------------------


def _page_of_50_with_replies_and_reactions(people, room):
    from chats.services import reaction_toggle

    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    sent = []
    for i in range(50):
        reply_to = sent[-1].pk if sent and i % 2 else None
        sent.append(message_send(sender=(alice, bob)[i % 2], room_id=r.pk, text=f"m{i}", reply_to_id=reply_to)[0])
        if i % 3 == 0:
            reaction_toggle(user=carol, message_id=sent[-1].pk, emoji="👍")
            reaction_toggle(user=alice, message_id=sent[-1].pk, emoji="🎉")
    return alice, carol, r, sent


def test_a_page_of_50_with_replies_and_reactions_takes_one_query(people, room, django_assert_num_queries):
    from chats.selectors import message_payloads

    _, carol, r, sent = _page_of_50_with_replies_and_reactions(people, room)
    with django_assert_num_queries(2):  # the page, and the attachments of all of it
        payloads = message_payloads(history(room_id=r.pk, limit=50)[0])
    assert len(payloads) == 50
    assert payloads[1]["replyTo"] == {"id": str(sent[0].pk), "senderName": "Alice", "excerpt": "m0"}
    assert payloads[3]["reactions"] == [
        {"emoji": "👍", "userIds": [str(carol.pk)]},
        {"emoji": "🎉", "userIds": [str(sent[0].sender_id)]},
    ]
    with django_assert_num_queries(2):
        replay = message_payloads(messages_after(room_id=r.pk, after_id=0)[0])
    assert replay == payloads


def test_the_chat_list_carries_the_extended_last_message_in_the_same_queries(people, room):
    alice, _, _r, sent = _page_of_50_with_replies_and_reactions(people, room)
    [summary] = chat_list(user=alice)
    assert summary["lastMessage"]["replyTo"] == {"id": str(sent[48].pk), "senderName": "Alice", "excerpt": "m48"}
    assert summary["lastMessage"]["editedAt"] is None and summary["lastMessage"]["attachments"] == []
    assert _chat_list_queries(alice) <= 3
