"""The websocket endpoint, /ws/ (SPEC §4) and the browser's /ws/ui/: one thin consumer.

It authenticates (the scope's user: session or bearer token; never a field of a frame),
accepts, reads frames into a bounded inbox handled one after the other by a worker task
(a task only while frames wait), answers bad frames with error frames, counts rate-limit
strikes, and writes what the hub and the frame handlers give it — in order, eagerly, with a
task only while the client is slow to read, and a cut-off when it stops reading.

What a frame means is the domain's (`edge.protocol` collects each app's `frames.py`); what
an event becomes is rendered once per process by the hub (edge/hub.py). This is a plain ASGI
application rather than a Channels consumer: Channels' consumers keep a layer channel, a
receive loop and a dispatch per socket, which is what the hub does once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from typing import Any

from django.conf import settings

from chatty import limits, metrics
from chatty.errors import ChattyError, RateLimited
from chatty.realtime import session_group, user_group
from chatty.wire import SERVER_SEND, Refused, dumps
from edge import eager, protocol
from edge.hub import get_hub, write_out

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FLOODING = 4429
CLOSE_SERVICE_RESTART = 1012
FLOOD_STRIKES = 20  # rate_limited answers in a row before the socket is closed
INBOX_LIMIT = 64  # frames waiting for this socket's worker before more are refused
OUTBOX_LIMIT = 10_000  # frames waiting for a slow client before it is cut off
WORKER_GRACE = 10.0  # seconds a closing socket waits for the frame being handled


def _slow_client_seconds() -> float:
    # A frame the client has not taken after this long (its socket buffers are full: it
    # stopped reading) cuts the connection: what queues up for it is bounded, the others in
    # its rooms are not held up, and it catches up with `afterId` when it comes back. Only
    # servers that apply backpressure to `send` (uvicorn) can tell; daphne buffers everything.
    return float(getattr(settings, "CHATTY_SLOW_CLIENT_SECONDS", 10.0))


def _frames_past_the_session(scope: dict[str, Any], send: Any) -> Any:
    """`send`, but text frames straight to the server's own send when the session middleware
    wrapped it (it acts on HTTP responses only: chatty.wire.SERVER_SEND)."""
    server_send = scope.get(SERVER_SEND)
    if server_send is None or server_send is send:
        return send

    def routed(message: dict[str, Any]) -> Any:
        return server_send(message) if message["type"] == "websocket.send" else send(message)

    return routed


class Socket:
    """One websocket (chatty.wire.Conn)."""

    def __init__(self, scope: dict[str, Any], send: Any, *, ui: bool) -> None:
        self.scope = scope
        self._send = _frames_past_the_session(scope, send)
        self.ui = ui
        self.lang = _language(scope) if ui else settings.LANGUAGE_CODE
        self.user: Any = None
        self.user_id = 0
        self.conn_id = f"ws.{uuid.uuid4().hex}"
        self.hub = get_hub()
        self.groups: set[str] = set()
        self.watching: set[int] = set()  # friends
        self.member_of: dict[int, set[int]] = {}  # room members watched: user id -> joined rooms
        self.forgotten: set[int] = set()  # blocked either way while this socket is open
        self.rooms: set[int] = set()
        self.at_once = False  # ends for presence at once (logout), not after the reload grace
        self.closed = False  # a close frame is queued, or the client is gone: nothing more is sent
        self.cut = False
        self.strikes = 0
        self.outbox: deque[dict[str, Any]] = deque()
        self.writer: asyncio.Future | None = None
        self.inbox: deque[tuple[str | None, bytes | None]] = deque()
        self.worker: asyncio.Task | None = None
        self.task: asyncio.Task | None = None
        self.opened = False
        self.counted = False  # in the open-connections gauge

    # --- the connection's life ---------------------------------------------------------

    async def run(self, receive: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        self.task = asyncio.current_task()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept, then close: clients tell "not signed in" from a network failure.
            await self._send({"type": "websocket.accept"})
            await self._send({"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED})
            return
        self.user, self.user_id = user, user.pk
        self.credentials = protocol.CREDENTIALS(self.scope)
        self.hub.sockets.add(self)
        code = None
        try:
            # The opening steps run before the accept, so a client that sees it open has its
            # snapshot next; what they write meanwhile waits in the outbox.
            self.writer = asyncio.get_running_loop().create_future()  # holds writes until accepted
            try:
                await self.hub.start()
                self.opened = True
                await self.subscribe(user_group(self.user_id))
                session = self.scope.get("session")
                if session is not None and session.session_key:
                    await self.subscribe(session_group(session.session_key))
                for opened in protocol.OPENED:
                    await opened(self)
            except Refused as refused:
                self.closed = False
                self.close(refused.code)
            await self._send({"type": "websocket.accept"})
            metrics.connection_opened()
            self.counted = True
            self.writer = None
            self._flush()
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    self._take(message.get("text"), message.get("bytes"))
                elif kind == "websocket.disconnect":
                    code = message.get("code")
                    break
        except asyncio.CancelledError:
            if not self.cut:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        finally:
            self.closed = True
            await self._end(code)

    async def _end(self, code: int | None) -> None:
        self.hub.sockets.discard(self)
        if self.counted:
            self.counted = False
            metrics.connection_closed()
        await self._stop_worker()
        if code == CLOSE_SERVICE_RESTART:
            # The server is going away: the client reconnects elsewhere or to its restart;
            # its record counts until it expires, so friends see no flap meanwhile.
            self.at_once = False
        if self.opened:
            for closed in protocol.CLOSED:
                try:
                    await closed(self, code)
                except Exception:
                    logger.warning("closing step %s failed", getattr(closed, "__qualname__", closed), exc_info=True)
        for group in self.groups:
            self.hub.discard(group, self)
        for user_id in self.watching | self.member_of.keys():
            self.hub.unwatch(user_id, self)
        for room_id in list(self.rooms):
            self.leave_room(room_id)
        self.groups.clear()
        self.watching.clear()
        self.member_of.clear()

    # --- writing -----------------------------------------------------------------------

    def write(self, text: str) -> None:
        self._out({"type": "websocket.send", "text": text})

    def reply(self, payload: dict[str, Any]) -> None:
        self.write(dumps(payload))

    def close(self, code: int) -> None:
        if code in (CLOSE_UNAUTHENTICATED, 1000):
            self.at_once = True
        self._out({"type": "websocket.close", "code": code})
        self.closed = True

    def _out(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        if self.writer is not None:
            self.outbox.append(message)
            if len(self.outbox) > OUTBOX_LIMIT:
                self._cut_off()
            return
        try:
            waiting = eager.start(self._send(message))
        except OSError:
            # The client is gone (uvicorn's ClientDisconnected); its disconnect comes next.
            self.closed = True
            return
        if waiting is not None:
            self.writer = asyncio.ensure_future(self._drain(waiting))

    def _flush(self) -> None:
        """Send what waited for the accept."""
        waiting, self.outbox = self.outbox, deque()
        self.closed = False
        for message in waiting:
            self._out(message)
            if message["type"] == "websocket.close":
                self.closed = True

    async def _drain(self, waiting: Any) -> None:
        limit = _slow_client_seconds()
        try:
            async with asyncio.timeout(limit):
                await waiting
            while self.outbox:
                message = self.outbox.popleft()
                async with asyncio.timeout(limit):
                    await self._send(message)
        except TimeoutError:
            self._cut_off()
        except OSError:
            self.closed = True
        finally:
            self.writer = None

    def _cut_off(self) -> None:
        """The client stopped reading: end this socket as a lost connection (friends see it
        go after the reconnect grace); the server then drops it (no close frame can get
        through a full buffer)."""
        if self.cut:
            return
        logger.warning("cutting off a client that stopped reading (user %s)", self.user_id)
        metrics.slow_client_cut()
        self.cut = True
        self.closed = True
        self.outbox.clear()
        if self.task is not None:
            self.task.cancel()

    # --- groups and rooms (chatty.wire.Conn) -----------------------------------------------

    async def subscribe(self, group: str) -> None:
        if group not in self.groups:
            self.groups.add(group)
            await self.hub.add(group, self)

    def unsubscribe(self, group: str) -> None:
        if group in self.groups:
            self.groups.discard(group)
            self.hub.discard(group, self)

    def watch(self, user_id: int, since: float | None = None) -> None:
        self.watching.add(user_id)
        self.hub.watch(user_id, self, time.time() if since is None else since)

    def unwatch(self, user_id: int) -> None:
        self.watching.discard(user_id)
        if user_id not in self.member_of:
            self.hub.unwatch(user_id, self)

    def watch_members(self, room_id: int, user_ids: list[int], since: float) -> None:
        """The room's members are now exactly `user_ids` (a join, or members in or out)."""
        if room_id not in self.rooms:
            return  # left while the members were read
        wanted = set(user_ids) - self.forgotten
        for user_id, rooms in list(self.member_of.items()):
            if room_id in rooms and user_id not in wanted:
                self._drop_member(user_id, room_id)
        for user_id in wanted:
            rooms = self.member_of.setdefault(user_id, set())
            if not rooms and user_id not in self.watching:
                self.hub.watch(user_id, self, since)
            rooms.add(room_id)

    def _drop_member(self, user_id: int, room_id: int) -> None:
        rooms = self.member_of.get(user_id, set())
        rooms.discard(room_id)
        if not rooms:
            self.member_of.pop(user_id, None)
            if user_id not in self.watching:
                self.hub.unwatch(user_id, self)

    def _unwatch_members(self, room_id: int) -> None:
        for user_id in [u for u, rooms in self.member_of.items() if room_id in rooms]:
            self._drop_member(user_id, room_id)

    def forget(self, user_id: int) -> None:
        """A block: nothing more of this user's presence on this socket, whatever comes."""
        self.forgotten.add(user_id)
        self.watching.discard(user_id)
        self.member_of.pop(user_id, None)
        self.hub.unwatch(user_id, self)

    def in_room(self, room_id: int) -> bool:
        return room_id in self.rooms

    async def join_room(self, room_id: int, after_id: int | None) -> None:
        """Subscribe first, then read: what the stream passes on meanwhile is held and sent
        after the replay (edge/streams.py)."""
        rooms = protocol.ROOMS
        stream = await self.hub.stream(room_id)
        stream.add(self)
        try:
            replay, overflow, latest, then = await rooms.load_join(self.user, room_id, after_id)
        except BaseException:
            if room_id in self.rooms:
                stream.joined(self, 0)  # a failed re-join leaves the socket joined as it was
            else:
                stream.remove(self)
                self.hub.release_stream(room_id)
            raise
        seen = latest
        if after_id is not None and not overflow:
            seen = int(replay[-1]["id"]) if replay else after_id
        self.rooms.add(room_id)
        await rooms.joined(self, room_id)
        if overflow:
            self.reply({"type": "resync", "chatroomId": str(room_id)})
        else:
            for payload in replay:
                write_out(self, rooms.render_message(payload))
        self.reply({"type": "joinedChatroom", "chatroomId": str(room_id)})
        stream.joined(self, seen)
        await then()

    def leave_room(self, room_id: int) -> None:
        self.rooms.discard(room_id)
        self._unwatch_members(room_id)
        stream = self.hub.streams.get(room_id)
        if stream is not None:
            stream.remove(self)
            self.hub.release_stream(room_id)

    async def limit(self, action: str) -> None:
        """One `action` against this user's budget (chatty/limits.py: the same budget as the
        API's and the forms'); RateLimited past it."""
        await limits.ahit(action, self.user_id)

    # --- frames from the client -------------------------------------------------------

    def _take(self, text: str | None, data: bytes | None) -> None:
        if self.closed:
            return  # closing: what the client sent after that goes unanswered
        if len(self.inbox) >= INBOX_LIMIT:
            self._error("rate_limited", "Too many frames waiting; slow down.", None)
            return
        self.inbox.append((text, data))
        if self.worker is None:
            self.worker = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        try:
            while self.inbox:
                text, data = self.inbox.popleft()
                if self.closed:
                    continue
                try:
                    await self._handle(text, data)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("websocket frame worker")
        finally:
            self.worker = None

    async def _stop_worker(self) -> None:
        worker = self.worker
        if worker is None or worker.done():
            return
        self.inbox.clear()
        # Let the frame in hand finish its database call (a send then still publishes).
        with contextlib.suppress(Exception):
            await asyncio.wait([worker], timeout=WORKER_GRACE)
        if not worker.done():
            worker.cancel()

    async def _handle(self, text: str | None, data: bytes | None) -> None:
        if text is None:
            # Every frame is JSON text; a binary frame is refused whatever it holds.
            self._error("bad_json", "Frames must be JSON text, not binary.", None)
            return
        # A str holds at most 4 bytes of UTF-8 per character: measure only when it may matter.
        if len(text) * 4 > MAX_FRAME_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
            self._error("too_long", "Frames are limited to 64 KiB.", None)
            return
        try:
            frame = json.loads(text)
        except (ValueError, RecursionError):
            self._error("bad_json", "The frame is not valid JSON.", None)
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self._error("invalid", "A frame must be a JSON object with a string type.", None)
            return
        kind = frame["type"]
        handler = protocol.FRAMES.get(kind)
        metrics.frame_in(kind if handler is not None else None)
        client_id = frame.get("clientId") if kind == "sendMessage" else None
        try:
            if handler is None:
                # Unknown frames count against a limit too (a flood of them is a flood).
                await self.limit(limits.OTHER)
                self._error("unknown_type", "Unknown frame type.", kind)
                return
            await handler(self, frame)
            self.strikes = 0
        except RateLimited as exc:
            metrics.rate_limited("websocket")
            self.strikes += 1
            self._error(exc.code, str(exc.detail), kind, client_id)
            if self.strikes >= FLOOD_STRIKES:
                self.close(CLOSE_FLOODING)
        except ChattyError as exc:
            self._error(exc.code, str(exc.detail), kind, client_id)
        except Exception:
            logger.exception("frame %s failed", kind)
            self._error("invalid", "The frame could not be handled; try again.", kind, client_id)

    def _error(self, code: str, detail: str, ref: str | None, client_id: Any = None) -> None:
        frame: dict[str, Any] = {"type": "error", "error": code, "detail": detail, "ref": ref}
        if isinstance(client_id, str | int) and not isinstance(client_id, bool):
            frame["clientId"] = client_id
        self.reply(frame)


def _language(scope: dict[str, Any]) -> str:
    query = scope.get("query_string", b"").decode("latin1")
    languages = {code for code, _ in settings.LANGUAGES}
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "lang" and value in languages:
            return value
    return settings.LANGUAGE_CODE


class Edge:
    """The ASGI application of one websocket path."""

    def __init__(self, *, ui: bool) -> None:
        self.ui = ui

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await Socket(scope, send, ui=self.ui).run(receive)
