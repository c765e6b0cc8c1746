"""Demo and benchmark data (SPEC §5 `seed_demo`): users, friendships, group rooms, messages.

Everything is inserted in bulk inside one transaction: users and rooms with `bulk_create`
(they are few and we need their ids back), friendships, participants and messages as raw
rows — COPY on PostgreSQL, one `executemany` on SQLite. Message ids are reserved before any
row is written, so rooms can point at their last message and participants at their read
position in the same pass (the foreign keys are checked at commit).

Shape of what is made, for `n` new users numbered 0..n-1 around a ring:
- friendships: user i is a friend of i±1 .. i±h (and of i+n/2 when F is odd and n even), so
  each user has F friends and any h+1 consecutive users are all friends of each other;
- rooms: room j holds K consecutive users starting at an evenly spread position; with
  h >= K-1 its members are friends of each other (h is raised to K-1 when F is too small);
  every user is in about R*K/n rooms (exactly, when n divides R);
- messages: spread over the rooms with a skew (a few big rooms, a long tail of small ones),
  ids and timestamps increasing together; senders are members of the room;
- read positions: most participants have read their room to the end, some miss a few of the
  newest messages, a few miss a few dozen; nobody has unread messages older than their own;
  each participant's unread count is computed here, as the rows are planned.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import User
from accounts.tags import TAG_DIGITS, tag_base
from accounts.tokens import issue_token
from chats.models import ChatRoom, Message, Participant
from chats.search import search_index_paused
from friends.models import Friendship

DEFAULT_USERS = 50
DEFAULT_FRIENDS = 10
DEFAULT_ROOMS = 20
DEFAULT_ROOM_SIZE = 5
DEFAULT_MESSAGES = 10_000
MANIFEST_TOKEN_MINUTES = 2 * 24 * 60
HISTORY_DAYS = 30
# Room sizes follow a Zipf-like law: the room of rank r gets a share ∝ 1 / (r + 1) ** ROOM_SKEW.
ROOM_SKEW = 1.0
BATCH_SIZE = 5_000
USERNAME_PREFIX = "demo"
SQLITE_CACHE_KIB = 512 * 1024

_FIRST = """
Minsu Jiwoo Seoyeon Hana Joon Yuna Daniel Sofia Liam Emma Noah Olivia Mateo Lucia Arjun
Priya Kenji Aiko Omar Leila Tomas Ines Felix Clara Ivan Nadia Kofi Ama Diego Elena Hugo
Maya Samuel Zara Leo Mila Oscar Nora Rafael Alba
"""
_LAST = """
Kim Lee Park Choi Garcia Silva Novak Sato Tanaka Okafor Mensah Rossi Muller Dubois
Haddad Costa Nguyen Tran Ivanova Larsen
"""
FIRST_NAMES = _FIRST.split()
LAST_NAMES = _LAST.split()
TEXTS = (
    "Hi! How are you?",
    "Good morning, everyone",
    "Are we still on for tonight?",
    "I'll be there in ten minutes",
    "Did anyone see the game yesterday?",
    "Pizza or sushi?",
    "Sushi, obviously",
    "Running a bit late, sorry",
    "Can someone send me the address?",
    "That's hilarious",
    "Let me check my calendar and get back to you",
    "Happy birthday! 🎉",
    "Who is bringing the snacks?",
    "See you tomorrow",
    "Thanks a lot!",
    "No worries",
    "I just pushed the fix, can you have a look?",
    "The meeting moved to 3pm",
    "Where did we park?",
    "Sounds good to me",
    "I think it's going to rain this weekend",
    "Anyone up for a hike on Saturday?",
    "Count me in",
    "I can't make it, have fun!",
    "Did you finish the book?",
    "Not yet, halfway through",
    "Coffee later?",
    "The train is delayed again",
    "Great photos from the trip!",
    "Let's plan the next one",
    "Ok 👍",
    "haha yes",
    "Wait, what?",
    "I'll call you after work",
    "Good night!",
    "안녕하세요! 오늘 저녁 어때요?",
    "Has anyone tried the new place on Main Street?",
    "The wifi password is on the fridge",
    "Remind me to buy milk",
    "Same here",
)


@dataclass(frozen=True)
class SeedOptions:
    users: int = DEFAULT_USERS
    friends: int = DEFAULT_FRIENDS
    rooms: int = DEFAULT_ROOMS
    room_size: int = DEFAULT_ROOM_SIZE
    messages: int = DEFAULT_MESSAGES
    # None: unusable passwords (sign in with the manifest's tokens); otherwise every seeded
    # user gets this password, hashed once.
    password: str | None = None
    seed: int | None = None


@dataclass
class SeededUser:
    id: int
    username: str
    user_tag: str


@dataclass
class SeededRoom:
    id: int
    kind: str
    member_ids: list[int]
    message_count: int


@dataclass
class SeedResult:
    users: list[SeededUser]
    rooms: list[SeededRoom]
    friendships: int  # rows: two per friendship
    friends_per_user: int
    participants: int
    messages: int
    first_message_id: int | None
    last_message_id: int | None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.timings.values())


class SeedError(ValueError):
    """Options that cannot be built (the command turns this into a CommandError)."""


def validate(options: SeedOptions) -> None:
    n, f, r, k, m = options.users, options.friends, options.rooms, options.room_size, options.messages
    if n < 2:
        raise SeedError("--users must be at least 2.")
    if not 0 <= f <= n - 1:
        raise SeedError(f"--friends must be between 0 and --users - 1 ({n - 1}).")
    if r < 0 or m < 0:
        raise SeedError("--rooms and --messages must not be negative.")
    if r and not 3 <= k <= n:
        raise SeedError(f"--room-size must be between 3 (a group: you and two others) and --users ({n}).")
    if m and not r:
        raise SeedError("--messages needs at least one room (--rooms).")


def friend_offsets(*, users: int, friends: int, room_size: int, rooms: int) -> list[int]:
    """Ring offsets d such that user i befriends i+d and i-d (mod users).

    Offsets 1..F/2 give F friends; an odd F adds the user across the ring when `users` is
    even (with both odd no such graph exists: F+1). When rooms need it, the offsets reach
    K-1 so that any K consecutive users are friends of each other.
    """
    half = friends // 2
    across = friends % 2 == 1 and users % 2 == 0
    if friends % 2 == 1 and users % 2 == 1:
        half += 1
    if rooms and half < room_size - 1:
        half, across = room_size - 1, False
    if 2 * half >= users - 1:
        return list(range(1, users // 2 + 1))  # everyone is everyone's friend
    return list(range(1, half + 1)) + ([users // 2] if across else [])


def friend_pairs(users: int, offsets: Sequence[int]) -> set[tuple[int, int]]:
    """Both directions of every friendship, as (user index, friend index)."""
    pairs: set[tuple[int, int]] = set()
    for i in range(users):
        for d in offsets:
            j = (i + d) % users
            if j != i:
                pairs.add((i, j))
                pairs.add((j, i))
    return pairs


def room_members(room: int, *, users: int, rooms: int, room_size: int) -> list[int]:
    """User indexes of room `room`: `room_size` consecutive users from an evenly spread start."""
    start = room * users // rooms if rooms <= users else room % users
    return [(start + t) % users for t in range(room_size)]


def _new_usernames(count: int) -> list[str]:
    """demo<k> for the next free k, so seeding twice adds users instead of colliding."""
    taken = User.objects.filter(username__startswith=USERNAME_PREFIX).values_list("username", flat=True)
    pattern = re.compile(rf"{USERNAME_PREFIX}(\d+)")
    highest = 0
    for name in taken.iterator():
        match = pattern.fullmatch(name)
        if match:
            highest = max(highest, int(match.group(1)))
    return [f"{USERNAME_PREFIX}{highest + 1 + i}" for i in range(count)]


def _new_tags(names: Sequence[str], rng: random.Random) -> list[str]:
    """Tags like `minsukim#04217`, unique (regardless of case) among existing and new ones."""
    taken = set(User.objects.annotate(t=Lower("user_tag")).values_list("t", flat=True).iterator())
    tags = []
    for name in names:
        base = tag_base(name)
        for _ in range(1000):
            tag = f"{base}#{rng.randrange(10**TAG_DIGITS):0{TAG_DIGITS}d}"
            if tag.lower() not in taken:
                break
        else:
            raise SeedError(f"No free user tag left for {base!r}.")
        taken.add(tag.lower())
        tags.append(tag)
    return tags


def _insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert many rows fast: COPY on PostgreSQL, one executemany elsewhere (same transaction)."""
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            # Table and column names come from our models, never from input.
            sql = f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({placeholders})"  # noqa: S608
            cursor.executemany(sql, rows)


@contextlib.contextmanager
def _big_sqlite_cache() -> Iterator[None]:
    """Inserts land all over the message indexes; SQLite's default 2 MB page cache would
    write and re-read the same pages thousands of times."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def _db_time(value: dt.datetime) -> Any:
    """A timestamp as the backend stores it (SQLite: Django's naive UTC text)."""
    if connection.vendor == "postgresql":
        return value
    return connection.ops.adapt_datetimefield_value(value)


def _reserve_message_ids(count: int) -> list[int]:
    """`count` fresh message ids, ascending, that no concurrent insert can take."""
    if count == 0:
        return []
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return sorted(row[0] for row in cursor.fetchall())
        if connection.vendor == "sqlite":
            # Users are inserted already, so this transaction holds SQLite's one write lock.
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 (our table)
            highest = cursor.fetchone()[0]
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            highest = max(highest, row[0] if row else 0)
            return list(range(highest + 1, highest + 1 + count))
    raise SeedError(f"seed_demo supports PostgreSQL and SQLite, not {connection.vendor}.")


def _read_position(ids: list[int], own_last: int, rng: random.Random) -> int:
    """Mostly read to the end; some miss a few of the newest; a few miss a few dozen."""
    if not ids:
        return 0
    roll = rng.random()
    if roll < 0.75:
        behind = 0
    elif roll < 0.95:
        behind = rng.randint(1, 5)
    else:
        behind = rng.randint(6, 50)
    position = ids[-1 - behind] if behind < len(ids) else 0
    return max(position, own_last)


def _unread_after(position: int, ids: list[int], senders: list[int], member: int) -> int:
    """Messages of a room after `position` that others sent (the room's ids ascending).

    Walks back from the newest: read positions are at most a few dozen messages behind."""
    unread = 0
    i = len(ids) - 1
    while i >= 0 and ids[i] > position:
        if senders[i] != member:
            unread += 1
        i -= 1
    return unread


def seed(options: SeedOptions, *, log: Callable[[str], None] | None = None) -> SeedResult:
    """Create what `options` asks for, in one transaction; see the module docstring."""
    validate(options)
    say = log or (lambda _line: None)
    rng = random.Random(options.seed)
    n, r, k, m = options.users, options.rooms, options.room_size, options.messages
    timings: dict[str, float] = {}
    now = timezone.now()
    start = now - dt.timedelta(days=HISTORY_DAYS)

    with _big_sqlite_cache(), transaction.atomic():
        # --- users ------------------------------------------------------------------------
        t0 = time.perf_counter()
        usernames = _new_usernames(n)
        names = [f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in range(n)]
        tags = _new_tags(names, rng)
        shared_hash = make_password(options.password) if options.password else None
        joined = start - dt.timedelta(days=1)
        users = User.objects.bulk_create(
            [
                User(
                    username=username,
                    name=name,
                    user_tag=tag,
                    password=shared_hash or make_password(None),
                    date_joined=joined,
                )
                for username, name, tag in zip(usernames, names, tags, strict=True)
            ],
            batch_size=BATCH_SIZE,
        )
        user_ids = [u.pk for u in users]
        timings["users"] = time.perf_counter() - t0
        say(f"users: {n} ({usernames[0]} .. {usernames[-1]}) in {timings['users']:.2f}s")

        # --- friendships --------------------------------------------------------------------
        t0 = time.perf_counter()
        offsets = friend_offsets(users=n, friends=options.friends, room_size=k, rooms=r)
        pairs = friend_pairs(n, offsets)
        befriended = _db_time(start - dt.timedelta(hours=12))
        _insert_rows(
            Friendship._meta.db_table,
            ["user_id", "friend_id", "created_at"],
            ((user_ids[a], user_ids[b], befriended) for a, b in sorted(pairs)),
        )
        friends_per_user = len(pairs) // n
        timings["friendships"] = time.perf_counter() - t0
        say(f"friendships: {len(pairs)} rows ({friends_per_user} friends each) in {timings['friendships']:.2f}s")

        # --- plan the messages: room, sender, id --------------------------------------------
        t0 = time.perf_counter()
        members = [room_members(j, users=n, rooms=r, room_size=k) for j in range(r)]
        message_ids = _reserve_message_ids(m)
        ranks = list(range(r))
        rng.shuffle(ranks)
        cumulative, total = [], 0.0
        for rank in ranks:
            total += 1.0 / (rank + 1) ** ROOM_SKEW
            cumulative.append(total)
        room_of = rng.choices(range(r), cum_weights=cumulative, k=m) if m else []
        rand = rng.random
        sender_of: list[int] = []
        ids_by_room: list[list[int]] = [[] for _ in range(r)]
        senders_by_room: list[list[int]] = [[] for _ in range(r)]
        last_index: list[int | None] = [None] * r
        last_sent: dict[tuple[int, int], int] = {}
        for i, (room, message_id) in enumerate(zip(room_of, message_ids, strict=True)):
            sender = members[room][int(rand() * k)]
            sender_of.append(sender)
            ids_by_room[room].append(message_id)
            senders_by_room[room].append(sender)
            last_index[room] = i
            last_sent[room, sender] = message_id
        timings["plan"] = time.perf_counter() - t0

        # --- rooms (pointing at their last message, checked at commit) ----------------------
        t0 = time.perf_counter()
        step = dt.timedelta(days=HISTORY_DAYS) / max(m, 1)
        room_created = [start - dt.timedelta(seconds=r - j) for j in range(r)]
        rooms = ChatRoom.objects.bulk_create(
            [ChatRoom(kind=ChatRoom.GROUP, created_by_id=user_ids[members[j][0]]) for j in range(r)],
            batch_size=BATCH_SIZE,
        )
        room_ids = [room.pk for room in rooms]
        updates = []
        for j in range(r):
            index = last_index[j]
            last = message_ids[index] if index is not None else None
            active = start + step * (index + 1) if index is not None else room_created[j]
            updates.append((_db_time(room_created[j]), _db_time(active), last, room_ids[j]))
        with connection.cursor() as cursor:
            # created_at and last_activity_at are auto_now_add, which bulk_create stamps "now".
            table = connection.ops.quote_name(ChatRoom._meta.db_table)
            sql = f"UPDATE {table} SET created_at = %s, last_activity_at = %s, last_message_id = %s WHERE id = %s"  # noqa: S608
            cursor.executemany(sql, updates)
        timings["rooms"] = time.perf_counter() - t0

        # --- participants with their read positions ----------------------------------------
        t0 = time.perf_counter()
        participant_rows = []
        for j in range(r):
            ids, senders = ids_by_room[j], senders_by_room[j]
            for member in members[j]:
                position = _read_position(ids, last_sent.get((j, member), 0), rng)
                unread = _unread_after(position, ids, senders, member)
                participant_rows.append((room_ids[j], user_ids[member], position, unread, _db_time(room_created[j])))
        _insert_rows(
            Participant._meta.db_table,
            ["room_id", "user_id", "last_read_id", "unread_count", "joined_at"],
            participant_rows,
        )
        timings["participants"] = time.perf_counter() - t0
        took = timings["rooms"] + timings["participants"]
        say(f"rooms: {r} groups of {k}, {len(participant_rows)} participants in {took:.2f}s")

        # --- messages ----------------------------------------------------------------------
        t0 = time.perf_counter()
        with search_index_paused(rows=m):  # built once after the load, not row by row
            _insert_rows(
                Message._meta.db_table,
                ["id", "room_id", "sender_id", "text", "created_at"],
                _message_rows(message_ids, room_of, sender_of, room_ids, user_ids, start, step, rng),
            )
        timings["messages"] = time.perf_counter() - t0
        t0 = time.perf_counter()
    # Leaving the block commits: the deferred foreign keys are checked here.
    timings["commit"] = time.perf_counter() - t0
    say(f"messages: {m} in {timings['plan'] + timings['messages']:.2f}s (commit {timings['commit']:.2f}s)")

    t0 = time.perf_counter()
    _refresh_statistics()
    timings["analyze"] = time.perf_counter() - t0

    return SeedResult(
        users=[SeededUser(u.pk, u.username, u.user_tag) for u in users],
        rooms=[
            SeededRoom(room_ids[j], ChatRoom.GROUP, [user_ids[i] for i in members[j]], len(ids_by_room[j]))
            for j in range(r)
        ],
        friendships=len(pairs),
        friends_per_user=friends_per_user,
        participants=len(participant_rows),
        messages=m,
        first_message_id=message_ids[0] if m else None,
        last_message_id=message_ids[-1] if m else None,
        timings=timings,
    )


def _message_rows(
    message_ids: list[int],
    room_of: list[int],
    sender_of: list[int],
    room_ids: list[int],
    user_ids: list[int],
    start: dt.datetime,
    step: dt.timedelta,
    rng: random.Random,
) -> Iterator[tuple[Any, ...]]:
    rand = rng.random
    texts = len(TEXTS)
    postgres = connection.vendor == "postgresql"
    # SQLite stores Django's naive UTC text; building it here avoids 10^6 adapter calls.
    naive_start = start if postgres else timezone.make_naive(start, connection.timezone)
    for i, message_id in enumerate(message_ids):
        created = naive_start + step * (i + 1)
        yield (
            message_id,
            room_ids[room_of[i]],
            user_ids[sender_of[i]],
            TEXTS[int(rand() * texts)],
            created if postgres else str(created),
        )


def _refresh_statistics() -> None:
    """Let the planner see the new sizes now, rather than when autovacuum gets to it."""
    tables = [User._meta.db_table, Friendship._meta.db_table, ChatRoom._meta.db_table]
    tables += [Participant._meta.db_table, Message._meta.db_table]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))


def manifest(result: SeedResult, *, token_minutes: int = MANIFEST_TOKEN_MINUTES) -> dict[str, Any]:
    """SPEC §5: every seeded user with a bearer token, every seeded room with its members."""
    # A token carries a stamp of its user's password hash and token generation: one query.
    rows = User.objects.only("pk", "password", "token_generation").in_bulk([u.id for u in result.users])
    return {
        "users": [
            {
                "id": str(u.id),
                "username": u.username,
                "userTag": u.user_tag,
                "token": issue_token(user=rows[u.id], minutes=token_minutes)[0],
            }
            for u in result.users
        ],
        "rooms": [
            {"id": str(room.id), "kind": room.kind, "memberIds": [str(i) for i in room.member_ids]}
            for room in result.rooms
        ],
    }


def write_manifest(result: SeedResult, path: Path, *, token_minutes: int = MANIFEST_TOKEN_MINUTES) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest(result, token_minutes=token_minutes), indent=1))
