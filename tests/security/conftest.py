"""Fixtures for the hostile-input tests: a small world of people with rooms and secrets."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from edge import consumer as consumers


@pytest.fixture
def world(make_user, befriend, token_for) -> SimpleNamespace:
    """Alice and Bob (friends, a direct room and a group with Grace, secret messages in both);
    Carol and Dave (friends, their own room); Eve (a stranger); Frank (Alice's ex-friend);
    Mallory (was in the group, deactivated; her session and token were taken before)."""
    from chats.services import message_send, room_create
    from friends.services import friendship_delete

    from .wsutil import session_cookie

    w = SimpleNamespace()
    w.alice = make_user("Alice")
    w.bob = make_user("Bob")
    w.grace = make_user("Grace")
    w.carol = make_user("Carol")
    w.dave = make_user("Dave")
    w.eve = make_user("Eve")
    w.frank = make_user("Frank")
    w.mallory = make_user("Mallory")
    for a, b in [
        (w.alice, w.bob),
        (w.alice, w.grace),
        (w.alice, w.frank),
        (w.alice, w.mallory),
        (w.carol, w.dave),
        (w.bob, w.grace),
    ]:
        befriend(a, b)
    w.ab, _ = room_create(creator=w.alice, friend_ids=[w.bob.pk])
    w.group, _ = room_create(creator=w.alice, friend_ids=[w.bob.pk, w.grace.pk, w.mallory.pk])
    w.cd, _ = room_create(creator=w.carol, friend_ids=[w.dave.pk])
    w.secrets = []
    for room in (w.ab, w.group):
        for i in range(3):
            text = f"secret-{room.pk}-{i}-do-not-leak"
            message_send(sender=w.alice if i % 2 == 0 else w.bob, room_id=room.pk, text=text)
            w.secrets.append(text)
    w.first_message_id = w.ab.messages.order_by("pk").values_list("pk", flat=True).first()
    message_send(sender=w.carol, room_id=w.cd.pk, text="carol-dave-private")
    friendship_delete(user=w.alice, friend_id=w.frank.pk)
    w.mallory_token = token_for(w.mallory)
    w.mallory_cookie = session_cookie(w.mallory)
    from accounts.services import user_deactivate

    user_deactivate(user=w.mallory)
    from chats.models import ChatRoom

    w.missing_room_id = (ChatRoom.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1_000_000
    return w


@pytest.fixture
def no_rate_limits(monkeypatch) -> None:
    """The fuzzers test parsing, not the flood guard (tested on its own): lift the limits."""
    for kind in list(consumers.RATE_LIMITS):
        monkeypatch.setitem(consumers.RATE_LIMITS, kind, 10**9)
    from chatty import limits

    for kind, limit in list(limits.LIMITS.items()):
        monkeypatch.setitem(limits.LIMITS, kind, limits.Limit(10**9, limit.window))


def texts_of(frames: list[dict[str, Any]]) -> str:
    import json

    return json.dumps(frames, ensure_ascii=False)
