"""A plain send outside a transaction (the websocket's) is one statement on PostgreSQL
(chats/fastsend.py) and does exactly what the portable path does, on either database:
ids in order with the previous id named, unread counts, readers, the room's newest message,
a repeated clientId, and the refusals (not a participant, a read-only direct room)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats.models import ChatRoom, Message, Participant
from chats.services import message_send, room_create
from chatty.errors import Forbidden, NotFound, NotParticipant
from chatty.realtime import capture_events, members_group
from friends.services import friendship_delete

pytestmark = pytest.mark.django_db(transaction=True)


def counts(room: ChatRoom) -> dict[int, tuple[int, int]]:
    return {p.user_id: (p.unread_count, p.last_read_id) for p in Participant.objects.filter(room=room)}


def test_a_send_counts_orders_and_names_the_previous_message(people):
    ana, ben, cy = people("Ana", "Ben", "Cy")
    room, _ = room_create(creator=ana, friend_ids=[ben.pk, cy.pk])
    with capture_events() as events, CaptureQueriesContext(connection) as queries:
        first, created = message_send(sender=ana, room_id=room.pk, text="one", client_id="c-1", viewer_ids={cy.pk})
    assert created
    if connection.vendor == "postgresql":
        assert len(queries) == 1, [q["sql"][:80] for q in queries]
    second, _ = message_send(sender=ben, room_id=room.pk, text="two", viewer_ids=set())
    assert second.pk > first.pk
    assert list(Message.objects.filter(room=room).order_by("id").values_list("text", "sender_id", "client_id")) == [
        ("one", ana.pk, "c-1"),
        ("two", ben.pk, None),
    ]
    room.refresh_from_db()
    assert room.last_message_id == second.pk
    # Each has read their own; Cy had the room open for the first, not for the second.
    assert counts(room) == {ana.pk: (1, first.pk), ben.pk: (0, second.pk), cy.pk: (1, first.pk)}
    kinds = [(group, e["type"]) for group, e in events]
    assert kinds == [(members_group(room.pk), "chat.message")]
    assert events[0][1]["previous_id"] == 0
    assert events[0][1]["message"]["message"] == "one"
    assert events[0][1]["unread"] == {str(ana.pk): 0, str(ben.pk): 1, str(cy.pk): 0}
    with capture_events() as later:
        message_send(sender=ana, room_id=room.pk, text="three", viewer_ids=set())
    assert later[0][1]["previous_id"] == second.pk


def test_the_same_client_id_again_stores_nothing_and_returns_the_first(people):
    ana, ben = people("Ana", "Ben")
    room, _ = room_create(creator=ana, friend_ids=[ben.pk])
    first, _ = message_send(sender=ana, room_id=room.pk, text="once", client_id="same", viewer_ids=set())
    with capture_events() as events:
        again, created = message_send(sender=ana, room_id=room.pk, text="once", client_id="same", viewer_ids=set())
    assert (again.pk, created, events) == (first.pk, False, [])
    assert Message.objects.filter(room=room).count() == 1
    assert counts(room)[ben.pk][0] == 1


def test_refusals_are_the_portable_paths(people, make_user):
    ana, ben = people("Ana", "Ben")
    stranger = make_user("Stranger")
    room, _ = room_create(creator=ana, friend_ids=[ben.pk])
    with pytest.raises((NotParticipant, NotFound)):
        message_send(sender=stranger, room_id=room.pk, text="let me in", viewer_ids=set())
    with pytest.raises(NotFound):
        message_send(sender=ana, room_id=room.pk + 1000, text="nowhere", viewer_ids=set())
    friendship_delete(user=ben, friend_id=ana.pk)
    with pytest.raises(Forbidden):
        message_send(sender=ana, room_id=room.pk, text="still friends?", viewer_ids=set())
    assert not Message.objects.filter(room=room).exists()
    assert counts(room)[ben.pk] == (0, 0)


@pytest.mark.needs_postgres
def test_a_member_added_while_the_send_waits_for_the_room_is_counted(people, make_user):
    """The send's counting statement sees who joined while it waited for the room's lock (a
    single statement would count from the snapshot it took before waiting)."""
    import threading
    import time

    from django.db import connections, transaction

    if connection.vendor != "postgresql":
        pytest.fail("this test is for PostgreSQL (the second test pass)")
    ana, ben, cy = people("Ana", "Ben", "Cy")
    newcomer = make_user("Newcomer")
    room, _ = room_create(creator=ana, friend_ids=[ben.pk, cy.pk])
    holding, release = threading.Event(), threading.Event()
    result: dict = {}

    def add_and_wait() -> None:
        with transaction.atomic():
            ChatRoom.objects.select_for_update().get(pk=room.pk)  # as room_add_members locks it
            Participant.objects.create(room=room, user=newcomer)
            holding.set()
            release.wait(30)
        connections.close_all()

    def send() -> None:
        try:
            with capture_events() as events:
                result["message"], _ = message_send(sender=ana, room_id=room.pk, text="hello all", viewer_ids=set())
            result["events"] = events
        except Exception as exc:  # shown by the assertions below
            result["error"] = exc
        finally:
            connections.close_all()

    adder = threading.Thread(target=add_and_wait)
    adder.start()
    assert holding.wait(30)
    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 30
    while not _someone_waits_for_a_lock():  # the send is queued behind the adder's lock
        assert time.monotonic() < deadline, "the send never waited for the room"
    release.set()
    adder.join(30)
    sender.join(30)
    assert "error" not in result, result
    assert counts(room)[newcomer.pk][0] == 1
    assert result["events"][0][1]["unread"][str(newcomer.pk)] == 1


def _someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


# --- group commit: several plain sends in one transaction (chats/sendbatch.py) ----------------


def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test is for PostgreSQL (the second test pass)")


@pytest.mark.needs_postgres
def test_a_batch_stores_each_send_as_alone_in_one_round_trip(people, make_user):
    from chats.fastsend import Plain
    from chats.services import messages_send_plain

    _postgres_only()
    ana, ben, cy = people("Ana", "Ben", "Cy")
    stranger = make_user("Stranger")
    one, _ = room_create(creator=ana, friend_ids=[ben.pk])
    two, _ = room_create(creator=ana, friend_ids=[ben.pk, cy.pk])
    # Interleaved rooms, the later room first: each room keeps its own order.
    items = [
        Plain(two.pk, ana, "two-a", "b-1", frozenset({ana.pk})),
        Plain(one.pk, ben, "one-a", None, frozenset({ben.pk, ana.pk})),
        Plain(one.pk, stranger, "let me in", None, frozenset({stranger.pk})),
        Plain(two.pk, cy, "two-b", None, frozenset({cy.pk})),
        Plain(one.pk, ana, "one-b", None, frozenset({ana.pk})),
    ]
    with capture_events() as events, CaptureQueriesContext(connection) as queries:
        results = messages_send_plain(items=items)
    assert len(queries) == 1
    assert results[2] is None  # refused here: message_send says why
    stored = [r[0] for r in results if r is not None]
    assert [m.text for m in stored] == ["two-a", "one-a", "two-b", "one-b"]
    for room, texts in ((one, ["one-a", "one-b"]), (two, ["two-a", "two-b"])):
        assert list(Message.objects.filter(room=room).order_by("id").values_list("text", flat=True)) == texts
    # Each event names the message before it in its room, as single sends do.
    previous = {e["message"]["message"]: e["previous_id"] for _, e in events}
    by_text = {m.text: m.pk for m in stored}
    assert previous == {"one-a": 0, "one-b": by_text["one-a"], "two-a": 0, "two-b": by_text["two-a"]}
    # Ana read "one-a" as it arrived (she had the room open): nothing unread there for her.
    assert counts(one) == {ana.pk: (0, by_text["one-b"]), ben.pk: (1, by_text["one-a"])}
    assert counts(two) == {ana.pk: (1, by_text["two-a"]), ben.pk: (2, 0), cy.pk: (0, by_text["two-b"])}
    assert Message.objects.get(pk=by_text["two-a"]).client_id == "b-1"


@pytest.mark.needs_postgres
def test_a_repeated_client_id_stores_none_of_its_batch(people):
    from django.db import IntegrityError

    from chats.fastsend import Plain, send_many

    _postgres_only()
    ana, ben = people("Ana", "Ben")
    room, _ = room_create(creator=ana, friend_ids=[ben.pk])
    message_send(sender=ana, room_id=room.pk, text="once", client_id="same", viewer_ids=set())
    items = [
        Plain(room.pk, ben, "fine", None, frozenset({ben.pk})),
        Plain(room.pk, ana, "once", "same", frozenset({ana.pk})),
    ]
    with pytest.raises(IntegrityError):
        send_many(items)
    assert list(Message.objects.filter(room=room).values_list("text", flat=True)) == ["once"]
    # The connection is usable again, and a batch without the repeat goes through.
    assert send_many(items[:1])[0] is not None


@pytest.mark.needs_postgres
async def test_sends_that_queue_behind_a_batch_in_flight_go_in_the_next_one(people, settings):
    """With one batch in flight at a time, five sends arriving together make two batches: the
    first alone (nothing waits for it), then the four that queued meanwhile; a batch that
    fails is answered send by send (None: the caller's message_send then handles it)."""
    import asyncio

    from channels.db import database_sync_to_async

    from chats.fastsend import Plain
    from chats.sendbatch import Batcher

    settings.CHATTY_SEND_BATCHES = 1
    ana, ben = await database_sync_to_async(people)("Ana", "Ben")
    room, _ = await database_sync_to_async(room_create)(creator=ana, friend_ids=[ben.pk])
    if await database_sync_to_async(lambda: connection.vendor)() != "postgresql":
        pytest.fail("this test is for PostgreSQL (the second test pass)")
    batcher = Batcher()
    items = [Plain(room.pk, ana if i % 2 else ben, f"m{i}", f"q-{i}", frozenset()) for i in range(5)]
    results = await asyncio.gather(*(batcher.send(item) for item in items))
    assert batcher.batches == 2
    assert [r[0].text for r in results] == [f"m{i}" for i in range(5)]
    stored = await database_sync_to_async(lambda: list(Message.objects.order_by("id").values_list("text", flat=True)))()
    assert stored == [f"m{i}" for i in range(5)]
    # The same clientIds again: the batch fails as a whole and every send gets None.
    again = await asyncio.gather(*(batcher.send(item) for item in items[:2]))
    assert again == [None, None]
