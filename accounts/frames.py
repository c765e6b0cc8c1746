"""Account events on the websocket: a session that ended, a user deactivated or deleted —
their sockets close with 4401 (SPEC §4: "not signed in")."""

from __future__ import annotations

from typing import Any

from chatty.wire import Conn, Out
from chatty.wire import render_fragment as render

CLOSE_UNAUTHENTICATED = 4401


def _close(conn: Conn) -> None:
    conn.close(CLOSE_UNAUTHENTICATED)


def signed_out(event: dict[str, Any]) -> Out:
    return Out(effect=_close)


def renamed(event: dict[str, Any]) -> Out:
    """The user renamed themselves (from any tab): every tab's own card follows. HTML only:
    SPEC §9 gives no frame for it (the answer of PATCH /api/user is the client's news)."""
    context = {"kind": "renamed", "user_id": str(event["user_id"]), "name": event["name"]}
    return Out(html=lambda lang: render(context, lang))


EVENTS = {"session.ended": signed_out, "user.deactivated": signed_out, "user.renamed": renamed}
