"""Websocket helpers for the hostile-input tests: connect, read typed frames, check them.

Every frame the server sends is checked the same way: text (never binary), encodable as
UTF-8 (a real ASGI server must encode it; a lone surrogate makes daphne raise), a JSON
object whose `type` is one SPEC §4 knows, and for `error` frames a SPEC code.
"""

from __future__ import annotations

import json
from typing import Any

from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from chatty.asgi import application

HOST = "127.0.0.1:8000"
ALLOWED_ORIGIN = f"http://{HOST}"

# SPEC §4: error codes of a bad frame.
# SPEC §9 adds `forbidden` (a message that is not yours, a read-only direct room).
WS_ERROR_CODES = {
    "bad_json",
    "unknown_type",
    "invalid",
    "not_participant",
    "not_found",
    "too_long",
    "rate_limited",
    "forbidden",
}
# SPEC §4: every frame type the server may send.
SERVER_TYPES = {
    "retrieveCurrentUser",
    "retrieveOnlineFriends",
    "getOnlineFriend",
    "joinedChatroom",
    "resync",
    "message",
    "ack",
    "lastMessage",
    "typing",
    "addedAsFriend",
    "removedAsFriend",
    "addedInChatroom",
    "messageDeleted",
    "error",
    # SPEC §9
    "messageEdited",
    "reactionsChanged",
    "unreadCount",
    "readBy",
    "chatroomUpdated",
    "removedFromChatroom",
    "friendUpdated",
}
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FLOODING = 4429


class ProtocolViolation(AssertionError):
    pass


def session_cookie(user: Any) -> str:
    """A real session for `user` (sync; call through sync_to_async from async code)."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def communicator(
    path: str = "/ws/",
    *,
    token: str | None = None,
    cookie: str | None = None,
    origin: str | None = None,
    host: str | None = HOST,
    authorization: str | None = None,
    scheme: str | None = None,
) -> WebsocketCommunicator:
    headers: list[tuple[bytes, bytes]] = []
    if host is not None:
        headers.append((b"host", host.encode()))
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    comm = WebsocketCommunicator(application, path, headers=headers)
    if scheme is not None:
        comm.scope["scheme"] = scheme  # the app reads the scope once it starts running
    return comm


def parse_server_text(text: Any, unencodable: list[str] | None = None) -> dict[str, Any] | None:
    """A server text frame as a dict; None for an HTML fragment (only /ws/ui/ sends those)."""
    if not isinstance(text, str):
        raise ProtocolViolation(f"server sent a non-text frame: {text!r:.200}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if unencodable is None:
            raise ProtocolViolation(f"server frame is not encodable as UTF-8: {text!r:.300}") from None
        unencodable.append(text[:300])
    if not text.startswith("{"):
        return None
    data = json.loads(text)
    check_server_frame(data)
    return data


def check_server_frame(data: Any) -> None:
    if not isinstance(data, dict):
        raise ProtocolViolation(f"server frame is not an object: {data!r:.200}")
    kind = data.get("type")
    if kind not in SERVER_TYPES:
        raise ProtocolViolation(f"server frame has an unknown type: {data!r:.300}")
    if kind == "error":
        if data.get("error") not in WS_ERROR_CODES:
            raise ProtocolViolation(f"error frame with a code SPEC does not know: {data!r:.300}")
        if not isinstance(data.get("detail"), str) or "ref" not in data:
            raise ProtocolViolation(f"error frame without detail/ref: {data!r:.300}")
        if data["ref"] is not None and not isinstance(data["ref"], str):
            raise ProtocolViolation(f"error frame with a ref that is not a type or null: {data!r:.300}")


async def next_frame(comm: WebsocketCommunicator, timeout: float = 3.0, *, html: bool = False) -> dict[str, Any]:
    """The next JSON frame (HTML fragments skipped unless html=True, then returned as {"html": ...})."""
    while True:
        out = await comm.receive_output(timeout)
        if out["type"] == "websocket.close":
            raise ProtocolViolation(f"socket closed with code {out.get('code')}")
        if out["type"] != "websocket.send":
            raise ProtocolViolation(f"unexpected ASGI message {out!r:.200}")
        if out.get("bytes") is not None:
            raise ProtocolViolation("server sent a binary frame")
        data = parse_server_text(out.get("text"))
        if data is None:
            if html:
                return {"html": out["text"]}
            continue
        return data


async def wait_for(comm: WebsocketCommunicator, kind: str, timeout: float = 3.0, **match: Any) -> dict[str, Any]:
    """Read frames until one of `kind` (matching `match`) arrives; others are checked and skipped."""
    while True:
        frame = await next_frame(comm, timeout)
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


async def open_ready(comm: WebsocketCommunicator) -> WebsocketCommunicator:
    """Connect and read the two on-connect frames (SPEC §4)."""
    connected, code = await comm.connect(timeout=5)
    if not connected:
        raise ProtocolViolation(f"connection refused with {code}")
    await wait_for(comm, "retrieveCurrentUser", timeout=5)
    await wait_for(comm, "retrieveOnlineFriends", timeout=5)
    return comm


async def closed_code(comm: WebsocketCommunicator, timeout: float = 3.0) -> int | None:
    """Connect a socket expected to be turned away; the close code it got (None: it stayed open)."""
    connected, code = await comm.connect(timeout=timeout)
    if not connected:
        return code
    while True:
        if await comm.receive_nothing(timeout):
            return None  # still open (receive_output's timeout would cancel the app instead)
        out = await comm.receive_output(1)
        if out["type"] == "websocket.close":
            return out.get("code", 1000)
        if out["type"] == "websocket.send" and out.get("text"):
            # A socket without a user must not learn anything before it is closed.
            raise ProtocolViolation(f"unauthenticated socket got a frame: {out['text']!r:.200}")


async def drain(comm: WebsocketCommunicator, timeout: float = 0.3) -> list[dict[str, Any]]:
    """Every JSON frame that arrives within `timeout` of quiet."""
    frames = []
    while True:
        if await comm.receive_nothing(timeout):
            return frames
        out = await comm.receive_output(1)
        if out["type"] == "websocket.close":
            raise ProtocolViolation(f"socket closed with code {out.get('code')}")
        data = parse_server_text(out.get("text"))
        if data is not None:
            frames.append(data)


async def safe_disconnect(comm: WebsocketCommunicator) -> None:
    """Disconnect; an application that crashed raises here (asgiref re-raises its exception)."""
    await comm.disconnect(timeout=3)
