"""Presence on the websocket: a connection opening and closing, the status frames, and the
renderers of presence events."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from accounts.models import STATUS_OFFLINE, User
from chatty.dbcalls import hot_db_call
from chatty.errors import Invalid
from chatty.store import get_store
from chatty.wire import Conn, Out, Refused, dumps
from chatty.wire import render_fragment as render
from friends.selectors import friends_chosen_statuses
from presence import services
from presence.runtime import registry

CLOSE_TOO_MANY = 4429


# The user's friends with the status each chose: one trip to the database (the snapshot then
# needs no query of its own for the statuses). The user is the one the handshake's
# authentication has just read, active (accounts.tokens, or the session's backend): reading
# it again here was a third of an opening's database CPU.
_opening = hot_db_call(friends_chosen_statuses)


def _snapshot(conn: Conn, friends: list[int], online: set[int], statuses: dict[int, str]) -> None:
    status = conn.user.chosen_status
    shown = {f: statuses[f] for f in friends if f in online}
    # Both on-connect frames on either socket (SPEC §4); the browser's gets the HTML too:
    # its own status, and a dot for every friend (the offline ones turn grey).
    conn.reply({"type": "retrieveCurrentUser", "status": status})
    conn.reply({"type": "retrieveOnlineFriends", "friends": {str(f): {"status": s} for f, s in shown.items()}})
    if conn.ui:
        conn.write(render({"kind": "me", "my_status": status}, conn.lang))
        dots = [(str(f), shown.get(f, STATUS_OFFLINE)) for f in sorted(friends)]
        if dots:
            conn.write(render({"kind": "presence", "dots": dots}, conn.lang))


@hot_db_call
def _chosen(user_ids: list[int]) -> dict[int, str]:
    return dict(User.objects.filter(pk__in=user_ids).values_list("pk", "chosen_status"))


async def _send_snapshot(conn: Conn, friends: list[int], chosen: dict[int, str] | None = None) -> None:
    """The on-connect frames. `chosen`: the friends' chosen statuses when already read."""
    since = time.time()
    for friend_id in friends:
        conn.watch(friend_id, since)
    online = await get_store().online(friends)
    if chosen is None:
        chosen = await _chosen(sorted(online)) if online else {}
    _snapshot(conn, friends, online, chosen)


async def opened(conn: Conn) -> None:
    user = conn.user
    chosen = await _opening(user_id=user.pk)
    store = get_store()
    limit = getattr(settings, "CHATTY_MAX_CONNECTIONS_PER_USER", 20)
    if await store.connection_count(user.pk) >= limit:
        raise Refused(CLOSE_TOO_MANY)
    registry.add(conn.conn_id, user.pk, conn.rooms)
    await services.connection_opened(user=user, conn_id=conn.conn_id)
    await _send_snapshot(conn, sorted(chosen), chosen)


async def closed(conn: Conn, code: int | None) -> None:
    registry.discard(conn.conn_id)
    grace = None
    if code == 1012:  # the server is restarting: keep the record until it expires
        grace = float(getattr(settings, "CHATTY_RESTART_GRACE", 45.0))
    await services.connection_closed(user_id=conn.user_id, conn_id=conn.conn_id, at_once=conn.at_once, grace=grace)


# --- frames ------------------------------------------------------------------------


async def user_online(conn: Conn, frame: dict[str, Any]) -> None:
    await conn.limit("userOnline")
    await services.connection_opened(user=conn.user, conn_id=conn.conn_id)
    await _send_snapshot(conn, sorted(conn.watching))


async def change_status(conn: Conn, frame: dict[str, Any]) -> None:
    await conn.limit("changeStatus")
    status = frame.get("status")
    if not isinstance(status, str):
        raise Invalid("status must be 'online' or 'away'.")
    conn.user = await services.status_change(user=conn.user, status=status)


async def logout(conn: Conn, frame: dict[str, Any]) -> None:
    conn.close(1000)


FRAMES = {"userOnline": user_online, "changeStatus": change_status, "logout": logout}


# --- events ------------------------------------------------------------------------


def presence_changed(event: dict[str, Any]) -> Out:
    user_id, status = str(event["user_id"]), event["status"]
    context = {"kind": "presence", "dots": [(user_id, status)]}
    return Out(
        text=dumps({"type": "getOnlineFriend", "userId": user_id, "status": status}),
        html=lambda lang: render(context, lang),
    )


def presence_self(event: dict[str, Any]) -> Out:
    status = event["status"]

    def effect(conn: Conn) -> None:
        conn.user.chosen_status = status

    return Out(
        text=dumps({"type": "retrieveCurrentUser", "status": status}),
        html=lambda lang: render({"kind": "me", "my_status": status}, lang),
        effect=effect,
    )


EVENTS = {"presence.changed": presence_changed, "presence.self": presence_self}
