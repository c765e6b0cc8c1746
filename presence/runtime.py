"""This process's share of presence: its live connections, their heartbeat, the sweep.

One background task per process (not one per connection) refreshes every local connection
record in one scripted call and sweeps expired records, telling friends of whoever went
offline — including users whose connections lived on a process that died.
"""

from __future__ import annotations

import asyncio
import logging
import time

from chatty import realtime
from chatty.store import HEARTBEAT_INTERVAL, get_store
from presence import services

logger = logging.getLogger(__name__)

SWEEP_EVERY = 2.0


class Registry:
    """The connections this process serves: {conn_id: (user_id, joined room ids)}."""

    def __init__(self) -> None:
        self.conns: dict[str, tuple[int, set[int]]] = {}
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, conn_id: str, user_id: int, rooms: set[int] | None = None) -> None:
        """`rooms`: the connection's own set of joined rooms (kept by it, read here)."""
        self._ensure_task()
        self.conns[conn_id] = (user_id, rooms if rooms is not None else set())

    def discard(self, conn_id: str) -> None:
        self.conns.pop(conn_id, None)

    def joined(self, conn_id: str, room_id: int) -> None:
        if conn_id in self.conns:
            self.conns[conn_id][1].add(room_id)

    def left(self, conn_id: str, room_id: int) -> None:
        if conn_id in self.conns:
            self.conns[conn_id][1].discard(room_id)

    def _ensure_task(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Connections belong to the loop that serves them; a new loop (a restarted
            # server, the next test) starts with none.
            self.conns = {}
            self._loop = loop
            self._task = None
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())

    async def heartbeat(self) -> None:
        """Push forward every local connection's record; count again any that lost it."""
        snapshot = {c: (u, frozenset(rooms)) for c, (u, rooms) in self.conns.items()}
        missing = await get_store().refresh(snapshot)
        for conn_id in missing:
            entry = self.conns.get(conn_id)
            if entry is None:  # closed meanwhile: its own close handled the record
                continue
            user_id, rooms = entry
            await services.connection_restored(user_id=user_id, conn_id=conn_id, room_ids=frozenset(rooms))

    async def _run(self) -> None:
        last_beat = time.monotonic()
        task = asyncio.current_task()
        # A cancellation can be swallowed below: asgiref's sync_to_async, cancelled while its
        # thread runs, waits for the thread and returns its result; Python 3.11's
        # asyncio.timeout (in redis-py) can turn it into TimeoutError. The task still counts
        # the request (`cancelling()`), so check it on every turn, or a loop that is shutting
        # down would wait for this one for ever.
        while not (task is not None and task.cancelling()):
            await asyncio.sleep(SWEEP_EVERY)
            try:
                if time.monotonic() - last_beat >= HEARTBEAT_INTERVAL:
                    last_beat = time.monotonic()
                    await self.heartbeat()
                await services.sweep()
                await realtime.layer_restored()  # Redis answers: after an outage, subscribe again
            except asyncio.CancelledError:
                raise
            except Exception:
                if task is not None and task.cancelling():
                    break
                # Redis away for a moment: try again on the next tick.
                realtime.layer_failed()
                logger.warning("presence heartbeat failed", exc_info=True)


registry = Registry()
