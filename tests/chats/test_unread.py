"""The kept unread counter (`Participant.unread_count`) against its definition (SPEC §2):
messages after the participant's read position that others sent."""

from __future__ import annotations

import importlib
import random
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chats.models import ChatRoom, Message, Participant
from chats.selectors import chat_list, room_summary
from chats.services import message_delete, message_send, read_mark
from tests.chats.test_services import run_together

pytestmark = pytest.mark.django_db


def kept(r: ChatRoom) -> dict[int, int]:
    return dict(Participant.objects.filter(room=r).values_list("user_id", "unread_count"))


def defined(r: ChatRoom) -> dict[int, int]:
    """The count by its definition, from the rows."""
    counts = {}
    for user_id, position in Participant.objects.filter(room=r).values_list("user_id", "last_read_id"):
        after = Message.objects.filter(room=r, id__gt=position).exclude(sender_id=user_id)
        counts[user_id] = after.count()
    return counts


def send(sender: Any, r: ChatRoom, text: str = "hi", viewers: Any = ()) -> Message:
    return message_send(sender=sender, room_id=r.pk, text=text, viewer_ids=list(viewers))[0]


def last_read(user: Any, r: ChatRoom) -> int:
    return Participant.objects.get(room=r, user=user).last_read_id


@pytest.fixture
def trio(people, room) -> tuple[Any, Any, Any, ChatRoom]:
    alice, bob, carol = people("Alice", "Bob", "Carol")
    return alice, bob, carol, room(alice, bob, carol)


# --- sends ------------------------------------------------------------------------------


def test_a_new_room_has_nothing_unread(trio):
    alice, bob, carol, r = trio
    assert kept(r) == {alice.pk: 0, bob.pk: 0, carol.pk: 0}


def test_each_message_of_another_counts_once(trio):
    alice, bob, carol, r = trio
    send(alice, r)
    send(alice, r)
    send(bob, r)
    assert kept(r) == {alice.pk: 1, bob.pk: 0, carol.pk: 3} == defined(r)


def test_ones_own_messages_never_count_and_sending_reads_the_room(trio):
    alice, bob, carol, r = trio
    send(bob, r)
    send(bob, r)
    assert kept(r)[alice.pk] == 2
    message = send(alice, r)
    assert kept(r) == {alice.pk: 0, bob.pk: 1, carol.pk: 3} == defined(r)
    assert last_read(alice, r) == message.pk


def test_someone_with_the_room_open_reads_as_messages_arrive(trio):
    alice, bob, carol, r = trio
    send(alice, r)
    message = send(alice, r, viewers=[bob.pk])
    assert kept(r) == {alice.pk: 0, bob.pk: 0, carol.pk: 2} == defined(r)
    assert last_read(bob, r) == message.pk


def test_a_viewer_who_is_not_a_member_changes_nothing(trio, make_user):
    alice, bob, carol, r = trio
    outsider = make_user("Mallory")
    send(alice, r, viewers=[outsider.pk])
    assert kept(r) == {alice.pk: 0, bob.pk: 1, carol.pk: 1} == defined(r)
    assert not Participant.objects.filter(user=outsider).exists()


def test_the_published_counts_are_the_kept_ones(trio, published):
    alice, bob, carol, r = trio
    send(bob, r)
    with published() as events:
        send(alice, r, viewers=[carol.pk])
    (last,) = [event for _, event in events if event["type"] == "chat.message"]
    assert last["unread"] == {str(alice.pk): 0, str(bob.pk): 1, str(carol.pk): 0}
    assert {int(k): v for k, v in last["unread"].items()} == kept(r) == defined(r)


def test_a_repeated_client_id_counts_once(trio):
    alice, bob, carol, r = trio
    message_send(sender=alice, room_id=r.pk, text="once", client_id="c-1", viewer_ids=[])
    message_send(sender=alice, room_id=r.pk, text="once", client_id="c-1", viewer_ids=[])
    assert kept(r) == {alice.pk: 0, bob.pk: 1, carol.pk: 1} == defined(r)


def test_a_send_does_not_count_the_rooms_history(trio):
    """One UPDATE .. RETURNING for the participants, and no COUNT, however much is unread."""
    alice, bob, carol, r = trio
    send(alice, r)
    with CaptureQueriesContext(connection) as few:
        send(alice, r)
    for _ in range(30):
        send(alice, r)
    with CaptureQueriesContext(connection) as many:
        send(alice, r)
    assert len(many.captured_queries) == len(few.captured_queries)
    statements = [q["sql"] for q in many.captured_queries]
    assert not any("COUNT(" in sql.upper() for sql in statements)
    writes = [sql for sql in statements if sql.upper().startswith(f'UPDATE "{Participant._meta.db_table}"'.upper())]
    assert len(writes) == 1
    assert "RETURNING" in writes[0].upper()
    assert kept(r) == {alice.pk: 0, bob.pk: 33, carol.pk: 33} == defined(r)


# --- read marks -------------------------------------------------------------------------


def test_marking_an_older_message_read_leaves_exactly_what_others_sent_after_it(trio):
    alice, bob, carol, r = trio
    m1 = send(alice, r)
    m2 = send(bob, r)
    send(alice, r)
    send(bob, r)
    assert kept(r)[carol.pk] == 4
    read_mark(user=carol, room_id=r.pk, message_id=m2.pk)
    assert kept(r)[carol.pk] == 2 == defined(r)[carol.pk]
    read_mark(user=carol, room_id=r.pk, message_id=m1.pk)  # backwards: nothing moves
    assert kept(r)[carol.pk] == 2


def test_marking_the_newest_read_leaves_nothing_unread(trio):
    alice, bob, carol, r = trio
    send(alice, r)
    newest = send(bob, r)
    read_mark(user=carol, room_id=r.pk, message_id=newest.pk)
    assert kept(r)[carol.pk] == 0
    send(alice, r)
    read_mark(user=carol, room_id=r.pk)  # no id: the newest
    assert kept(r) == defined(r)
    assert kept(r)[carol.pk] == 0


def test_marking_backwards_changes_nothing(trio):
    alice, bob, _carol, r = trio
    m1 = send(alice, r)
    m2 = send(alice, r)
    send(alice, r)
    read_mark(user=bob, room_id=r.pk, message_id=m2.pk)
    read_mark(user=bob, room_id=r.pk, message_id=m1.pk)
    assert last_read(bob, r) == m2.pk
    assert kept(r)[bob.pk] == 1 == defined(r)[bob.pk]


def test_a_mark_past_the_newest_stops_at_the_newest(trio):
    alice, bob, _carol, r = trio
    newest = send(alice, r)
    read_mark(user=bob, room_id=r.pk, message_id=newest.pk + 1000)
    assert last_read(bob, r) == newest.pk
    assert kept(r)[bob.pk] == 0


# --- moderation -------------------------------------------------------------------------


def test_deleting_an_unread_message_takes_it_off_the_count(trio):
    alice, bob, carol, r = trio
    m1 = send(alice, r)
    m2 = send(alice, r)
    read_mark(user=bob, room_id=r.pk, message_id=m1.pk)
    message_delete(message=Message.objects.get(pk=m2.pk))
    # Bob had read m1 but not m2; Carol had read neither; Alice sent it.
    assert kept(r) == {alice.pk: 0, bob.pk: 0, carol.pk: 1} == defined(r)


def test_deleting_a_read_message_changes_no_count(trio):
    alice, bob, carol, r = trio
    m1 = send(alice, r)
    send(alice, r)
    read_mark(user=bob, room_id=r.pk, message_id=m1.pk)
    message_delete(message=Message.objects.get(pk=m1.pk))
    assert kept(r) == {alice.pk: 0, bob.pk: 1, carol.pk: 1} == defined(r)


def test_deleting_ones_own_unread_looking_message_changes_nothing_for_the_sender(trio):
    alice, bob, carol, r = trio
    m1 = send(bob, r)
    send(alice, r)  # Bob has not read it; his own m1 lies before it and after nothing
    assert kept(r)[bob.pk] == 1
    read_mark(user=carol, room_id=r.pk)
    message_delete(message=Message.objects.get(pk=m1.pk))
    assert kept(r) == {alice.pk: 0, bob.pk: 1, carol.pk: 0} == defined(r)


def test_deleting_a_message_twice_counts_it_once(trio):
    alice, bob, carol, r = trio
    send(alice, r)
    m2 = send(alice, r)
    first, second = Message.objects.get(pk=m2.pk), Message.objects.get(pk=m2.pk)
    message_delete(message=first)
    message_delete(message=second)  # two moderators, one message
    assert kept(r) == {alice.pk: 0, bob.pk: 1, carol.pk: 1} == defined(r)


# --- readers ----------------------------------------------------------------------------


def test_the_chat_list_and_the_summary_show_the_kept_count(trio):
    alice, bob, carol, r = trio
    send(alice, r)
    send(bob, r)
    Participant.objects.filter(room=r, user=carol).update(unread_count=7)  # to tell the column apart
    assert chat_list(user=carol)[0]["unreadMessagesCount"] == 7
    assert room_summary(room_id=r.pk, user=carol)["unreadMessagesCount"] == 7
    assert chat_list(user=alice)[0]["unreadMessagesCount"] == 1


def test_the_migration_fills_the_count_of_existing_rows(trio):
    alice, bob, carol, r = trio
    m1 = send(alice, r)
    send(bob, r)
    send(alice, r)
    read_mark(user=carol, room_id=r.pk, message_id=m1.pk)
    expected = defined(r)
    Participant.objects.update(unread_count=0)
    migration = importlib.import_module("chats.migrations.0003_participant_unread_count")
    # What RunPython hands it; SQLite's real schema editor cannot open inside a test's transaction.
    migration.fill_unread_counts(django_apps, SimpleNamespace(connection=connection))
    assert kept(r) == expected == {alice.pk: 0, bob.pk: 1, carol.pk: 2}


# --- everything at once -----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_random_sends_reads_and_deletions_keep_the_count_right(trio, seed):
    alice, bob, carol, r = trio
    users = [alice, bob, carol]
    rng = random.Random(seed)
    for step in range(60):
        action = rng.random()
        user = rng.choice(users)
        if action < 0.55:
            viewers = [u.pk for u in users if u is not user and rng.random() < 0.25]
            send(user, r, text=f"step {step}", viewers=viewers)
        elif action < 0.85:
            ids = list(Message.objects.filter(room=r).values_list("id", flat=True))
            target = rng.choice([*ids, None, 0]) if ids else None
            read_mark(user=user, room_id=r.pk, message_id=target)
        else:
            ids = list(Message.objects.filter(room=r).values_list("id", flat=True))
            if ids:
                message_delete(message=Message.objects.get(pk=rng.choice(ids)))
        assert kept(r) == defined(r), f"seed {seed}, step {step}"


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_reads_and_deletions_keep_the_count_right(trio):
    """Sends, read marks and a deletion released at once, round after round."""
    alice, bob, carol, r = trio
    for round_ in range(8):
        ids = list(Message.objects.filter(room=r).values_list("id", flat=True))
        calls = [
            lambda: send(alice, r, text="a"),
            lambda: send(bob, r, text="b"),
            lambda: read_mark(user=carol, room_id=r.pk),
            lambda: send(alice, r, text="a2", viewers=[carol.pk]),
            lambda: read_mark(user=bob, room_id=r.pk),
            lambda: read_mark(user=carol, room_id=r.pk),
        ]
        if ids:
            victim = ids[len(ids) // 2]
            calls.append(lambda victim=victim: message_delete(message=Message.objects.get(pk=victim)))
        results = run_together(*calls)
        assert not [x for x in results if isinstance(x, BaseException)], results
        assert kept(r) == defined(r), f"round {round_}"


def wait_for_a_lock_wait(timeout: float = 10.0) -> bool:
    """Whether, within `timeout`, some session of the test database waits for a lock
    (asked on a connection of its own: pg_stat_activity is frozen inside a transaction)."""
    import psycopg
    from django.conf import settings

    from tests.multiprocess.servers import postgres_url

    with psycopg.connect(postgres_url(settings.DATABASES["default"]), autocommit=True) as watcher:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            if waiting:
                return True
            time.sleep(0.01)  # a polling interval
    return False


@pytest.mark.needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_read_mark_that_waits_for_a_send_counts_the_sent_message(trio):
    """The send holds its rows while the read mark starts: once the send commits, the mark's
    count must include its message (PostgreSQL rechecks a row it waited for, but a subquery
    in the same UPDATE would count with the snapshot from before the wait)."""
    alice, bob, carol, r = trio
    send(bob, r)
    sent, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with transaction.atomic():
                send(alice, r)
                sent.set()
                # Commit only once the read mark waits for this transaction's row locks.
                if not wait_for_a_lock_wait():
                    errors.append(AssertionError("the read mark never waited for the send's locks"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def reader() -> None:
        try:
            sent.wait(10)
            read_mark(user=carol, room_id=r.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    threads = [threading.Thread(target=sender), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert kept(r) == defined(r) == {alice.pk: 0, bob.pk: 1, carol.pk: 1}
