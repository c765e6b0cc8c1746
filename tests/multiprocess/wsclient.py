"""A small websocket client for Chatty's /ws/ protocol (SPEC §4), over a real socket.

Frames that arrive while a test waits for something else are kept, in arrival order, so a
later `expect` finds them: tests say what they wait for, not the exact interleaving of
frames from different sources. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any]
DEFAULT_TIMEOUT = 10.0
_client_ids = itertools.count(1)

__all__ = ["ConnectionClosed", "WsClient", "open_client"]


async def open_client(port: int, token: str, name: str, *, timeout: float = DEFAULT_TIMEOUT) -> WsClient:
    """Connect to ws://127.0.0.1:<port>/ws/ with a bearer token, no Origin (a non-browser client)."""
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=timeout,
        close_timeout=2,
        proxy=None,
    )
    return WsClient(ws, name, port)


def _matches(frame: Frame, type_: str | None, fields: dict[str, Any], pred: Callable[[Frame], bool] | None) -> bool:
    if type_ is not None and frame.get("type") != type_:
        return False
    if any(frame.get(k) != v for k, v in fields.items()):
        return False
    return pred is None or pred(frame)


class WsClient:
    def __init__(self, ws: ClientConnection, name: str, port: int) -> None:
        self.ws = ws
        self.name = name
        self.port = port
        self.pending: list[Frame] = []  # received, not yet taken by an expect
        self.history: list[Frame] = []  # everything received, for failure messages

    def __repr__(self) -> str:
        return f"<WsClient {self.name} on :{self.port}>"

    async def send(self, frame: Frame) -> None:
        await self.ws.send(json.dumps(frame))

    async def _read(self, timeout: float) -> Frame:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)  # recv() is cancel-safe
        frame = json.loads(raw)
        assert isinstance(frame, dict) and "type" in frame, f"{self.name}: not a typed JSON object: {raw!r}"
        self.history.append(frame)
        return frame

    async def expect(
        self,
        type_: str | None = None,
        *,
        pred: Callable[[Frame], bool] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        **fields: Any,
    ) -> Frame:
        """The first frame (kept or new) of this type with these fields; AssertionError after `timeout`."""
        for i, frame in enumerate(self.pending):
            if _matches(frame, type_, fields, pred):
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                frame = await self._read(left)
            except TimeoutError:
                raise AssertionError(
                    f"{self.name}: no {type_ or 'frame'} {fields or ''} within {timeout:.1f} s; "
                    f"unclaimed frames: {self.pending[-20:]}"
                ) from None
            if _matches(frame, type_, fields, pred):
                return frame
            self.pending.append(frame)

    async def expect_nothing(self, type_: str, *, within: float, **fields: Any) -> None:
        """Assert that no such frame arrives for `within` seconds (the others are kept)."""
        try:
            frame = await self.expect(type_, timeout=within, **fields)
        except AssertionError:
            return
        raise AssertionError(f"{self.name}: unexpected {frame}")

    async def hello(self) -> tuple[Frame, Frame]:
        """The two frames every connection starts with (SPEC §4, On connect)."""
        me = await self.expect("retrieveCurrentUser")
        friends = await self.expect("retrieveOnlineFriends")
        return me, friends

    async def join(self, room_id: int | str, after_id: int | str | None = None) -> list[Frame]:
        """connectToRoom; returns the `message` frames for the room received before joinedChatroom."""
        frame: Frame = {"type": "connectToRoom", "chatroomId": str(room_id)}
        if after_id is not None:
            frame["afterId"] = str(after_id)
        await self.send(frame)
        before: list[Frame] = []

        def answer(f: Frame) -> bool:
            if f["type"] == "error":
                return f.get("ref") == "connectToRoom"
            return f["type"] in ("message", "joinedChatroom", "resync") and f.get("chatroomId") == str(room_id)

        while True:
            got = await self.expect(pred=answer)
            if got["type"] == "joinedChatroom":
                return before
            assert got["type"] == "message", f"{self.name}: connectToRoom answered {got}"
            before.append(got)

    async def send_message(
        self, room_id: int | str, text: str, client_id: str | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> Frame:
        """sendMessage and wait for its ack; waits out `rate_limited` (bounded) and sends again."""
        client_id = client_id or f"{self.name}-{next(_client_ids)}-{time.monotonic_ns()}"
        deadline = time.monotonic() + max(timeout, 30.0)
        while True:
            await self.send({"type": "sendMessage", "chatroomId": str(room_id), "message": text, "clientId": client_id})
            answer = await self.expect(
                pred=lambda f: f["type"] in ("ack", "error") and f.get("clientId") == client_id, timeout=timeout
            )
            if answer["type"] == "ack":
                return answer
            if answer.get("error") == "rate_limited" and time.monotonic() < deadline:
                await asyncio.sleep(1.0)
                continue
            raise AssertionError(f"{self.name}: sendMessage {client_id} answered {answer}")

    async def close(self) -> None:
        await self.ws.close()

    @property
    def closed(self) -> bool:
        return self.ws.close_code is not None
