"""Group commit for the websocket's plain sends on PostgreSQL: sends that arrive while the
database is busy with earlier ones are stored together, in one transaction and one round trip.

A send waits for nothing when fewer than `CHATTY_SEND_BATCHES` batches are in flight (a batch
of one, as before); only under load do sends queue, and the next batch takes all that queued
(up to `MAX_BATCH`). Each send then costs a share of one hand-over to a database thread, one
round trip and one commit, instead of all three: the commit's flush and the hand-overs were
much of PostgreSQL's and the server's CPU per send (docs/performance.md).

An `ack` still means stored and committed: each sender's future resolves after its batch's
commit. When a repeated clientId rolls a batch back, every send of it is answered by its own
`message_send`, which handles the repeat as it always has; any other error (the database is
away) reaches every sender of the batch at once, as it would have reached a single send.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import Any

from django.conf import settings
from django.db import IntegrityError

from chats import fastsend, services
from chatty.dbcalls import hot_db_call
from chatty.realtime import collecting, publish

MAX_BATCH = 64

_store = hot_db_call(collecting(services.messages_send_plain))


def enabled() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and _in_flight_limit() > 0


def _in_flight_limit() -> int:
    return settings.CHATTY_SEND_BATCHES


class Batcher:
    """One per process (per event loop)."""

    def __init__(self) -> None:
        self.queue: deque[tuple[fastsend.Plain, asyncio.Future]] = deque()
        self.in_flight = 0
        self.batches = 0  # stored so far (the tests count them)

    async def send(self, item: fastsend.Plain) -> Any:
        """(message, True) once stored and committed and its events published; None when
        this path refused it or its batch failed (the caller then uses message_send)."""
        future = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        self._start()
        return await future

    def _start(self) -> None:
        while self.queue and self.in_flight < _in_flight_limit():
            batch = [self.queue.popleft() for _ in range(min(MAX_BATCH, len(self.queue)))]
            self.in_flight += 1
            task = asyncio.ensure_future(self._store(batch))
            _running.add(task)
            task.add_done_callback(_running.discard)

    async def _store(self, batch: list[tuple[fastsend.Plain, asyncio.Future]]) -> None:
        try:
            results, events = await _store(items=[item for item, _ in batch])
        except IntegrityError:
            # A repeated clientId rolled the batch back: each send on its own handles it.
            results, events = [None] * len(batch), []
        except Exception as exc:
            # The database is away (or worse): every sender hears of it now, as a single send
            # would, rather than after a second wait of its own.
            for _item, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        finally:
            self.in_flight -= 1
            self._start()
        self.batches += 1
        for (_item, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        # The senders' acks first (their tasks run before this one resumes), as a single send
        # acknowledges before it publishes; then the rooms hear of them, even if their
        # senders' sockets are gone.
        await asyncio.sleep(0)
        await publish(events)


_running: set[asyncio.Future] = set()
_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Batcher] = weakref.WeakKeyDictionary()


def get_batcher() -> Batcher:
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = Batcher()
    return batcher
