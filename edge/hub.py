"""One fan-out per process.

The process has ONE channel on the channel layer and subscribes it once to every group that
at least one of its sockets follows (a user's group, a room's members, a room's live
stream), instead of a channel and a subscription per socket. An event published to a group
(chatty.realtime names the group inside it) reaches each process that follows the group once;
the hub renders it once (the domain's renderer: JSON, and HTML per language for browser
sockets) and writes that text to each local socket of the group. The per-socket step is a
write, never a decode, a queue hop or a render.

Presence is one group for the whole site (`presence`): a change is published once and each
process hands it to the local sockets of the user's friends (`watch`), so a user with a
hundred friends costs one publish, not a hundred.

Groups left without local sockets are unsubscribed a little later (`IDLE_GROUP_SECONDS`), so
a page reload does not unsubscribe and subscribe again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import Counter
from collections.abc import Iterable
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from chatty import metrics, realtime
from chatty.realtime import PRESENCE_GROUP
from chatty.wire import Out
from edge import protocol
from edge.streams import RoomStream

logger = logging.getLogger(__name__)

IDLE_GROUP_SECONDS = 30.0


class Hub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.members: dict[str, set[Any]] = {}  # group -> local sockets
        self.subscribed: dict[str, asyncio.Future] = {}  # group -> its subscription (done or under way)
        self.idle: dict[str, float] = {}  # group -> since when it has no local socket
        # user id -> {local socket that sees their presence: since when (its snapshot's time)}
        self.watchers: dict[int, dict[Any, float]] = {}
        self.streams: dict[int, RoomStream] = {}
        self.sockets: set[Any] = set()  # every local socket (for the periodic re-check)
        # Events rendered, by type ("message": a room's stream's), once per process: tests count them.
        self.rendered: Counter[str] = Counter()
        self._task: asyncio.Task | None = None
        self._started: asyncio.Future | None = None
        self._last_sweep = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- life ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started is None:
            self._loop = asyncio.get_running_loop()
            self._started = self._loop.create_future()
            try:
                self.channel = await self.layer.new_channel("edge.")
                await self._subscribe(PRESENCE_GROUP)
                self._task = asyncio.ensure_future(self._receive())
                self._recheck_task = asyncio.ensure_future(self._recheck())
                realtime.on_layer_restored(self.resubscribe)
            except BaseException as exc:
                self._started.set_exception(exc)
                self._started.exception()  # retrieved: a later start awaits it again
                self._started = None
                raise
            self._started.set_result(None)
        elif not self._started.done():
            await asyncio.shield(self._started)

    async def _receive(self) -> None:
        task = asyncio.current_task()
        while not (task is not None and task.cancelling()):
            try:
                event = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("hub: the channel layer failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            try:
                self.dispatch(event)
            except Exception:
                logger.exception("hub: event %s failed", event.get("type"))
            if time.monotonic() - self._last_sweep > IDLE_GROUP_SECONDS:
                self._last_sweep = time.monotonic()
                spawn(self._sweep_idle())

    async def resubscribe(self) -> None:
        """Subscribe this process's channel and groups again (SUBSCRIBE is idempotent): after a
        Redis restart the pub/sub connection was seen to come back without some of them, and
        the process then heard nothing more of those rooms. Only channels-redis' pub/sub layer
        has this connection; the others need nothing."""
        if self._loop is not asyncio.get_running_loop():
            return
        inner = self.layer._get_layer() if hasattr(self.layer, "_get_layer") else None
        shards = getattr(inner, "_shards", None)
        if not shards or self.channel is None:
            return
        names = [self.channel]
        names += [
            inner._get_group_channel_name(g) for g, f in self.subscribed.items() if f.done() and not f.exception()
        ]
        for shard in shards:
            mine = [n for n in names if inner._get_shard(n) is shard]
            if mine and shard._pubsub is not None:
                async with shard._lock:
                    await shard._pubsub.subscribe(*mine)
        logger.warning("hub: subscribed %d channels again after the layer came back", len(names))

    async def _recheck(self) -> None:
        """Every socket is checked again on a timer: its session or token must still sign its
        user in (a session that expired, a password changed or a user deactivated by a
        QuerySet.update(), which publish nothing, end their sockets here)."""
        task = asyncio.current_task()
        while not (task is not None and task.cancelling()):
            await asyncio.sleep(recheck_seconds())
            try:
                await self.recheck_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("hub: could not re-check the sockets", exc_info=True)

    async def recheck_now(self) -> int:
        """Close the local sockets whose credentials no longer hold; how many were closed.
        One trip to a database thread, one check per distinct credential (tabs share one)."""
        by_credentials: dict[tuple[int, str | None, str | None], list[Any]] = {}
        for conn in list(self.sockets):
            if not conn.closed:
                by_credentials.setdefault((conn.user_id, *conn.credentials), []).append(conn)
        if not by_credentials:
            return 0
        invalid = await _invalid_credentials(list(by_credentials))
        closed = 0
        for credentials in invalid:
            for conn in by_credentials[credentials]:
                conn.close(protocol.CLOSE_UNAUTHENTICATED)
                closed += 1
        return closed

    # --- groups ------------------------------------------------------------------------

    async def _subscribe(self, group: str) -> None:
        future = self.subscribed.get(group)
        if future is None:
            future = self.subscribed[group] = asyncio.get_running_loop().create_future()
            try:
                await self.layer.group_add(group, self.channel)
            except BaseException as exc:
                del self.subscribed[group]
                future.set_exception(exc)
                future.exception()
                raise
            future.set_result(None)
        elif not future.done():
            await asyncio.shield(future)

    async def add(self, group: str, conn: Any) -> None:
        """The socket receives the group's events from now on (once this returns)."""
        members = self.members.setdefault(group, set())
        members.add(conn)
        self.idle.pop(group, None)
        try:
            await self._subscribe(group)
        except BaseException:
            members.discard(conn)
            raise

    def discard(self, group: str, conn: Any) -> None:
        members = self.members.get(group)
        if members is not None:
            members.discard(conn)
            if not members:
                self.idle[group] = time.monotonic()

    async def _sweep_idle(self) -> None:
        now = time.monotonic()
        for group, since in list(self.idle.items()):
            if now - since < IDLE_GROUP_SECONDS or self.members.get(group):
                continue
            self.idle.pop(group, None)
            self.members.pop(group, None)
            future = self.subscribed.pop(group, None)
            if future is not None and future.done() and not future.exception():
                try:
                    await self.layer.group_discard(group, self.channel)
                except Exception:
                    logger.warning("hub: could not unsubscribe %s", group, exc_info=True)

    def watch(self, user_id: int, conn: Any, since: float) -> None:
        """The socket sees this user's presence changes published from `since` on (the time
        its snapshot was read: what was published before is in the snapshot, even when the
        event arrives after it)."""
        self.watchers.setdefault(user_id, {})[conn] = since

    def unwatch(self, user_id: int, conn: Any) -> None:
        watching = self.watchers.get(user_id)
        if watching is not None:
            watching.pop(conn, None)
            if not watching:
                del self.watchers[user_id]

    # --- room streams ------------------------------------------------------------------

    async def stream(self, room_id: int) -> RoomStream:
        stream = self.streams.get(room_id)
        if stream is None:
            stream = self.streams[room_id] = RoomStream(
                room_id,
                fetch_missed=protocol.ROOMS.fetch_missed,
                render=self._render_message,
                deliver=write_out,
                resync=_resync,
            )
        # The room's own events and its messages (which come through the members' group): the
        # process hears both before a joining socket reads the database, so nothing sent
        # between that read and the socket's own subscriptions is lost.
        for group in (protocol.ROOMS.group(room_id), protocol.ROOMS.message_group(room_id)):
            self.idle.pop(group, None)
            self.members.setdefault(group, set())
            await self._subscribe(group)
        return stream

    def release_stream(self, room_id: int) -> None:
        stream = self.streams.get(room_id)
        if stream is not None and not len(stream):
            del self.streams[room_id]
            for group in (protocol.ROOMS.group(room_id), protocol.ROOMS.message_group(room_id)):
                if not self.members.get(group):
                    self.idle[group] = time.monotonic()

    def _render_message(self, payload: dict[str, Any]) -> Out:
        self.rendered["message"] += 1
        stream = self.streams.get(int(payload["chatroomId"]))
        if stream is not None:
            metrics.deliveries(len(stream))  # counted once per message, not per socket
            metrics.frame_out("message", len(stream))
        return protocol.ROOMS.render_message(payload)

    # --- events ------------------------------------------------------------------------

    def dispatch(self, event: dict[str, Any]) -> None:
        group = event.pop("g", None)
        kind = event.get("type")
        if group == PRESENCE_GROUP:
            watching = self.watchers.get(int(event["user_id"]))
            if not watching:
                return
            at = float(event.get("at", 0.0))
            conns: Iterable[Any] | None = [c for c, since in watching.items() if at >= since]
        elif kind == protocol.ROOMS.message_event:
            # One event per message, to the room's members group: the sockets joined to the
            # room get the message through its stream (in order, gaps filled), and every
            # socket of every participant its lastMessage (as from any members-group event).
            stream = self.streams.get(protocol.STREAM_EVENTS[kind](event))
            if stream is not None:
                stream.on_message(event)
            conns = self.members.get(group)
        elif kind in protocol.STREAM_EVENTS:
            stream = self.streams.get(protocol.STREAM_EVENTS[kind](event))
            if stream is None:
                return
            conns = stream.live()
        else:
            conns = self.members.get(group)
        if not conns:
            return
        renderer = protocol.EVENTS.get(kind)
        if renderer is None:
            logger.warning("hub: no renderer for %s", kind)
            return
        self.rendered[kind] += 1
        out = renderer(event)
        if out is not None:
            conns = list(conns)
            fan_out(out, conns)
            metrics.frame_out(protocol.FRAME_OF_EVENT.get(kind, kind), len(conns))


_background: set[asyncio.Future] = set()


def spawn(awaitable: Any) -> None:
    """Run in the background, keeping a reference until done (the loop keeps only weak ones)."""
    future = asyncio.ensure_future(awaitable)
    _background.add(future)
    future.add_done_callback(_background.discard)


def recheck_seconds() -> float:
    return float(getattr(settings, "CHATTY_SOCKET_RECHECK_SECONDS", 30.0))


@database_sync_to_async
def _invalid_credentials(credentials: list[tuple[int, str | None, str | None]]) -> list[tuple]:
    return protocol.INVALID_CONNECTIONS(credentials)


def fan_out(out: Out, conns: Iterable[Any]) -> None:
    for conn in list(conns):
        if out.skip_user is not None and conn.user_id == out.skip_user:
            continue
        if out.effect is not None:
            result = out.effect(conn)
            if result is not None:
                spawn(result)
        write_out(conn, out)


def write_out(conn: Any, out: Out) -> None:
    """Write what an event became to one socket: its JSON frame and, on the browser's socket,
    then its HTML (made once per language, or per side, and kept on the `Out`). The browser's
    socket keeps the JSON too: its clients read acks, joins and errors from it, and a
    delivery is a `message` frame on either socket."""
    if out.per_user is not None:
        conn.write(out.per_user(conn.user_id))
    elif out.text is not None:
        conn.write(out.text)
    if conn.ui:
        if out.html_per_user is not None:
            html = out.html_per_user(conn.user_id, conn.lang)
        elif out.html is not None:
            html = _html_for(out, conn.lang)
        else:
            return
        if html:
            conn.write(html)


def _html_for(out: Out, lang: str) -> str:
    html = out.cache.get(lang)
    if html is None:
        html = out.cache[lang] = out.html(lang)
    return html


def _resync(conn: Any, room_id: int) -> None:
    conn.reply({"type": "resync", "chatroomId": str(room_id)})


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """This process's hub (one per event loop: a restarted server or the next test gets a new one)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(get_channel_layer())
    return hub
