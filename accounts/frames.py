"""Account events on the websocket: a session that ended, a user deactivated or deleted —
their sockets close with 4401 (SPEC §4: "not signed in")."""

from __future__ import annotations

from typing import Any

from chatty.wire import Conn, Out

CLOSE_UNAUTHENTICATED = 4401


def _close(conn: Conn) -> None:
    conn.close(CLOSE_UNAUTHENTICATED)


def signed_out(event: dict[str, Any]) -> Out:
    return Out(effect=_close)


EVENTS = {"session.ended": signed_out, "user.deactivated": signed_out}
