"""`seed_demo` (SPEC §5): what it makes, that rooms are made of friends, the manifest."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter, defaultdict
from io import StringIO
from pathlib import Path

import jwt
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models.functions import Lower
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import User
from accounts.tokens import ALGORITHM, AUDIENCE
from chats.models import ChatRoom, Message, Participant
from chats.seeding import friend_offsets, friend_pairs, room_members
from chats.selectors import chat_list
from friends.models import Friendship

USERS, FRIENDS, ROOMS, ROOM_SIZE, MESSAGES = 12, 4, 6, 3, 300


def seed(tmp_path: Path | None = None, **options: int) -> str:
    out = StringIO()
    args = {"users": USERS, "friends": FRIENDS, "rooms": ROOMS, "room_size": ROOM_SIZE, "messages": MESSAGES}
    args.update(options)
    if tmp_path is not None:
        args["manifest"] = tmp_path / "manifest.json"
    call_command("seed_demo", stdout=out, seed=7, **args)
    # PostgreSQL checks foreign keys at commit, which a test never reaches: check them now.
    connection.check_constraints()
    return out.getvalue()


def friends_of(user_ids: list[int]) -> dict[int, set[int]]:
    friends: dict[int, set[int]] = defaultdict(set)
    for user_id, friend_id in Friendship.objects.filter(user_id__in=user_ids).values_list("user_id", "friend_id"):
        friends[user_id].add(friend_id)
    return friends


@pytest.mark.django_db
def test_it_makes_what_is_asked_and_says_so() -> None:
    out = seed()

    users = list(User.objects.filter(username__startswith="demo"))
    assert len(users) == USERS
    ids = [u.pk for u in users]
    friends = friends_of(ids)
    assert Friendship.objects.count() == USERS * FRIENDS
    assert all(len(friends[i]) == FRIENDS and i not in friends[i] for i in ids)
    assert all(a in friends[b] for a in ids for b in friends[a]), "friendships are symmetric"
    assert ChatRoom.objects.filter(kind=ChatRoom.GROUP).count() == ROOMS
    assert Message.objects.count() == MESSAGES
    for line in (f"{USERS} users", f"{USERS * FRIENDS // 2} friendships", f"{ROOMS} rooms", f"{MESSAGES} messages"):
        assert line in out


@pytest.mark.django_db
def test_every_room_member_is_a_friend_of_every_other() -> None:
    seed()
    members: dict[int, list[int]] = defaultdict(list)
    for room_id, user_id in Participant.objects.values_list("room_id", "user_id"):
        members[room_id].append(user_id)
    friends = friends_of([u for m in members.values() for u in m])

    assert len(members) == ROOMS
    for room_members_ in members.values():
        assert len(set(room_members_)) == ROOM_SIZE
        for a, b in itertools.permutations(room_members_, 2):
            assert b in friends[a]


@pytest.mark.django_db
def test_messages_rooms_and_read_positions_are_consistent() -> None:
    seed()
    members = defaultdict(set)
    for room_id, user_id in Participant.objects.values_list("room_id", "user_id"):
        members[room_id].add(user_id)
    messages = list(Message.objects.order_by("id").values("id", "room_id", "sender_id", "created_at", "text"))

    assert all(m["sender_id"] in members[m["room_id"]] for m in messages)
    assert all(m["text"].strip() for m in messages)
    times = [m["created_at"] for m in messages]
    assert times == sorted(times) and times[-1] <= timezone.now()
    assert len({m["room_id"] for m in messages}) > 1, "spread over the rooms"

    newest = {}
    for m in messages:
        newest[m["room_id"]] = m
    for room in ChatRoom.objects.all():
        last = newest.get(room.pk)
        assert room.last_message_id == (last["id"] if last else None)
        if last:
            assert room.last_activity_at == last["created_at"]
            assert room.created_at <= Message.objects.filter(room=room).order_by("id").first().created_at

    parts = list(Participant.objects.select_related("room"))
    assert all(p.last_read_id <= (p.room.last_message_id or 0) for p in parts)
    read_to_end = sum(p.last_read_id == p.room.last_message_id for p in parts)
    assert read_to_end >= len(parts) // 2, "most have read their rooms"
    user = User.objects.get(pk=parts[0].user_id)
    unread = [row["unreadMessagesCount"] for row in chat_list(user=user)]
    assert all(0 <= n <= 50 for n in unread)
    # Every kept unread count is the count by its definition: after the position, by others.
    for p in parts:
        others_after = [m for m in messages if m["room_id"] == p.room_id and m["id"] > p.last_read_id]
        assert p.unread_count == sum(m["sender_id"] != p.user_id for m in others_after), p
    assert any(p.unread_count for p in parts), "some have unread messages"


@pytest.mark.django_db
def test_the_manifest_lists_users_with_working_tokens_and_rooms(tmp_path: Path) -> None:
    seed(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())

    assert set(manifest) == {"users", "rooms"}
    assert len(manifest["users"]) == USERS and len(manifest["rooms"]) == ROOMS
    by_id = {str(u.pk): u for u in User.objects.all()}
    for entry in manifest["users"]:
        assert set(entry) == {"id", "username", "userTag", "token"}
        user = by_id[entry["id"]]
        assert (entry["username"], entry["userTag"]) == (user.username, user.user_tag)
        claims = jwt.decode(entry["token"], settings.SECRET_KEY, algorithms=[ALGORITHM], audience=AUDIENCE)
        assert dt.datetime.fromtimestamp(claims["exp"], dt.UTC) - timezone.now() >= dt.timedelta(days=1)
    for entry in manifest["users"][:3]:
        answer = Client().get("/api/user", HTTP_AUTHORIZATION=f"Bearer {entry['token']}")
        assert answer.status_code == 200
        assert answer.json()["id"] == entry["id"] and answer.json()["userTag"] == entry["userTag"]

    members = defaultdict(set)
    for room_id, user_id in Participant.objects.values_list("room_id", "user_id"):
        members[str(room_id)].add(str(user_id))
    for entry in manifest["rooms"]:
        assert set(entry) == {"id", "kind", "memberIds"}
        assert entry["kind"] == "group"
        assert all(isinstance(i, str) for i in entry["memberIds"])
        assert set(entry["memberIds"]) == members[entry["id"]]


@pytest.mark.django_db
def test_seeding_twice_adds_without_collisions(make_user) -> None:
    make_user("Someone Already Here", username="demo3")
    seed()
    seed(users=8, friends=5, rooms=2, room_size=3, messages=50)

    usernames = list(User.objects.values_list("username", flat=True))
    tags = list(User.objects.annotate(t=Lower("user_tag")).values_list("t", flat=True))
    assert len(usernames) == 1 + USERS + 8
    assert len(set(usernames)) == len(usernames) and len(set(tags)) == len(tags)
    assert Message.objects.count() == MESSAGES + 50
    assert ChatRoom.objects.count() == ROOMS + 2
    message_ids = list(Message.objects.order_by("created_at", "id").values_list("id", flat=True))
    assert len(set(message_ids)) == MESSAGES + 50
    # The second batch made friends among itself only: 8 users (even), 5 friends each.
    second = list(User.objects.order_by("-id").values_list("id", flat=True)[:8])
    assert all(len(f) == 5 and f <= set(second) for f in friends_of(second).values())


@pytest.mark.django_db
def test_rooms_larger_than_friend_circles_get_the_missing_friendships() -> None:
    out = seed(users=10, friends=2, rooms=4, room_size=4, messages=20)
    assert "6 friends per user instead of 2" in out
    for room in ChatRoom.objects.all():
        ids = list(room.participants.values_list("user_id", flat=True))
        friends = friends_of(ids)
        assert all(b in friends[a] for a, b in itertools.permutations(ids, 2))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "options",
    [{"users": 1}, {"friends": 12}, {"room_size": 2}, {"room_size": 13}, {"rooms": 0, "messages": 5}],
)
def test_impossible_options_are_refused(options: dict[str, int]) -> None:
    with pytest.raises(CommandError):
        seed(**options)
    assert not User.objects.exists()


@given(
    users=st.integers(min_value=3, max_value=40),
    data=st.data(),
)
def test_the_ring_gives_each_user_the_same_friends_and_rooms_of_friends(users: int, data: st.DataObject) -> None:
    friends = data.draw(st.integers(min_value=0, max_value=users - 1))
    room_size = data.draw(st.integers(min_value=3, max_value=users))
    rooms = data.draw(st.integers(min_value=0, max_value=3 * users))
    pairs = friend_pairs(users, friend_offsets(users=users, friends=friends, room_size=room_size, rooms=rooms))

    degree = Counter(a for a, _ in pairs)
    assert all((b, a) in pairs and a != b for a, b in pairs)
    assert len(set(degree.values())) <= 1, "everyone has as many friends"
    got = degree[0]
    assert friends <= got <= users - 1
    rooms_need_more = rooms and friends < 2 * (room_size - 1)
    if not rooms_need_more and (friends % 2 == 0 or users % 2 == 0):
        assert got == friends
    per_user = Counter()
    for room in range(rooms):
        members = room_members(room, users=users, rooms=rooms, room_size=room_size)
        assert len(set(members)) == room_size
        assert all((a, b) in pairs for a, b in itertools.permutations(members, 2))
        per_user.update(members)
    if rooms and rooms % users == 0:
        assert set(per_user.values()) == {rooms * room_size // users}
