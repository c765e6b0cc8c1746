"""Database calls from the event loop, and the threads they run on.

Channels' `database_sync_to_async` runs every call of the process on one thread, one after
the other: with PostgreSQL that thread, waiting on round trips, was the process's limit
(docs/performance.md). The hot calls of the websocket (`sendMessage`, joining a room, read
positions) therefore run on a small pool of threads of their own when the database is
PostgreSQL, each thread taking a connection from the connection pool per call. Order is
kept where it matters: one socket awaits its calls one at a time, and sends to one room
take the room row's lock. SQLite keeps the single thread (one writer at a time anyway).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

_executor: ThreadPoolExecutor | None = None


def _threads() -> int:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return 0
    return settings.CHATTY_DB_THREADS


def hot_db_call(func: Callable[..., Any]) -> Callable[..., Any]:
    """`database_sync_to_async(func)`, on the pool of database threads when there is one."""
    global _executor
    threads = _threads()
    if threads <= 0:
        return database_sync_to_async(func)
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="chatty-db")
        # A database thread needs the GIL back after every round trip, and a busy event loop
        # hands it over only every switch interval (5 ms by default): a send of six
        # statements waited up to 30 ms for it. A shorter interval lets them through.
        sys.setswitchinterval(settings.CHATTY_SWITCH_INTERVAL)
    return database_sync_to_async(func, thread_sensitive=False, executor=_executor)
