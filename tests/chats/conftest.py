from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chatty.realtime import capture_events


@pytest.fixture
def published(django_capture_on_commit_callbacks) -> Callable[[], Any]:
    """A block that records what is published once its transaction commits (tests run in one)."""

    @contextlib.contextmanager
    def capture() -> Iterator[list[tuple[str, dict[str, Any]]]]:
        with capture_events() as events, django_capture_on_commit_callbacks(execute=True):
            yield events

    return capture


@pytest.fixture
def people(make_user, befriend) -> Callable[..., list[Any]]:
    """`people("Alice", "Bob", "Carol")`: users who are all friends of the first one."""

    def make(*names: str, all_friends: bool = False) -> list[Any]:
        users = [make_user(name) for name in names]
        for i, user in enumerate(users[1:], start=1):
            befriend(users[0], user)
            if all_friends:
                for other in users[1:i]:
                    befriend(user, other)
        return users

    return make


@pytest.fixture
def room(people) -> Callable[..., Any]:
    """`room(alice, bob, ...)`: a room the first user created with the others (friends already)."""
    from chats.services import room_create

    def make(creator: Any, *others: Any) -> Any:
        created, _ = room_create(creator=creator, friend_ids=[o.pk for o in others])
        return created

    return make
