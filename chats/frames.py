"""Rooms and messages on the websocket: the client frames (parse into typed values, call a
service, reply) and the renderers of chat events (event -> chatty.wire.Out, once per process).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async

from chats import fastsend, fragments, inputs, selectors, sendbatch, services
from chats.models import CATCH_UP_LIMIT
from chats.uploads import parse_attachment_ids
from chatty import limits, metrics
from chatty.dbcalls import hot_db_call
from chatty.errors import ChattyError, Invalid
from chatty.live import STATUS_OFFLINE
from chatty.realtime import asend_now, collecting, members_group, publish, room_group
from chatty.store import get_store
from chatty.wire import Conn, Out, dumps, optional_id, render_fragment, required_id, room_id_of
from friends.selectors import blocked_either_way

TYPING_SHOWN_FOR = 4.0


# --- database calls ------------------------------------------------------------------


def _join_room(user: Any, room_id: int, after_id: int | None) -> tuple[list[dict], bool, int]:
    room, position = selectors.room_and_position(user_id=user.pk, room_id=room_id)
    replay, overflow = [], False
    if after_id is not None:
        replay, overflow = selectors.messages_after(room_id=room.pk, after_id=after_id, limit=CATCH_UP_LIMIT)
    latest = services.read_mark(user=user, room_id=room.pk, room=room, position=position)
    return selectors.message_payloads(replay), overflow, latest


@hot_db_call
def _missed(room_id: int, after_id: int, before_id: int) -> tuple[list[dict], bool]:
    page, overflow = selectors.messages_after(room_id=room_id, after_id=after_id, limit=CATCH_UP_LIMIT)
    return selectors.message_payloads([m for m in page if m.pk < before_id]), overflow


# Writes run on a database thread and hand their committed events back (`collecting`): they
# are published from the event loop, so the database thread never waits for Redis.
_join = hot_db_call(collecting(_join_room))
_send = hot_db_call(collecting(services.message_send))
_mark_read_call = hot_db_call(collecting(services.read_mark))
_mark_unread = hot_db_call(collecting(services.mark_unread))
_edit = hot_db_call(collecting(services.message_edit))
_remove = hot_db_call(collecting(services.message_remove))
_react = hot_db_call(collecting(services.reaction_toggle))


async def _mark_read(**kwargs: Any) -> int:
    target, events = await _mark_read_call(**kwargs)
    await publish(events)
    return target


@hot_db_call
def _presence_peers(user_id: int, room_id: int) -> dict[int, str]:
    """The room's other members whose presence this user may see, with their chosen status:
    friends or not, but nobody across a block (SPEC §9)."""
    blocked = blocked_either_way(user_id=user_id)
    return {
        m.pk: m.chosen_status
        for m in selectors.room_members(room_id=room_id)
        if m.pk != user_id and m.pk not in blocked
    }


async def _watch_members(conn: Conn, room_id: int) -> None:
    """The browser's socket in a room shows every member's dot in the room's header, so it
    follows the presence of members who are not friends too, while it is in the room; the
    dots as they are now go first (anything published from `since` on follows)."""
    since = time.time()
    peers = await _presence_peers(conn.user_id, room_id)
    conn.watch_members(room_id, list(peers), since)
    if not peers:
        return
    online = await get_store().online(list(peers))
    dots = [(str(p), peers[p] if p in online else STATUS_OFFLINE) for p in sorted(peers)]
    conn.write(render_fragment({"kind": "presence", "dots": dots}, conn.lang))


_is_member = database_sync_to_async(selectors.room_for_member)
# A connection's opening steps run on the database threads too: a storm of connects is not
# queued behind one thread.
_room_ids = hot_db_call(selectors.room_ids_of)


# --- what the edge's room streams need of chats ------------------------------------------


def render_message(payload: dict[str, Any]) -> Out:
    """`message` for every socket joined to the room; on the browser's socket, the message
    as one's own or as someone else's (two variants per language, never one per socket)."""
    text = dumps({"type": "message", "chatroomId": payload["chatroomId"], "message": payload})
    sender = int(payload["senderId"])
    out = Out(text=text)

    def html(user_id: int, lang: str) -> str:
        mine = user_id == sender
        key = f"{'mine' if mine else 'other'}:{lang}"
        cached = out.cache.get(key)
        if cached is None:
            cached = out.cache[key] = fragments.message(payload, mine=mine, lang=lang)
        return cached

    out.html_per_user = html
    return out


@dataclass(frozen=True)
class Rooms:
    message_event: str = "chat.message"

    @staticmethod
    def group(room_id: int) -> str:
        return room_group(room_id)

    @staticmethod
    def message_group(room_id: int) -> str:
        """Where a room's messages are published: its members' group (with their lastMessage)."""
        return members_group(room_id)

    @staticmethod
    async def load_join(user: Any, room_id: int, after_id: int | None) -> tuple[list[dict], bool, int, Any]:
        """(replay, overflow, newest id, what to do once joined): the read position's events
        (unreadCount, readBy) go out after the join's own frames."""
        (replay, overflow, latest), events = await _join(user, room_id, after_id)
        return replay, overflow, latest, lambda: publish(events)

    @staticmethod
    async def fetch_missed(room_id: int, after_id: int, before_id: int) -> tuple[list[dict], bool]:
        return await _missed(room_id, after_id, before_id)

    @staticmethod
    def render_message(payload: dict[str, Any]) -> Out:
        return render_message(payload)

    @staticmethod
    async def joined(conn: Conn, room_id: int) -> None:
        # The members group too: a room created after this socket connected (by this very
        # user, who gets no addedInChatroom) then sends its lastMessage here.
        await conn.subscribe(members_group(room_id))
        await get_store().join_room(room_id, conn.user_id, conn.conn_id)
        if conn.ui:
            await _watch_members(conn, room_id)


ROOMS = Rooms()


# --- the connection's life -----------------------------------------------------------


async def opened(conn: Conn) -> None:
    """Every connection of a participant follows each of its rooms' newest message."""
    for room_id in await _room_ids(user_id=conn.user_id):
        await conn.subscribe(members_group(room_id))


async def closed(conn: Conn, code: int | None) -> None:
    store = get_store()
    for room_id in list(conn.rooms):
        await store.leave_room(room_id, conn.user_id, conn.conn_id)
        with contextlib.suppress(ChattyError):  # the room is gone, or the user left it
            await _mark_read(user=conn.user, room_id=room_id)


# --- frames ------------------------------------------------------------------------


async def connect_to_room(conn: Conn, frame: dict[str, Any]) -> None:
    await conn.limit("connectToRoom")
    await conn.join_room(room_id_of(frame), optional_id(frame, "afterId"))


async def leave_chatroom(conn: Conn, frame: dict[str, Any]) -> None:
    await conn.limit("leaveChatroom")
    room_id = room_id_of(frame)
    if not conn.in_room(room_id):
        await _is_member(user_id=conn.user_id, room_id=room_id)
        return
    await _mark_read(user=conn.user, room_id=room_id)
    conn.leave_room(room_id)
    await get_store().leave_room(room_id, conn.user_id, conn.conn_id)


async def send_message(conn: Conn, frame: dict[str, Any]) -> None:
    started = time.perf_counter()
    try:
        room_id = room_id_of(frame)
    except Invalid:
        await conn.limit("sendMessage")  # a bad frame spends the budget as a good one does
        raise
    # The budget and who has the room open (they read it as it arrives): one store trip.
    viewers = await limits.ahit_then_room_viewers("sendMessage", conn.user_id, room_id)
    attachment_ids = parse_attachment_ids(frame.get("attachmentIds"))
    text = inputs.clean_text(frame.get("message"), allow_empty=bool(attachment_ids))
    client_id = inputs.clean_client_id(frame.get("clientId"))
    reply_to_id = optional_id(frame, "replyToId")
    if not attachment_ids and not reply_to_id and sendbatch.enabled():
        readers = frozenset({conn.user_id, *viewers})
        stored = await sendbatch.get_batcher().send(fastsend.Plain(room_id, conn.user, text, client_id, readers))
        if stored is not None:  # else the single send below stores it, or says why not
            _ack(conn, stored[0], started)
            return
    (message, _created), events = await _send(
        sender=conn.user,
        room_id=room_id,
        text=text,
        client_id=client_id,
        viewer_ids=viewers,
        reply_to_id=reply_to_id or None,
        attachment_ids=attachment_ids,
    )
    _ack(conn, message, started)
    # Stored and committed: the room hears of it even if this socket is gone.
    await publish(events)


def _ack(conn: Conn, message: Any, started: float) -> None:
    conn.reply(
        {
            "type": "ack",
            "clientId": message.client_id,
            "messageId": str(message.pk),
            "timestamp": selectors.millis(message.created_at),
        }
    )
    metrics.send_ack(time.perf_counter() - started)


async def mark_read(conn: Conn, frame: dict[str, Any]) -> None:
    await conn.limit("markRead")
    room_id = room_id_of(frame)
    message_id = optional_id(frame, "messageId")
    if message_id is None:
        raise Invalid("messageId must be an id.")
    await _mark_read(user=conn.user, room_id=room_id, message_id=message_id)


async def typing(conn: Conn, frame: dict[str, Any]) -> None:
    await conn.limit("typing")
    room_id = room_id_of(frame)
    if not conn.in_room(room_id):
        await _is_member(user_id=conn.user_id, room_id=room_id)
    event = {"type": "chat.typing", "room_id": room_id, "user_id": conn.user_id, "name": conn.user.display_name}
    await asend_now(room_group(room_id), event)


async def _on_a_message(conn: Conn, frame: dict[str, Any], action: str, call: Any, parse: Any = dict) -> None:
    """A frame about one message of a room (SPEC §9): its budget first (a bad frame counts
    too), the ids and `parse()`'s fields, the service on a database thread, then its committed
    events published from the loop."""
    await conn.limit(action)
    room_id = room_id_of(frame)
    message_id = required_id(frame, "messageId")
    fields = parse()
    _result, events = await call(user=conn.user, message_id=message_id, room_id=room_id, **fields)
    await publish(events)


async def edit_message(conn: Conn, frame: dict[str, Any]) -> None:
    await _on_a_message(conn, frame, "editMessage", _edit, lambda: {"text": inputs.clean_text(frame.get("message"))})


async def delete_message(conn: Conn, frame: dict[str, Any]) -> None:
    await _on_a_message(conn, frame, "deleteMessage", _remove)


async def react(conn: Conn, frame: dict[str, Any]) -> None:
    await _on_a_message(conn, frame, "react", _react, lambda: {"emoji": inputs.clean_emoji(frame.get("emoji"))})


async def mark_unread(conn: Conn, frame: dict[str, Any]) -> None:
    await _on_a_message(conn, frame, "markUnread", _mark_unread)


FRAMES = {
    "editMessage": edit_message,
    "deleteMessage": delete_message,
    "react": react,
    "markUnread": mark_unread,
    "connectToRoom": connect_to_room,
    "leaveChatroom": leave_chatroom,
    "sendMessage": send_message,
    "markRead": mark_read,
    "typing": typing,
}


# --- events ------------------------------------------------------------------------


def last_message(event: dict[str, Any]) -> Out:
    """`lastMessage` to every connection of every participant: made once; each socket's
    own unread count is spliced in."""
    payload = event["message"]
    unread = event["unread"]
    head = dumps({"type": "lastMessage", "chatroomId": payload["chatroomId"], "message": payload})[:-1]
    head += ',"unreadMessagesCount":'
    out = Out(per_user=lambda user_id: f"{head}{int(unread.get(str(user_id), 0))}}}")

    def html(user_id: int, lang: str) -> str:
        parts = out.cache.get(lang)
        if parts is None:
            parts = out.cache[lang] = fragments.preview(payload, lang=lang)
        count = int(unread.get(str(user_id), 0))
        return f"{parts[0]}{fragments.badge(payload['chatroomId'], count, lang)}{parts[1]}"

    out.html_per_user = html
    return out


def typing_event(event: dict[str, Any]) -> Out:
    payload = {"type": "typing", "chatroomId": str(event["room_id"]), "userId": str(event["user_id"])}
    until = int((time.time() + TYPING_SHOWN_FOR) * 1000)
    context = {"kind": "typing", "name": event.get("name", ""), "until": until}
    return Out(text=dumps(payload), html=lambda lang: fragments.render(context, lang), skip_user=int(event["user_id"]))


def chat_added(event: dict[str, Any]) -> Out:
    room = event["chatroom"]
    group = members_group(int(room["id"]))

    def html(user_id: int, lang: str) -> str:
        context = {"kind": "addedInChatroom", "chat": room, "me_id": str(user_id), "current_room_id": ""}
        return fragments.render(context, lang)

    return Out(
        text=dumps({"type": "addedInChatroom", "chatroom": room}),
        html_per_user=html,
        effect=lambda conn: conn.subscribe(group),
    )


def chat_created(event: dict[str, Any]) -> Out:
    """This user created a room: their sockets follow its lastMessage from now on."""
    group = members_group(int(event["room_id"]))
    return Out(effect=lambda conn: conn.subscribe(group))


def message_deleted(event: dict[str, Any]) -> Out:
    payload = {
        "type": "messageDeleted",
        "chatroomId": str(event["room_id"]),
        "messageId": str(event["message_id"]),
        "lastMessage": event.get("last_message"),
    }
    context = {"kind": "messageDeleted", "message_id": str(event["message_id"])}
    return Out(text=dumps(payload), html=lambda lang: fragments.render(context, lang))


def message_edited(event: dict[str, Any]) -> Out:
    message = event["message"]
    sender = message["senderId"]
    out = Out(text=dumps({"type": "messageEdited", "chatroomId": str(event["room_id"]), "message": message}))

    def html(user_id: int, lang: str) -> str:
        # One variant per side and per set of emoji the viewer reacted with (their own are
        # highlighted), not per socket: the rendering depends on nothing else of the viewer.
        me = str(user_id)
        own = ",".join(r["emoji"] for r in message["reactions"] if me in r["userIds"])
        key = f"{me == sender}:{own}:{lang}"
        if key not in out.cache:
            out.cache[key] = fragments.render({"kind": "messageEdited", "message": message, "me_id": me}, lang)
        return out.cache[key]

    out.html_per_user = html
    return out


def reactions_changed(event: dict[str, Any]) -> Out:
    """`reactionsChanged` to the sockets joined to the room; in the page, one's own emoji are
    highlighted: one variant per set of emoji the viewer used (a handful), not per socket."""
    reactions = event["reactions"]
    message_id = str(event["message_id"])
    payload = {
        "type": "reactionsChanged",
        "chatroomId": str(event["room_id"]),
        "messageId": message_id,
        "reactions": reactions,
    }
    out = Out(text=dumps(payload))

    def html(user_id: int, lang: str) -> str:
        me = str(user_id)
        key = ",".join(r["emoji"] for r in reactions if me in r["userIds"]) + f":{lang}"
        if key not in out.cache:
            context = {"kind": "reactions", "message_id": message_id, "reactions": reactions, "me_id": me}
            out.cache[key] = fragments.render(context, lang)
        return out.cache[key]

    out.html_per_user = html
    return out


def unread_count(event: dict[str, Any]) -> Out:
    """The user's read position of a room moved (any tab): every tab's badge follows."""
    room_id, unread = str(event["room_id"]), int(event["unread"])
    payload = {"type": "unreadCount", "chatroomId": room_id, "unreadMessagesCount": unread}
    context = {"kind": "unreadCount", "chat_id": room_id, "unread": unread}
    return Out(text=dumps(payload), html=lambda lang: fragments.render(context, lang))


def read_by(event: dict[str, Any]) -> Out:
    """Read receipts: how far a participant read, to the others' connections."""
    payload = {
        "type": "readBy",
        "chatroomId": str(event["room_id"]),
        "userId": str(event["user_id"]),
        "messageId": str(event["message_id"]),
    }
    return Out(text=dumps(payload), skip_user=int(event["user_id"]))


def chat_updated(event: dict[str, Any]) -> Out:
    """A room's summary changed (renamed, members in or out, muted): the chat row and, where
    the room is open, its header, from the one user's side whose group this event reached (made
    once per language, whatever the number of their tabs)."""
    room = event["chatroom"]
    room_id = int(room["id"])

    def effect(conn: Conn) -> Any:
        # Members in or out: a browser's socket in the room follows the new members' dots.
        return _watch_members(conn, room_id) if conn.ui and conn.in_room(room_id) else None

    out = Out(text=dumps({"type": "chatroomUpdated", "chatroom": room}), effect=effect)

    def html(user_id: int, lang: str) -> str:
        key = f"{user_id}:{lang}"
        if key not in out.cache:
            context = {"kind": "chatroomUpdated", "chat": room, "me_id": str(user_id), "current_room_id": ""}
            out.cache[key] = fragments.render(context, lang)
        return out.cache[key]

    out.html_per_user = html
    return out


def chat_removed(event: dict[str, Any]) -> Out:
    """This user left the room (from any tab): its streams stop on every socket of theirs."""
    room_id = int(event["room_id"])

    async def effect(conn: Conn) -> None:
        conn.unsubscribe(members_group(room_id))
        if conn.in_room(room_id):
            conn.leave_room(room_id)
            await get_store().leave_room(room_id, conn.user_id, conn.conn_id)

    context = {"kind": "removedFromChatroom", "chat_id": str(room_id)}
    return Out(
        text=dumps({"type": "removedFromChatroom", "chatroomId": str(room_id)}),
        html=lambda lang: fragments.render(context, lang),
        effect=effect,
    )


EVENTS = {
    # A new message's one event: its stream part is the edge's (ROOMS.render_message), its
    # members' part is lastMessage. "chat.last_message" is what a process of the release
    # before publishes beside it (a rolling restart).
    "chat.message": last_message,
    "chat.last_message": last_message,
    "chat.typing": typing_event,
    "chat.added": chat_added,
    "chat.created": chat_created,
    "chat.message_deleted": message_deleted,
    "chat.message_edited": message_edited,
    "chat.reactions_changed": reactions_changed,
    "chat.unread": unread_count,
    "chat.read_by": read_by,
    "chat.updated": chat_updated,
    "chat.removed": chat_removed,
}
# Events on a room's live stream: they reach the sockets joined to the room (chat.message
# through the room's members group, the others through the room group).
STREAM_EVENTS = {
    "chat.message": lambda event: int(event["message"]["chatroomId"]),
    "chat.typing": lambda event: int(event["room_id"]),
    "chat.reactions_changed": lambda event: int(event["room_id"]),
}
