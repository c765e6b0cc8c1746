"""Friendship services: rows in both directions and the events they publish after commit."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from chatty.errors import Conflict, Invalid, NotFound
from chatty.realtime import capture_events
from friends.models import Friendship
from friends.selectors import are_friends, friend_ids, friends_of
from friends.services import friendship_create, friendship_delete

pytestmark = pytest.mark.django_db


def pairs() -> set[tuple[int, int]]:
    return set(Friendship.objects.values_list("user_id", "friend_id"))


def test_create_by_tag_makes_both_directions(make_user, published):
    alice, bob = make_user("Alice"), make_user("Bob")
    with published() as events:
        friend = friendship_create(user=alice, friend_tag=bob.user_tag)
    assert friend == bob
    assert pairs() == {(alice.pk, bob.pk), (bob.pk, alice.pk)}
    assert are_friends(user_id=alice.pk, other_id=bob.pk)
    assert are_friends(user_id=bob.pk, other_id=alice.pk)
    assert friends_of(user=alice) == [bob]
    assert friends_of(user=bob) == [alice]
    assert events == [
        (
            f"user.{bob.pk}",
            {
                "type": "friend.added",
                "friend": {
                    "userId": str(alice.pk),
                    "name": "Alice",
                    "image": "",
                    "userTag": alice.user_tag,
                    "status": "offline",
                },
            },
        )
    ]


@pytest.mark.parametrize("transform", [str.upper, str.title, lambda t: f"  {t}  "])
def test_tag_is_matched_regardless_of_case_and_spaces(make_user, transform):
    alice, bob = make_user("Alice"), make_user("Bob")
    assert friendship_create(user=alice, friend_tag=transform(bob.user_tag)) == bob
    assert are_friends(user_id=alice.pk, other_id=bob.pk)


@pytest.mark.parametrize("tag", ["nobody#00000", "", "   ", "bob", "%", "_", "\x00", "\ud800", "b\udfffob"])
def test_unknown_tag_is_not_found(make_user, tag):
    alice = make_user("Alice")
    make_user("Bob")
    with pytest.raises((NotFound, Invalid)):
        friendship_create(user=alice, friend_tag=tag)
    assert pairs() == set()


def test_a_deactivated_users_tag_is_not_found(make_user):
    from accounts.services import user_deactivate

    alice, bob = make_user("Alice"), make_user("Bob")
    user_deactivate(user=bob)
    with pytest.raises(NotFound):
        friendship_create(user=alice, friend_tag=bob.user_tag)


def test_own_tag_is_invalid(make_user):
    alice = make_user("Alice")
    with pytest.raises(Invalid):
        friendship_create(user=alice, friend_tag=alice.user_tag.upper())
    assert pairs() == set()


def test_already_friends_is_a_conflict_and_publishes_nothing(make_user, published):
    alice, bob = make_user("Alice"), make_user("Bob")
    friendship_create(user=alice, friend_tag=bob.user_tag)
    with published() as events:
        with pytest.raises(Conflict):
            friendship_create(user=alice, friend_tag=bob.user_tag)
        with pytest.raises(Conflict):
            # the other side adding back is the same friendship
            friendship_create(user=bob, friend_tag=alice.user_tag)
    assert events == []
    assert len(pairs()) == 2


def test_delete_removes_both_directions(make_user, published):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    friendship_create(user=alice, friend_tag=bob.user_tag)
    friendship_create(user=alice, friend_tag=carol.user_tag)
    with published() as events:
        friendship_delete(user=bob, friend_id=alice.pk)
    assert pairs() == {(alice.pk, carol.pk), (carol.pk, alice.pk)}
    assert friend_ids(user_id=alice.pk) == [carol.pk]
    assert events == [(f"user.{alice.pk}", {"type": "friend.removed", "user_id": bob.pk})]


def test_delete_of_someone_not_a_friend_is_not_found(make_user, published):
    alice, bob = make_user("Alice"), make_user("Bob")
    with published() as events:
        with pytest.raises(NotFound):
            friendship_delete(user=alice, friend_id=bob.pk)
        with pytest.raises(NotFound):
            friendship_delete(user=alice, friend_id=10**12)
        with pytest.raises(NotFound):
            friendship_delete(user=alice, friend_id=alice.pk)
    assert events == []


def test_friends_again_after_a_delete(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    friendship_create(user=alice, friend_tag=bob.user_tag)
    friendship_delete(user=alice, friend_id=bob.pk)
    friendship_create(user=bob, friend_tag=alice.user_tag)
    assert len(pairs()) == 2


@pytest.mark.django_db(transaction=True)
def test_nothing_is_published_when_the_transaction_rolls_back(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    with capture_events() as events:
        with pytest.raises(RuntimeError), transaction.atomic():
            friendship_create(user=alice, friend_tag=bob.user_tag)
            raise RuntimeError("the caller failed after the service")
        assert pairs() == set()
        friendship_create(user=alice, friend_tag=bob.user_tag)
        with pytest.raises(RuntimeError), transaction.atomic():
            friendship_delete(user=alice, friend_id=bob.pk)
            raise RuntimeError("the caller failed after the service")
    assert len(pairs()) == 2
    assert [e["type"] for _, e in events] == ["friend.added"]


@pytest.mark.django_db(transaction=True)
def test_events_go_out_after_commit_not_before(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    with capture_events() as events:
        with transaction.atomic():
            friendship_create(user=alice, friend_tag=bob.user_tag)
            assert events == []
        assert [g for g, _ in events] == [f"user.{bob.pk}"]


@pytest.mark.django_db(transaction=True)
def test_two_people_adding_each_other_at_once_become_friends_once(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def add(user, other) -> None:
        try:
            barrier.wait(timeout=10)
            friendship_create(user=user, friend_tag=other.user_tag)
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")
        except BaseException as exc:
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(alice, bob)), threading.Thread(target=add, args=(bob, alice))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "created"]
    assert pairs() == {(alice.pk, bob.pk), (bob.pk, alice.pk)}


@pytest.mark.django_db(transaction=True)
def test_two_people_deleting_each_other_at_once_end_the_friendship_once(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    friendship_create(user=alice, friend_tag=bob.user_tag)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def delete(user, other) -> None:
        try:
            barrier.wait(timeout=10)
            friendship_delete(user=user, friend_id=other.pk)
            outcomes.append("deleted")
        except NotFound:
            outcomes.append("not_found")
        except BaseException as exc:
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=delete, args=(alice, bob)), threading.Thread(target=delete, args=(bob, alice))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["deleted", "not_found"]
    assert pairs() == set()
