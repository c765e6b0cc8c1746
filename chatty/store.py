"""The presence store: who is connected, and rate-limit counters.

One interface, two implementations: Redis when `REDIS_URL` is set (shared by every
process), in-process otherwise (the embedded default). Each live websocket is a
*connection record* with an expiry that heartbeats push forward, so many tabs count as one
user, a reload does not flap, and a connection whose process died stops counting once its
record expires and a sweep notices.

Every method is async; sync code (views, commands) goes through `asgiref.async_to_sync`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import defaultdict
from typing import Protocol

from django.conf import settings

CONNECTION_TTL = 45.0  # seconds a connection counts without a heartbeat
HEARTBEAT_INTERVAL = 15.0
SWEEP_INTERVAL = 10.0


class PresenceStore(Protocol):
    """Every implementation keeps one rule: whichever call drops a user's last record (an
    at-once `remove_connection` or a `sweep`) reports the user offline, so each going-offline
    is reported exactly once, however many processes sweep."""

    async def add_connection(self, user_id: int, conn_id: str) -> bool:
        """Record a live connection; True when the user had no other live one (came online)."""

    async def remove_connection(self, user_id: int, conn_id: str) -> bool:
        """Forget a connection at once (logout); True when that leaves the user no open connection.

        Connections still in their reconnect grace are dropped with it: they were closed.
        """

    async def expire_connection(self, user_id: int, conn_id: str, after: float) -> None:
        """Mark a closed connection: it counts `after` more seconds (a reload), then a sweep drops it."""

    async def refresh(self, conns: dict[str, tuple[int, frozenset[int]]]) -> set[str]:
        """Push forward the expiry of these open connections ({conn_id: (user_id, joined room ids)}).

        Never brings back a record that was removed, expired or closed meanwhile; returns the
        ids it did not find open, so the caller can re-add the ones it still serves.
        """

    async def join_room(self, room_id: int, user_id: int, conn_id: str) -> None:
        """Note that this connection has the room open (its user reads as messages arrive)."""

    async def leave_room(self, room_id: int, user_id: int, conn_id: str) -> None:
        """Forget that this connection has the room open."""

    async def room_viewers(self, room_id: int) -> set[int]:
        """The users with at least one live connection that has the room open."""

    async def online(self, user_ids: list[int]) -> set[int]:
        """Which of these users have at least one live connection (closing ones count)."""

    async def connection_counts(self) -> dict[int, int]:
        """Every connected user with the number of live connections."""

    async def connection_count(self, user_id: int) -> int:
        """This user's open connections (not those in their reconnect grace)."""

    async def sweep(self) -> list[int]:
        """Drop expired records; the users that thereby went offline (each reported once)."""

    async def hit(self, key: str, limit: int, window: float) -> bool:
        """Count one event for `key`; False once more than `limit` fell in the window that the
        first counted event opened."""

    async def hits(self, key: str, window: float) -> int:
        """How many events `hit` counted for `key` in its current window; counts nothing."""

    async def hit_then_room_viewers(self, key: str, limit: int, window: float, room_id: int) -> tuple[bool, set[int]]:
        """`hit` and `room_viewers` at once (a send: its rate limit and who has the room open),
        in one round trip where the store is remote."""

    async def clear(self) -> None:
        """Forget everything (tests and operators)."""


class _Conn:
    __slots__ = ("closing", "expires")

    def __init__(self, expires: float, closing: bool = False) -> None:
        self.expires = expires
        self.closing = closing


class InProcessStore:
    """The embedded default: state in this process, guarded by a lock (views run in threads)."""

    def __init__(self, ttl: float = CONNECTION_TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._conns: dict[int, dict[str, _Conn]] = defaultdict(dict)
        self._hits: dict[str, tuple[float, int]] = {}
        self._viewers: dict[int, dict[tuple[int, str], float]] = defaultdict(dict)

    def _alive(self, user_id: int, now: float) -> dict[str, _Conn]:
        conns = self._conns.get(user_id, {})
        return {c: rec for c, rec in conns.items() if rec.expires > now}

    async def add_connection(self, user_id: int, conn_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            alive = self._alive(user_id, now)
            # This very connection, if it was closing, reopens and does not count as "before".
            before = [c for c, rec in alive.items() if c != conn_id or not rec.closing]
            # Expired records of a user who is back are dropped unreported: nobody went offline.
            self._conns[user_id] = alive
            alive[conn_id] = _Conn(now + self.ttl)
            return not before

    async def remove_connection(self, user_id: int, conn_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            conns = self._conns.get(user_id)
            if not conns:
                return False
            conns.pop(conn_id, None)
            if any(not rec.closing for rec in self._alive(user_id, now).values()):
                return False
            del self._conns[user_id]
            return True

    async def expire_connection(self, user_id: int, conn_id: str, after: float) -> None:
        now = time.monotonic()
        with self._lock:
            rec = self._conns.get(user_id, {}).get(conn_id)
            if rec is not None and rec.expires > now:
                rec.expires, rec.closing = now + after, True

    async def refresh(self, conns: dict[str, tuple[int, frozenset[int]]]) -> set[str]:
        now = time.monotonic()
        expires = now + self.ttl
        missing = set()
        with self._lock:
            for conn_id, (user_id, room_ids) in conns.items():
                rec = self._conns.get(user_id, {}).get(conn_id)
                if rec is None or rec.closing or rec.expires <= now:
                    missing.add(conn_id)
                    continue
                rec.expires = expires
                for room_id in room_ids:
                    viewers = self._viewers.get(room_id)
                    if viewers is not None and (user_id, conn_id) in viewers:
                        viewers[(user_id, conn_id)] = expires
        return missing

    async def join_room(self, room_id: int, user_id: int, conn_id: str) -> None:
        with self._lock:
            self._viewers[room_id][(user_id, conn_id)] = time.monotonic() + self.ttl

    async def leave_room(self, room_id: int, user_id: int, conn_id: str) -> None:
        with self._lock:
            viewers = self._viewers.get(room_id)
            if viewers is not None:
                viewers.pop((user_id, conn_id), None)
                if not viewers:
                    del self._viewers[room_id]

    async def room_viewers(self, room_id: int) -> set[int]:
        now = time.monotonic()
        with self._lock:
            viewers = self._viewers.get(room_id, {})
            return {uid for (uid, _), exp in viewers.items() if exp > now}

    async def online(self, user_ids: list[int]) -> set[int]:
        now = time.monotonic()
        with self._lock:
            return {uid for uid in user_ids if self._alive(uid, now)}

    async def connection_count(self, user_id: int) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for rec in self._alive(user_id, now).values() if not rec.closing)

    async def connection_counts(self) -> dict[int, int]:
        now = time.monotonic()
        with self._lock:
            counts = {uid: len(self._alive(uid, now)) for uid in list(self._conns)}
        return {uid: n for uid, n in counts.items() if n}

    async def sweep(self) -> list[int]:
        now = time.monotonic()
        gone = []
        with self._lock:
            for uid in list(self._conns):
                conns = self._conns[uid]
                expired = [c for c, rec in conns.items() if rec.expires <= now]
                for c in expired:
                    del conns[c]
                if not conns:
                    del self._conns[uid]
                    if expired:
                        gone.append(uid)
            for room_id in list(self._viewers):
                viewers = self._viewers[room_id]
                for key in [k for k, exp in viewers.items() if exp <= now]:
                    del viewers[key]
                if not viewers:
                    del self._viewers[room_id]
        return gone

    async def hit(self, key: str, limit: int, window: float) -> bool:
        now = time.monotonic()
        with self._lock:
            start, count = self._hits.get(key, (now, 0))
            if now - start >= window:
                start, count = now, 0
            count += 1
            self._hits[key] = (start, count)
            if len(self._hits) > 100_000:  # bounded: forget finished windows
                self._hits = {k: v for k, v in self._hits.items() if now - v[0] < window}
            return count <= limit

    async def hits(self, key: str, window: float) -> int:
        now = time.monotonic()
        with self._lock:
            start, count = self._hits.get(key, (now, 0))
            return 0 if now - start >= window else count

    async def hit_then_room_viewers(self, key: str, limit: int, window: float, room_id: int) -> tuple[bool, set[int]]:
        return await self.hit(key, limit, window), await self.room_viewers(room_id)

    async def clear(self) -> None:
        with self._lock:
            self._conns.clear()
            self._hits.clear()
            self._viewers.clear()


# Each user's connections are a sorted set {member: expiry}: an open connection's member is
# its id, a closed one in its reconnect grace is "~" + its id (so a heartbeat that raced the
# close cannot extend it). `presence:users` holds every user with records, scored by their
# latest expiry, so a sweep only visits users whose records may have run out. Scripts keep
# each transition atomic across processes; whichever drops a user's last record reports it.
_ADD = """
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREM', KEYS[1], '~' .. ARGV[1])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[4])
return before
"""
_REMOVE = """
local had = redis.call('ZCARD', KEYS[1])
if had == 0 then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1], '~' .. ARGV[1])
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf')) do
  if string.sub(m, 1, 1) ~= '~' then
    local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
    redis.call('ZADD', KEYS[2], top[2], ARGV[3])
    return 0
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"""
_EXPIRE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], '~' .. ARGV[1])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('ZADD', KEYS[2], top[2], ARGV[4])
return 1
"""
# KEYS: users key, then per connection its user key followed by its room keys.
# ARGV: now, expiry, room-key ttl, then per connection: conn id, user id, number of rooms.
_REFRESH = """
local now = tonumber(ARGV[1])
local exp = ARGV[2]
local k, a = 2, 4
local missing = {}
while a <= #ARGV do
  local conn, uid, nrooms = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  a = a + 3
  local score = redis.call('ZSCORE', KEYS[k], conn)
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[k], exp, conn)
    redis.call('ZADD', KEYS[1], 'GT', exp, uid)
    for r = 1, nrooms do
      if redis.call('ZADD', KEYS[k + r], 'XX', 'CH', exp, uid .. ':' .. conn) == 1 then
        redis.call('EXPIRE', KEYS[k + r], ARGV[3])
      end
    end
  else
    table.insert(missing, conn)
  end
  k = k + 1 + nrooms
end
return missing
"""
_SWEEP_USER = """
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then
  redis.call('ZREM', KEYS[2], ARGV[2])
  if removed > 0 then return 1 end
  return 0
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('ZADD', KEYS[2], top[2], ARGV[2])
return 0
"""
# A window opens with the first hit and lasts `window` ms (the same rule as in-process).
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""
REFRESH_BATCH = 500  # connections per script call: keeps each call short for Redis


class RedisStore:
    """Shared by every process that is given the same `REDIS_URL`."""

    def __init__(self, url: str, ttl: float = CONNECTION_TTL, prefix: str = "chatty:") -> None:
        self.url = url
        self.ttl = ttl
        self.prefix = prefix
        self.users_key = f"{prefix}presence:users"
        # redis-py's asyncio connections belong to the loop that made them; sync code runs
        # each call on a loop of its own, so keep one client per loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object] = weakref.WeakKeyDictionary()

    def _client(self):
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # A blocking pool waits for a free connection instead of raising
            # MaxConnectionsError when a thousand sockets connect at once.
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url, max_connections=64, timeout=10, socket_timeout=5, socket_connect_timeout=5
            )
            client = aioredis.Redis.from_pool(pool)
            self._clients[loop] = client
        return client

    def _user_key(self, user_id: int) -> str:
        return f"{self.prefix}presence:user:{user_id}"

    def _room_key(self, room_id: int) -> str:
        return f"{self.prefix}presence:room:{room_id}"

    async def add_connection(self, user_id: int, conn_id: str) -> bool:
        now = time.time()
        before = await self._client().eval(
            _ADD, 2, self._user_key(user_id), self.users_key, conn_id, now, now + self.ttl, user_id
        )
        return int(before) == 0

    async def remove_connection(self, user_id: int, conn_id: str) -> bool:
        result = await self._client().eval(
            _REMOVE, 2, self._user_key(user_id), self.users_key, conn_id, time.time(), user_id
        )
        return int(result) == 1

    async def expire_connection(self, user_id: int, conn_id: str, after: float) -> None:
        now = time.time()
        await self._client().eval(
            _EXPIRE, 2, self._user_key(user_id), self.users_key, conn_id, now, now + after, user_id
        )

    async def refresh(self, conns: dict[str, tuple[int, frozenset[int]]]) -> set[str]:
        missing: set[str] = set()
        items = list(conns.items())
        for start in range(0, len(items), REFRESH_BATCH):
            now = time.time()
            keys, args = [self.users_key], [now, now + self.ttl, int(self.ttl) + 5]
            for conn_id, (user_id, room_ids) in items[start : start + REFRESH_BATCH]:
                keys.append(self._user_key(user_id))
                keys.extend(self._room_key(r) for r in room_ids)
                args.extend((conn_id, user_id, len(room_ids)))
            result = await self._client().eval(_REFRESH, len(keys), *keys, *args)
            missing.update(m.decode() if isinstance(m, bytes) else m for m in result)
        return missing

    async def join_room(self, room_id: int, user_id: int, conn_id: str) -> None:
        key = self._room_key(room_id)
        now = time.time()
        async with self._client().pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {f"{user_id}:{conn_id}": now + self.ttl})
            pipe.expire(key, int(self.ttl) + 5)
            await pipe.execute()

    async def leave_room(self, room_id: int, user_id: int, conn_id: str) -> None:
        await self._client().zrem(self._room_key(room_id), f"{user_id}:{conn_id}")

    async def room_viewers(self, room_id: int) -> set[int]:
        members = await self._client().zrangebyscore(self._room_key(room_id), f"({time.time()}", "+inf")
        return {int(m.split(b":", 1)[0]) for m in members}

    async def online(self, user_ids: list[int]) -> set[int]:
        if not user_ids:
            return set()
        # One command for any number of users: `presence:users` scores each user by their
        # latest record's expiry (the scripts keep it so), which is the same test as "a record
        # of theirs not expired yet". (A pipeline of one ZCOUNT per friend was 30 % of a
        # reconnect storm's CPU with 99 friends each: py-spy --gil, docs/performance.md.)
        now = time.time()
        scores = await self._client().zmscore(self.users_key, user_ids)
        return {uid for uid, score in zip(user_ids, scores, strict=True) if score is not None and score > now}

    async def connection_count(self, user_id: int) -> int:
        members = await self._client().zrangebyscore(self._user_key(user_id), f"({time.time()}", "+inf")
        return sum(1 for m in members if not m.startswith(b"~"))

    async def connection_counts(self) -> dict[int, int]:
        client = self._client()
        now = time.time()
        user_ids = [int(u) for u in await client.zrange(self.users_key, 0, -1)]
        if not user_ids:
            return {}
        async with client.pipeline(transaction=False) as pipe:
            for uid in user_ids:
                pipe.zcount(self._user_key(uid), f"({now}", "+inf")
            counts = await pipe.execute()
        return {uid: n for uid, n in zip(user_ids, counts, strict=True) if n}

    async def sweep(self) -> list[int]:
        client = self._client()
        now = time.time()
        candidates = await client.zrangebyscore(self.users_key, "-inf", now)
        gone = []
        for raw in candidates:
            uid = int(raw)
            if await client.eval(_SWEEP_USER, 2, self._user_key(uid), self.users_key, now, uid):
                gone.append(uid)
        return gone

    async def hit(self, key: str, limit: int, window: float) -> bool:
        count = await self._client().eval(_HIT, 1, f"{self.prefix}rate:{key}", max(1, int(window * 1000)))
        return int(count) <= limit

    async def hits(self, key: str, window: float) -> int:
        return int(await self._client().get(f"{self.prefix}rate:{key}") or 0)

    async def hit_then_room_viewers(self, key: str, limit: int, window: float, room_id: int) -> tuple[bool, set[int]]:
        async with self._client().pipeline(transaction=False) as pipe:
            pipe.eval(_HIT, 1, f"{self.prefix}rate:{key}", max(1, int(window * 1000)))
            pipe.zrangebyscore(self._room_key(room_id), f"({time.time()}", "+inf")
            count, members = await pipe.execute()
        return int(count) <= limit, {int(m.split(b":", 1)[0]) for m in members}

    async def clear(self) -> None:
        client = self._client()
        keys = [k async for k in client.scan_iter(match=f"{self.prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)

    async def aclose(self) -> None:
        """Close this loop's client (tests and short-lived commands)."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()


_store: PresenceStore | None = None
_store_lock = threading.Lock()


def make_store(redis_url: str = "") -> PresenceStore:
    return RedisStore(redis_url) if redis_url else InProcessStore()


def get_store() -> PresenceStore:
    global _store
    with _store_lock:
        if _store is None:
            _store = make_store(settings.REDIS_URL)
        return _store
