"""A room's live stream in one process: every message of the room, once, in id order, to
the sockets of this process that joined it.

Plain objects, no Channels: what arrives is an event per stored message (`chat.message`,
naming the message before it as `previous_id`), from the layer, in whatever order the
processes that stored them published. The stream keeps the delivery guarantees:

- **Order and gaps.** `last` is the newest id passed on. An event whose `previous_id` is newer
  than `last` means an earlier event has not arrived (another process published later, or the
  layer dropped it): the stream reads what it missed from the database, once for all its
  sockets, passes it on in order, then the events that waited meanwhile. More than the
  catch-up limit missed: `resync` (the clients reload through the API).
- **The join hold.** A socket is added before its join reads the database; what the stream
  passes on meanwhile is held for it and released after its replay, skipping what the
  replay covered (by id), so nothing is missed or doubled.
- **Baseline.** A stream made by a join passes nothing on until that join has read the room
  (its newest id is the stream's first `last`); events that came before wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

Payload = dict[str, Any]
FetchMissed = Callable[[int, int, int], Awaitable[tuple[list[Payload], bool]]]


_RESYNC = object()


class _Member:
    __slots__ = ("held", "seen")

    def __init__(self) -> None:
        self.seen = 0  # newest id this socket has been sent
        self.held: list[tuple[int, Any]] | None = []  # None once joined


class RoomStream:
    def __init__(
        self,
        room_id: int,
        *,
        fetch_missed: FetchMissed,
        render: Callable[[Payload], Any],
        deliver: Callable[[Any, Any], None],
        resync: Callable[[Any, int], None],
    ) -> None:
        self.room_id = room_id
        self.fetch_missed = fetch_missed  # (room id, after id, before id) -> (payloads, overflow)
        self.render = render  # payload -> what `deliver` writes (rendered once per message)
        self.deliver = deliver  # (socket, rendered)
        self.resync = resync  # (socket, room id)
        self.members: dict[Any, _Member] = {}
        self.last: int | None = None
        self.pending: deque[dict[str, Any]] = deque()
        self.filling: asyncio.Task | None = None

    # --- sockets ---------------------------------------------------------------------

    def add(self, conn: Any) -> None:
        """Hold for this socket from now on; `joined` once its join has read the room."""
        self.members[conn] = _Member()

    def joined(self, conn: Any, seen: int) -> None:
        """The socket's join read the room up to `seen` and sent its replay: release what
        was held for it (newer than `seen`, in order), live from now on."""
        member = self.members.get(conn)
        if member is None:
            return
        held, member.held = member.held or [], None
        member.seen = seen
        if self.last is None:
            self.last = seen
            self._drain()
        for message_id, rendered in held:
            if message_id > member.seen:
                member.seen = message_id
                if rendered is _RESYNC:
                    self.resync(conn, self.room_id)
                else:
                    self.deliver(conn, rendered)

    def remove(self, conn: Any) -> None:
        self.members.pop(conn, None)
        if not self.members and self.filling is not None:
            self.filling.cancel()
            self.filling = None

    def live(self) -> list[Any]:
        """Sockets that have joined (not holding)."""
        return [c for c, m in self.members.items() if m.held is None]

    def __len__(self) -> int:
        return len(self.members)

    # --- events ------------------------------------------------------------------------

    def on_message(self, event: dict[str, Any]) -> None:
        if self.last is None or self.filling is not None:
            self.pending.append(event)
            return
        self._process(event)

    def _drain(self) -> None:
        while self.pending and self.filling is None:
            self._process(self.pending.popleft())

    def _process(self, event: dict[str, Any]) -> None:
        message = event["message"]
        message_id = int(message["id"])
        if message_id <= self.last:
            return  # passed on already (a replay or a gap fill covered it)
        if event.get("previous_id", 0) > self.last:
            self.pending.appendleft(event)
            self.filling = asyncio.ensure_future(self._fill(self.last, message_id))
            return
        self._emit(message_id, message)

    def _emit(self, message_id: int, message: Payload) -> None:
        self.last = message_id
        rendered = self.render(message)
        for conn, member in self.members.items():
            if member.held is not None:
                member.held.append((message_id, rendered))
            elif message_id > member.seen:
                member.seen = message_id
                self.deliver(conn, rendered)

    async def _fill(self, after_id: int, before_id: int) -> None:
        try:
            missed, overflow = await self.fetch_missed(self.room_id, after_id, before_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("could not read the messages missed in room %s", self.room_id, exc_info=True)
            missed, overflow = [], True
        self.filling = None
        if overflow:
            # Too much to send as events: every socket reloads through the API.
            self.last = before_id
            for conn, member in list(self.members.items()):
                if member.held is not None:
                    member.held.append((before_id, _RESYNC))  # after its join's replay
                elif before_id > member.seen:
                    member.seen = before_id
                    self.resync(conn, self.room_id)
            while self.pending and int(self.pending[0]["message"]["id"]) <= before_id:
                self.pending.popleft()
        else:
            for message in missed:
                message_id = int(message["id"])
                if message_id > self.last:
                    self._emit(message_id, message)
        self._drain()
