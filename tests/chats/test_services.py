"""Chat services: rooms, messages, read positions, and the events they publish after commit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction

from chats.models import MAX_MESSAGE_LENGTH, ChatRoom, Message, Participant
from chats.selectors import message_payload, unread_counts
from chats.services import message_delete, message_send, read_mark, room_create
from chatty.errors import Invalid, NotFound, NotParticipant, TooLong
from chatty.realtime import capture_events

pytestmark = pytest.mark.django_db


def members(room: ChatRoom) -> set[int]:
    return set(Participant.objects.filter(room=room).values_list("user_id", flat=True))


def last_read(user: Any, room: ChatRoom) -> int:
    return Participant.objects.get(room=room, user=user).last_read_id


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same moment; their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except BaseException as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


# --- rooms -----------------------------------------------------------------------------


def test_one_friend_gives_the_direct_room_once(people, published):
    alice, bob = people("Alice", "Bob")
    with published() as events:
        room, created = room_create(creator=alice, friend_ids=[bob.pk])
    assert created is True
    assert room.kind == "direct"
    assert members(room) == {alice.pk, bob.pk}
    assert [(g, e["type"]) for g, e in events] == [
        (f"user.{bob.pk}", "chat.added"),
        (f"user.{alice.pk}", "chat.created"),
    ]

    with published() as events:
        again, created = room_create(creator=alice, friend_ids=[str(bob.pk)])
        back, created_back = room_create(creator=bob, friend_ids=[alice.pk])
    assert (again.pk, created) == (room.pk, False)
    assert (back.pk, created_back) == (room.pk, False)
    assert events == []
    assert ChatRoom.objects.count() == 1


def test_the_added_event_carries_the_summary_from_the_receivers_side(people, published):
    alice, bob = people("Alice", "Bob")
    with published() as events:
        room, _ = room_create(creator=alice, friend_ids=[bob.pk])
    [(group, event), (creator_group, created)] = events
    assert (creator_group, created) == (f"user.{alice.pk}", {"type": "chat.created", "room_id": room.pk})
    assert group == f"user.{bob.pk}"
    summary = event["chatroom"]
    assert summary["id"] == str(room.pk)
    assert summary["kind"] == "direct"
    assert summary["title"] == "Alice"
    assert summary["lastMessage"] is None
    assert summary["unreadMessagesCount"] == 0
    assert {p["participantId"] for p in summary["participants"]} == {str(alice.pk), str(bob.pk)}


def test_two_or_more_friends_make_a_new_group_each_time(people, published):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    with published() as events:
        first, created = room_create(creator=alice, friend_ids=[bob.pk, carol.pk])
    assert created is True
    assert first.kind == "group"
    assert members(first) == {alice.pk, bob.pk, carol.pk}
    titles = {group: event["chatroom"]["title"] for group, event in events if event["type"] == "chat.added"}
    assert titles == {f"user.{bob.pk}": "Alice, Carol", f"user.{carol.pk}": "Alice, Bob"}
    assert [event for _, event in events if event["type"] != "chat.added"] == [
        {"type": "chat.created", "room_id": first.pk}
    ]

    second, created = room_create(creator=alice, friend_ids=[carol.pk, bob.pk])
    assert created is True
    assert second.pk != first.pk
    assert ChatRoom.objects.filter(kind="group").count() == 2


def test_a_repeated_id_counts_once(people):
    alice, bob = people("Alice", "Bob")
    room, created = room_create(creator=alice, friend_ids=[bob.pk, str(bob.pk)])
    assert (room.kind, created) == ("direct", True)


@pytest.mark.parametrize(
    "friend_ids",
    [
        [],
        None,
        "1",
        5,
        {"id": 1},
        ["abc"],
        [1.5],
        [None],
        [True],
        [[1]],
        [10**30],
        [-1],
        [0],
        ["9" * 40],
    ],
)
def test_garbage_friend_ids_are_invalid(people, friend_ids, published):
    alice, _ = people("Alice", "Bob")
    with published() as events, pytest.raises(Invalid):
        room_create(creator=alice, friend_ids=friend_ids)
    assert events == []
    assert not ChatRoom.objects.exists()


def test_a_non_friend_or_oneself_is_invalid(people, make_user):
    alice, bob = people("Alice", "Bob")
    stranger = make_user("Stranger")
    for ids in ([stranger.pk], [bob.pk, stranger.pk], [alice.pk], [alice.pk, bob.pk], [10**9]):
        with pytest.raises(Invalid):
            room_create(creator=alice, friend_ids=ids)
    assert not ChatRoom.objects.exists()


def test_a_deactivated_friend_cannot_be_put_in_a_room(people):
    from accounts.services import user_deactivate

    alice, bob, carol = people("Alice", "Bob", "Carol")
    user_deactivate(user=bob)
    with pytest.raises(Invalid):
        room_create(creator=alice, friend_ids=[bob.pk, carol.pk])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["same creator", "each side"])
def test_concurrent_direct_room_creation_gives_one_room(people, who):
    alice, bob = people("Alice", "Bob")
    second = (alice, bob) if who == "same creator" else (bob, alice)
    with capture_events() as events:
        results = run_together(
            lambda: room_create(creator=alice, friend_ids=[bob.pk]),
            lambda: room_create(creator=second[0], friend_ids=[second[1].pk]),
        )
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert results[0][0].pk == results[1][0].pk
    assert sorted(created for _, created in results) == [False, True]
    assert ChatRoom.objects.count() == 1
    assert Participant.objects.count() == 2
    assert sorted(e["type"] for _, e in events) == ["chat.added", "chat.created"]


@pytest.mark.django_db(transaction=True)
def test_no_room_event_when_the_transaction_rolls_back(people):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    with capture_events() as events:
        with pytest.raises(RuntimeError), transaction.atomic():
            room_create(creator=alice, friend_ids=[bob.pk, carol.pk])
            raise RuntimeError("the caller failed after the service")
    assert events == []
    assert not ChatRoom.objects.exists()


# --- messages --------------------------------------------------------------------------


def test_a_message_is_stored_as_typed(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    typed = "  <b>hi</b> & \u00e9\U0001f600\u200b\x07\n  "
    message, created = message_send(sender=alice, room_id=r.pk, text=typed)
    assert created is True
    stored = Message.objects.get(pk=message.pk)
    assert stored.text == typed
    assert (stored.room_id, stored.sender_id) == (r.pk, alice.pk)
    r.refresh_from_db()
    assert r.last_message_id == message.pk


def test_message_length_is_counted_after_trimming(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    longest = "x" * MAX_MESSAGE_LENGTH
    assert message_send(sender=alice, room_id=r.pk, text=longest)[0].text == longest
    padded = "  \n" + longest + "\t "
    assert message_send(sender=alice, room_id=r.pk, text=padded)[0].text == padded
    assert message_send(sender=alice, room_id=r.pk, text="y")[0].text == "y"
    with pytest.raises(TooLong):
        message_send(sender=alice, room_id=r.pk, text="x" * (MAX_MESSAGE_LENGTH + 1))
    assert Message.objects.count() == 3


@pytest.mark.parametrize("text", ["", " ", "\n\t \r\n", None, 5, ["hi"], {"t": "hi"}, "a\x00b", "hi \ud800", "\udfff"])
def test_empty_or_non_text_messages_are_invalid(people, room, text, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    with published() as events, pytest.raises(Invalid):
        message_send(sender=alice, room_id=r.pk, text=text)
    assert events == []
    assert not Message.objects.exists()


def test_sending_to_a_room_one_is_not_in(people, room, make_user):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    with pytest.raises(NotParticipant):
        message_send(sender=make_user("Eve"), room_id=r.pk, text="hi")
    with pytest.raises(NotFound):
        message_send(sender=alice, room_id=r.pk + 1000, text="hi")
    assert not Message.objects.exists()


def test_the_same_client_id_stores_once(people, room, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    with published() as events:
        first, created = message_send(sender=alice, room_id=r.pk, text="hello", client_id="c-1")
    assert created is True
    assert len(events) == 1
    with published() as events:
        again, created_again = message_send(sender=alice, room_id=r.pk, text="hello", client_id="c-1")
    assert (again.pk, created_again) == (first.pk, False)
    assert again.text == "hello"
    assert events == []
    assert Message.objects.count() == 1


def test_a_client_id_is_unique_per_sender_only(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    mine, _ = message_send(sender=alice, room_id=r.pk, text="from alice", client_id="same")
    theirs, created = message_send(sender=bob, room_id=r.pk, text="from bob", client_id="same")
    assert created is True
    assert theirs.pk != mine.pk
    assert Message.objects.count() == 2


@pytest.mark.parametrize("client_id", ["", "x" * 65, 5, ["c"], "a\x00b", "a\ud800b"])
def test_a_bad_client_id_is_invalid(people, room, client_id):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    with pytest.raises(Invalid):
        message_send(sender=alice, room_id=r.pk, text="hi", client_id=client_id)
    assert not Message.objects.exists()


def test_the_longest_client_id_is_fine(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    assert message_send(sender=alice, room_id=r.pk, text="hi", client_id="x" * 64)[1] is True


@pytest.mark.django_db(transaction=True)
def test_the_same_client_id_sent_twice_at_once_stores_once(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    results = run_together(
        lambda: message_send(sender=alice, room_id=r.pk, text="hi", client_id="dup"),
        lambda: message_send(sender=alice, room_id=r.pk, text="hi", client_id="dup"),
    )
    assert not [x for x in results if isinstance(x, BaseException)], results
    assert results[0][0].pk == results[1][0].pk
    assert sorted(created for _, created in results) == [False, True]
    assert Message.objects.count() == 1


def test_send_publishes_the_message_and_everyones_unread_count(people, room, published):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    earlier, _ = message_send(sender=bob, room_id=r.pk, text="earlier")
    with published() as events:
        message, _ = message_send(sender=alice, room_id=r.pk, text="hello")
    payload = {
        "id": str(message.pk),
        "chatroomId": str(r.pk),
        "message": "hello",
        "senderId": str(alice.pk),
        "senderName": "Alice",
        "senderImage": "",
        "timestamp": int(message.created_at.timestamp() * 1000),
        "editedAt": None,
        "replyTo": None,
        "reactions": [],
        "attachments": [],
    }
    # One event to the room's members: the joined sockets' message, everyone's lastMessage.
    assert events == [
        (
            f"members.{r.pk}",
            {
                "type": "chat.message",
                "message": payload,
                # It names the message before it, so a socket can tell when one went missing.
                "previous_id": earlier.pk,
                # Alice read everything by sending; Bob's own message is not unread to him.
                "unread": {str(alice.pk): 0, str(bob.pk): 1, str(carol.pk): 2},
            },
        ),
    ]


@pytest.mark.django_db(transaction=True)
def test_no_message_event_when_the_transaction_rolls_back(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    with capture_events() as events:
        with pytest.raises(RuntimeError), transaction.atomic():
            message_send(sender=alice, room_id=r.pk, text="never")
            raise RuntimeError("the caller failed after the service")
    assert events == []
    assert not Message.objects.exists()
    r.refresh_from_db()
    assert r.last_message_id is None


def test_the_sender_has_read_what_they_sent(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    message, _ = message_send(sender=alice, room_id=r.pk, text="hi")
    assert last_read(alice, r) == message.pk
    assert last_read(bob, r) == 0


def test_someone_with_the_room_open_reads_as_messages_arrive(people, room, fresh_live_state):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    async_to_sync(fresh_live_state.join_room)(r.pk, bob.pk, "bob-tab")
    message, _ = message_send(sender=alice, room_id=r.pk, text="hi")
    assert last_read(bob, r) == message.pk
    assert last_read(carol, r) == 0
    assert unread_counts(room_id=r.pk) == {alice.pk: 0, bob.pk: 0, carol.pk: 1}


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_leave_the_newest_as_the_last_message(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol", all_friends=True)
    r = room(alice, bob, carol)
    senders = [alice, bob, carol] * 3
    results = run_together(
        *[(lambda s=s, i=i: message_send(sender=s, room_id=r.pk, text=f"m{i}")) for i, s in enumerate(senders)]
    )
    assert not [x for x in results if isinstance(x, BaseException)], results
    newest = Message.objects.filter(room=r).order_by("-id").first()
    r.refresh_from_db()
    assert Message.objects.filter(room=r).count() == len(senders)
    assert r.last_message_id == newest.pk
    assert r.last_activity_at == newest.created_at


# --- read positions and unread counts --------------------------------------------------


def test_read_position_moves_only_forward(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m1, _ = message_send(sender=alice, room_id=r.pk, text="one")
    m2, _ = message_send(sender=alice, room_id=r.pk, text="two")
    m3, _ = message_send(sender=alice, room_id=r.pk, text="three")
    assert unread_counts(room_id=r.pk)[bob.pk] == 3
    read_mark(user=bob, room_id=r.pk, message_id=m2.pk)
    assert last_read(bob, r) == m2.pk
    assert unread_counts(room_id=r.pk)[bob.pk] == 1
    read_mark(user=bob, room_id=r.pk, message_id=str(m1.pk))
    assert last_read(bob, r) == m2.pk
    read_mark(user=bob, room_id=r.pk, message_id=m3.pk + 1000)
    assert last_read(bob, r) == m3.pk  # never past the newest message
    assert unread_counts(room_id=r.pk)[bob.pk] == 0


def test_read_without_an_id_reads_everything(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    message_send(sender=alice, room_id=r.pk, text="one")
    m2, _ = message_send(sender=alice, room_id=r.pk, text="two")
    assert read_mark(user=bob, room_id=r.pk) == m2.pk
    assert unread_counts(room_id=r.pk)[bob.pk] == 0


@pytest.mark.parametrize("message_id", ["abc", True, 1.5, [1], {"id": 1}])
def test_read_with_a_bad_id_is_invalid(people, room, message_id):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    message_send(sender=alice, room_id=r.pk, text="one")
    with pytest.raises(Invalid):
        read_mark(user=bob, room_id=r.pk, message_id=message_id)
    assert last_read(bob, r) == 0


def test_read_in_a_room_one_is_not_in(people, room, make_user):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    with pytest.raises(NotParticipant):
        read_mark(user=make_user("Eve"), room_id=r.pk)
    with pytest.raises(NotFound):
        read_mark(user=alice, room_id=r.pk + 1000)


def test_unread_counts_only_what_others_sent_after_the_read_position(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol", all_friends=True)
    r = room(alice, bob, carol)
    message_send(sender=alice, room_id=r.pk, text="a1")
    m2, _ = message_send(sender=bob, room_id=r.pk, text="b1")
    message_send(sender=carol, room_id=r.pk, text="c1")
    message_send(sender=alice, room_id=r.pk, text="a2")
    # alice: read up to her own a2; bob: read up to b1 (his own), then c1 and a2 by others
    assert unread_counts(room_id=r.pk) == {alice.pk: 0, bob.pk: 2, carol.pk: 1}
    read_mark(user=carol, room_id=r.pk, message_id=m2.pk)  # behind her position: no change
    assert unread_counts(room_id=r.pk)[carol.pk] == 1


# --- moderation: deleting a message ----------------------------------------------------


def test_deleting_the_last_message_falls_back_to_the_one_before(people, room, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m1, _ = message_send(sender=alice, room_id=r.pk, text="one")
    m2, _ = message_send(sender=bob, room_id=r.pk, text="two")
    m2_id = m2.pk
    with published() as events:
        message_delete(message=m2)
    assert not Message.objects.filter(pk=m2_id).exists()
    r.refresh_from_db()
    assert r.last_message_id == m1.pk
    assert events == [
        (
            f"members.{r.pk}",
            {
                "type": "chat.message_deleted",
                "room_id": r.pk,
                "message_id": m2_id,
                "last_message": message_payload(Message.objects.get(pk=m1.pk)),
            },
        ),
    ]


def test_deleting_an_older_message_keeps_the_last_one(people, room, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m1, _ = message_send(sender=alice, room_id=r.pk, text="one")
    m2, _ = message_send(sender=bob, room_id=r.pk, text="two")
    m1_id = m1.pk
    with published() as events:
        message_delete(message=m1)
    r.refresh_from_db()
    assert r.last_message_id == m2.pk
    assert [e["message_id"] for _, e in events] == [m1_id]


def test_deleting_the_only_message_leaves_no_last_message(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m1, _ = message_send(sender=alice, room_id=r.pk, text="one")
    message_delete(message=m1)
    r.refresh_from_db()
    assert r.last_message_id is None
    assert unread_counts(room_id=r.pk) == {alice.pk: 0, bob.pk: 0}


def test_a_deleted_message_is_no_longer_unread(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    message_send(sender=alice, room_id=r.pk, text="one")
    m2, _ = message_send(sender=alice, room_id=r.pk, text="two")
    message_delete(message=m2)
    assert unread_counts(room_id=r.pk)[bob.pk] == 1
