"""chatty/rows.py: instances from plain SQL are the ORM's instances, value for value."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.selectors import active_user
from chats.models import ChatRoom, Participant
from chats.selectors import room_and_position
from chatty import rows
from chatty.errors import NotFound, NotParticipant

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_a_user_loads_with_the_orm_s_types_and_its_own_from_db(make_user):
    alice = make_user("Alice", last_login=timezone.now(), is_staff=True)
    loaded = active_user(user_id=alice.pk)
    assert _fields(loaded) == _fields(User.objects.get(pk=alice.pk))
    assert loaded.is_staff is True and loaded.is_superuser is False  # booleans, not SQLite's 1 and 0
    assert loaded.last_login.tzinfo is not None  # an aware datetime, not SQLite's text
    assert loaded._loaded == {"password": alice.password, "is_active": True}  # User.from_db ran
    assert not loaded._state.adding
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert active_user(user_id=alice.pk) is None
    assert active_user(user_id=alice.pk + 1000) is None


def test_a_room_loads_with_its_members_read_position(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob)
    Participant.objects.filter(room=r, user=bob).update(last_read_id=42)
    loaded, position = room_and_position(user_id=bob.pk, room_id=str(r.pk))
    assert _fields(loaded) == _fields(ChatRoom.objects.get(pk=r.pk)) and position == 42
    with pytest.raises(NotParticipant):
        room_and_position(user_id=carol.pk, room_id=r.pk)
    with pytest.raises(NotFound):
        room_and_position(user_id=bob.pk, room_id=r.pk + 1000)
    with pytest.raises(NotFound):
        room_and_position(user_id=bob.pk, room_id="no")


def test_extra_columns_come_back_beside_each_instance(make_user):
    a, b = make_user("A"), make_user("B")
    found = rows.load(User, where="t.id IN (%s, %s)", params=[a.pk, b.pk], extra=("t.id + 1",))
    assert sorted((u.pk, extra) for u, extra in found) == [(a.pk, (a.pk + 1,)), (b.pk, (b.pk + 1,))]
