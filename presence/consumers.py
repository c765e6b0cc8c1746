"""The one websocket endpoint, /ws/ (SPEC §4).

Thin by design: `receive` validates a frame and calls a service; the handlers of layer
events only render and send. Identity is `scope["user"]` (session or bearer token), never a
field of a frame.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.models import User
from chats import selectors as chat_selectors
from chats import services as chat_services
from chats.models import CATCH_UP_LIMIT
from chatty import metrics
from chatty.dbcalls import hot_db_call
from chatty.errors import ChattyError, Invalid, RateLimited, parse_id
from chatty.live import astatuses
from chatty.realtime import collecting, members_group, publish, room_group, session_group, user_group
from chatty.store import get_store
from friends.selectors import friend_ids
from presence import services as presence
from presence.runtime import registry

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FLOODING = 4429
RATE_WINDOW = 10.0
# Per user per window, across processes: the frames that write, fan out to every friend, or
# replay up to CATCH_UP_LIMIT messages.
RATE_LIMITS = {
    "sendMessage": 50,
    "typing": 20,
    "userOnline": 10,
    "changeStatus": 10,
    "connectToRoom": 50,
    "markRead": 100,
}
FLOOD_STRIKES = 20  # rate_limited answers in a row before the socket is closed
INBOX_LIMIT = 64  # frames waiting for this socket's worker before more are refused
WORKER_GRACE = 10.0  # seconds a closing socket waits for the frame being handled
# A frame the client has not taken after this long (its socket buffers are full: it stopped
# reading) cuts the connection: what queues up for it meanwhile is bounded, the others in
# its rooms are not held up, and it catches up with `afterId` when it comes back. Only
# servers that apply backpressure to `send` (uvicorn) can tell; daphne buffers everything.
SLOW_CLIENT_SECONDS = getattr(settings, "CHATTY_SLOW_CLIENT_SECONDS", 10.0)


def dumps(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate the client sent as a JSON escape ("\ud800"), echoed as `ref` or
            # `clientId`: a text frame must be UTF-8, so send it escaped again.
            return json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return text


class _Rendered:
    """The text of a message's frames, made once per process and reused for every socket
    the event reaches, instead of once per socket."""

    SIZE = 256  # entries (two per message): what is being delivered right now

    def __init__(self) -> None:
        self.texts: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}

    def get(self, kind: str, message: dict[str, Any]) -> str:
        key = (kind, message["id"])
        cached = self.texts.get(key)
        if cached is not None and cached[0] == message:  # the same message, not a reused id
            return cached[1]
        if len(self.texts) >= self.SIZE:
            self.texts.clear()
        if kind == "message":
            text = dumps({"type": "message", "chatroomId": message["chatroomId"], "message": message})
        else:  # lastMessage: all but the count, which differs per participant
            head = dumps({"type": "lastMessage", "chatroomId": message["chatroomId"], "message": message})
            text = head[:-1] + ',"unreadMessagesCount":'
        self.texts[key] = (message, text)
        return text


_rendered = _Rendered()


def _room_id(frame: dict[str, Any]) -> int:
    return parse_id(frame.get("chatroomId"), "chatroomId")


def _optional_id(frame: dict[str, Any], field: str) -> int | None:
    """An id that may be left out (`afterId`, and `messageId` checked by its handler); 0 allowed."""
    raw = frame.get(field)
    return None if raw is None else parse_id(raw, field, minimum=0)


@database_sync_to_async
def _load_start(user_id: int) -> tuple[User | None, list[int]]:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None, []
    return user, chat_selectors.room_ids_of(user_id=user_id)


@database_sync_to_async
def _online_friends(user_id: int) -> list[User]:
    return list(User.objects.filter(pk__in=friend_ids(user_id=user_id)))


@hot_db_call
def _join(user: User, room_id: int, after_id: int | None):
    room = chat_selectors.room_for_member(user_id=user.pk, room_id=room_id)
    replay, overflow = [], False
    if after_id is not None:
        replay, overflow = chat_selectors.messages_after(room_id=room.pk, after_id=after_id, limit=CATCH_UP_LIMIT)
    latest = chat_services.read_mark(user=user, room_id=room.pk)
    return [chat_selectors.message_payload(m) for m in replay], overflow, latest


@hot_db_call
def _missed(room_id: int, after_id: int, before_id: int) -> tuple[list[dict], bool]:
    page, overflow = chat_selectors.messages_after(room_id=room_id, after_id=after_id, limit=CATCH_UP_LIMIT)
    return [chat_selectors.message_payload(m) for m in page if m.pk < before_id], overflow


_send = hot_db_call(collecting(chat_services.message_send))
_mark_read = hot_db_call(chat_services.read_mark)
_friends_of = database_sync_to_async(presence.friends_of_sync)
_is_member = database_sync_to_async(chat_selectors.room_for_member)


class ChatConsumer(AsyncWebsocketConsumer):
    user: User | None = None
    closed = False  # a close frame went out: nothing more can be sent

    async def connect(self) -> None:
        scope_user = self.scope.get("user")
        user = None
        if scope_user is not None and scope_user.is_authenticated:
            user, room_ids = await _load_start(scope_user.pk)
        if user is None:
            # Accept, then close: clients tell "not signed in" from a network failure.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.rooms: dict[int, int] = {}  # joined room id -> last message id sent on this socket
        self.strikes = 0
        self.closing = False
        groups = [user_group(user.pk), *(members_group(r) for r in room_ids)]
        session = self.scope.get("session")
        if session is not None and session.session_key:
            groups.append(session_group(session.session_key))
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups = groups
        # Frames are handled one after the other by a worker task of this socket, so that
        # while one waits for the database, events from the layer still reach the client.
        # (A task only while there are frames: an idle socket holds none.)
        self.inbox: deque[tuple[str | None, bytes | None]] = deque()
        self.worker: asyncio.Task | None = None
        self.joining: dict[int, list[dict]] = {}  # room id -> live events held during its join
        await self.accept()
        metrics.connection_opened()
        self.counted = True
        registry.add(self.channel_name, user.pk)
        await presence.connection_opened(user=user, conn_id=self.channel_name, friends_of=_friends_of)
        await self._send_presence_snapshot()

    async def disconnect(self, code: int) -> None:
        if self.user is None:
            return
        if getattr(self, "counted", False):  # a cut-off client disconnects twice
            self.counted = False
            metrics.connection_closed()
        await self._stop_worker()
        registry.discard(self.channel_name)
        store = get_store()
        for room_id in list(self.rooms):
            try:
                await store.leave_room(room_id, self.user.pk, self.channel_name)
                await _mark_read(user=self.user, room_id=room_id)
            except Exception:
                logger.warning("could not leave room %s on disconnect", room_id, exc_info=True)
        try:
            await presence.connection_closed(
                user_id=self.user.pk, conn_id=self.channel_name, at_once=self.closing, friends_of=_friends_of
            )
        except Exception:
            # The record expires by itself; the sweep then tells the friends.
            logger.warning("could not release presence on disconnect", exc_info=True)

    # --- frames from the client ------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user is None:
            return
        if len(self.inbox) >= INBOX_LIMIT:
            await self._error("rate_limited", "Too many frames waiting; slow down.", None)
            return
        self.inbox.append((text_data, bytes_data))
        if self.worker is None or self.worker.done():
            self.worker = asyncio.create_task(self._work())

    async def _work(self) -> None:
        while self.inbox:
            text_data, bytes_data = self.inbox.popleft()
            if self.closed:
                continue  # closing: what the client sent after that goes unanswered
            try:
                await self._handle(text_data, bytes_data)
            except StopConsumer:
                # Cut off while answering a frame (the cleanup ran): end the consumer too.
                await self.channel_layer.send(self.channel_name, {"type": "consumer.stop"})
                return
            except Exception:
                logger.exception("websocket frame worker")

    async def _stop_worker(self) -> None:
        worker = getattr(self, "worker", None)
        if worker is None or worker is asyncio.current_task() or worker.done():
            return
        self.inbox.clear()
        worker.cancel()
        # Let the frame in hand finish its database call (a send then still publishes).
        await asyncio.wait([worker], timeout=WORKER_GRACE)

    async def consumer_stop(self, event: dict) -> None:
        raise StopConsumer()

    async def _handle(self, text_data: str | None, bytes_data: bytes | None) -> None:
        if text_data is None:
            # Every frame is JSON text; a binary frame is refused whatever it holds.
            await self._error("bad_json", "Frames must be JSON text, not binary.", None)
            return
        # A str holds at most 4 bytes of UTF-8 per character: measure only when it may matter.
        if len(text_data) * 4 > MAX_FRAME_BYTES and len(text_data.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
            await self._error("too_long", "Frames are limited to 64 KiB.", None)
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._error("bad_json", "The frame is not valid JSON.", None)
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self._error("invalid", "A frame must be a JSON object with a string type.", None)
            return
        kind = frame["type"]
        metrics.frame_in(kind)
        handler = self.FRAME_HANDLERS.get(kind)
        if handler is None:
            await self._error("unknown_type", "Unknown frame type.", kind)
            return
        client_id = frame.get("clientId") if kind == "sendMessage" else None
        try:
            await handler(self, frame)
            self.strikes = 0
        except RateLimited as exc:
            self.strikes += 1
            await self._error(exc.code, exc.detail, kind, client_id)
            if self.strikes >= FLOOD_STRIKES:
                await self.close(code=CLOSE_FLOODING)
        except ChattyError as exc:
            await self._error(exc.code, exc.detail, kind, client_id)
        except StopConsumer:
            raise
        except Exception:
            logger.exception("frame %s failed", kind)
            await self._error("invalid", "The frame could not be handled; try again.", kind, client_id)

    async def dispatch(self, message: dict) -> None:
        # Channels (since 4.2) first hops to its database thread to close stale connections,
        # before every handler: for each frame and for each event delivered to each socket,
        # one after the other on that one thread. Every database call here goes through
        # database_sync_to_async, which closes stale connections itself: skip the hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if not self.closed:
            self.closed = True
            await super().close(code=code, reason=reason)

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        if self.closed:
            return
        timeout = asyncio.timeout(SLOW_CLIENT_SECONDS)
        try:
            async with timeout:
                await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except TimeoutError:
            if not timeout.expired():
                raise
            await self._cut_off()
        except OSError:
            # The client is gone (uvicorn's ClientDisconnected); its disconnect comes next.
            return

    async def _cut_off(self) -> None:
        """The client stopped reading: leave every group, release presence as for a lost
        connection (friends see it go after the reconnect grace), and end the consumer; the
        server then drops the socket (no close frame can get through a full buffer)."""
        logger.warning("cutting off a client that stopped reading (user %s)", self.user.pk if self.user else None)
        metrics.slow_client_cut()
        await self.websocket_disconnect({"type": "websocket.disconnect", "code": 1006})

    async def _error(self, code: str, detail: str, ref: str | None, client_id: Any = None) -> None:
        frame: dict[str, Any] = {"type": "error", "error": code, "detail": detail, "ref": ref}
        if isinstance(client_id, str | int) and not isinstance(client_id, bool):
            frame["clientId"] = client_id
        await self.send(text_data=dumps(frame))

    async def _limit(self, kind: str) -> None:
        if not await get_store().hit(f"{kind}:{self.user.pk}", RATE_LIMITS[kind], RATE_WINDOW):
            raise RateLimited()

    async def _send_presence_snapshot(self) -> None:
        friends = await _online_friends(self.user.pk)
        status = await astatuses(friends)
        await self.send(text_data=dumps({"type": "retrieveCurrentUser", "status": self.user.chosen_status}))
        online = {str(uid): {"status": s} for uid, s in status.items() if s != "offline"}
        await self.send(text_data=dumps({"type": "retrieveOnlineFriends", "friends": online}))

    async def frame_user_online(self, frame: dict) -> None:
        await self._limit("userOnline")
        await presence.connection_opened(user=self.user, conn_id=self.channel_name, friends_of=_friends_of)
        await self._send_presence_snapshot()

    async def frame_change_status(self, frame: dict) -> None:
        await self._limit("changeStatus")
        status = frame.get("status")
        if not isinstance(status, str):
            raise Invalid("status must be 'online' or 'away'.")
        self.user = await presence.status_change(user=self.user, status=status, friends_of=_friends_of)

    async def frame_connect_to_room(self, frame: dict) -> None:
        await self._limit("connectToRoom")
        room_id = _room_id(frame)
        after_id = _optional_id(frame, "afterId")
        # Subscribe first, then read: live events for the room that arrive meanwhile are
        # held (`self.joining`) and sent after the replay, those it covered skipped by id, so
        # nothing is missed or doubled.
        group = room_group(room_id)
        held = self.joining.setdefault(room_id, [])
        try:
            await self._join_room(room_id, after_id, group)
            # What arrived while joining, in order (the replay covered some: skipped by id);
            # the room is held until none is left, so nothing newer overtakes them.
            while held:
                await self._deliver(held.pop(0), joining=True)
        finally:
            self.joining.pop(room_id, None)

    async def _join_room(self, room_id: int, after_id: int | None, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        try:
            replay, overflow, latest = await _join(self.user, room_id, after_id)
        except ChattyError:
            if room_id not in self.rooms:
                await self.channel_layer.group_discard(group, self.channel_name)
            raise
        for joined in (group, members_group(room_id)):
            # The members group too: a room created after this socket connected (by this
            # very user, who gets no addedInChatroom) then sends its lastMessage here.
            if joined not in self.groups:
                self.groups.append(joined)
                if joined != group:
                    await self.channel_layer.group_add(joined, self.channel_name)
        # Without afterId (or past the replay limit) the client loads what came before through
        # the API: live from the newest on. After a replay, live events for anything stored
        # after its read are among those held for this join.
        seen = latest
        if after_id is not None and not overflow:
            seen = int(replay[-1]["id"]) if replay else after_id
        self.rooms[room_id] = max(self.rooms.get(room_id, 0), seen)
        registry.joined(self.channel_name, room_id)
        await get_store().join_room(room_id, self.user.pk, self.channel_name)
        if overflow:
            await self.send(text_data=dumps({"type": "resync", "chatroomId": str(room_id)}))
        else:
            for message in replay:
                await self.send(text_data=dumps({"type": "message", "chatroomId": str(room_id), "message": message}))
        await self.send(text_data=dumps({"type": "joinedChatroom", "chatroomId": str(room_id)}))

    async def frame_leave_chatroom(self, frame: dict) -> None:
        room_id = _room_id(frame)
        if room_id not in self.rooms:
            await _is_member(user_id=self.user.pk, room_id=room_id)
            return
        await _mark_read(user=self.user, room_id=room_id)
        del self.rooms[room_id]
        registry.left(self.channel_name, room_id)
        await get_store().leave_room(room_id, self.user.pk, self.channel_name)
        group = room_group(room_id)
        if group in self.groups:
            self.groups.remove(group)
        await self.channel_layer.group_discard(group, self.channel_name)

    async def frame_send_message(self, frame: dict) -> None:
        started = time.perf_counter()
        await self._limit("sendMessage")
        room_id = _room_id(frame)
        viewers = await get_store().room_viewers(room_id)
        (message, _created), events = await _send(
            sender=self.user,
            room_id=room_id,
            text=frame.get("message"),
            client_id=frame.get("clientId"),
            viewer_ids=viewers,
        )
        try:
            await self.send(
                text_data=dumps(
                    {
                        "type": "ack",
                        "clientId": message.client_id,
                        "messageId": str(message.pk),
                        "timestamp": chat_selectors.millis(message.created_at),
                    }
                )
            )
            metrics.send_ack(time.perf_counter() - started)
        finally:
            # Stored and committed: the room hears of it even if this socket is gone.
            await publish(events)

    async def frame_mark_read(self, frame: dict) -> None:
        await self._limit("markRead")
        room_id = _room_id(frame)
        message_id = _optional_id(frame, "messageId")
        if message_id is None:
            raise Invalid("messageId must be an id.")
        await _mark_read(user=self.user, room_id=room_id, message_id=message_id)

    async def frame_typing(self, frame: dict) -> None:
        await self._limit("typing")
        room_id = _room_id(frame)
        if room_id not in self.rooms:
            await _is_member(user_id=self.user.pk, room_id=room_id)
        await presence.typing(room_id=room_id, user_id=self.user.pk)

    async def frame_logout(self, frame: dict) -> None:
        self.closing = True
        await self.close(code=1000)

    FRAME_HANDLERS = {
        "userOnline": frame_user_online,
        "changeStatus": frame_change_status,
        "connectToRoom": frame_connect_to_room,
        "leaveChatroom": frame_leave_chatroom,
        "sendMessage": frame_send_message,
        "markRead": frame_mark_read,
        "typing": frame_typing,
        "logout": frame_logout,
    }

    # --- events from the channel layer: render and send --------------------------------

    async def chat_message(self, event: dict) -> None:
        held = self.joining.get(int(event["message"]["chatroomId"]))
        if held is not None:
            held.append(event)  # the room is being joined: sent when the join is done
            return
        await self._deliver(event)

    async def _deliver(self, event: dict, joining: bool = False) -> None:
        message = event["message"]
        room_id = int(message["chatroomId"])
        message_id = int(message["id"])
        if room_id not in self.rooms or message_id <= self.rooms[room_id]:
            return
        if event.get("previous_id", 0) > self.rooms[room_id]:
            # An earlier message's event has not arrived (another process published it
            # later, or the layer dropped it): send it from the database first, in id order.
            missed, overflow = await _missed(room_id, self.rooms[room_id], message_id)
            if (room_id in self.joining and not joining) or room_id not in self.rooms:
                return  # the socket left, or joins again (that join reads the database later)
            if message_id <= self.rooms[room_id]:
                return
            if overflow:
                self.rooms[room_id] = message_id
                await self.send(text_data=dumps({"type": "resync", "chatroomId": str(room_id)}))
                return
            for earlier in missed:
                await self.send(text_data=dumps({"type": "message", "chatroomId": str(room_id), "message": earlier}))
        self.rooms[room_id] = message_id
        await self.send(text_data=_rendered.get("message", message))

    async def chat_last_message(self, event: dict) -> None:
        unread = int(event["unread"].get(str(self.user.pk), 0))
        await self.send(text_data=f"{_rendered.get('lastMessage', event['message'])}{unread}}}")

    async def chat_typing(self, event: dict) -> None:
        if event["user_id"] == self.user.pk or event["room_id"] not in self.rooms:
            return
        await self.send(
            text_data=dumps({"type": "typing", "chatroomId": str(event["room_id"]), "userId": str(event["user_id"])})
        )

    async def chat_added(self, event: dict) -> None:
        room = event["chatroom"]
        group = members_group(int(room["id"]))
        if group not in self.groups:
            self.groups.append(group)
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send(text_data=dumps({"type": "addedInChatroom", "chatroom": room}))

    async def chat_created(self, event: dict) -> None:
        """This user created a room: their sockets follow its lastMessage from now on."""
        group = members_group(int(event["room_id"]))
        if group not in self.groups:
            self.groups.append(group)
            await self.channel_layer.group_add(group, self.channel_name)

    async def chat_message_deleted(self, event: dict) -> None:
        await self.send(
            text_data=dumps(
                {"type": "messageDeleted", "chatroomId": str(event["room_id"]), "messageId": str(event["message_id"])}
            )
        )

    async def friend_added(self, event: dict) -> None:
        await self.send(text_data=dumps({"type": "addedAsFriend", "friend": event["friend"]}))

    async def friend_removed(self, event: dict) -> None:
        await self.send(text_data=dumps({"type": "removedAsFriend", "userId": str(event["user_id"])}))

    async def presence_changed(self, event: dict) -> None:
        await self.send(
            text_data=dumps({"type": "getOnlineFriend", "userId": str(event["user_id"]), "status": event["status"]})
        )

    async def presence_self(self, event: dict) -> None:
        self.user.chosen_status = event["status"]
        await self.send(text_data=dumps({"type": "retrieveCurrentUser", "status": event["status"]}))

    async def session_ended(self, event: dict) -> None:
        self.closing = True
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def user_deactivated(self, event: dict) -> None:
        self.closing = True
        await self.close(code=CLOSE_UNAUTHENTICATED)
