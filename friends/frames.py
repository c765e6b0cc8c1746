"""Friend events on the websocket: who became or stopped being a friend (and so whose
presence this user's sockets see)."""

from __future__ import annotations

from typing import Any

from chatty.live import STATUS_OFFLINE
from chatty.wire import Out, dumps
from chatty.wire import render_fragment as render


def friend_added(event: dict[str, Any]) -> Out:
    friend = event["friend"]
    friend_id = int(friend["userId"])
    return Out(
        text=dumps({"type": "addedAsFriend", "friend": friend}),
        html=lambda lang: render({"kind": "addedAsFriend", "friend": friend}, lang),
        effect=lambda conn: conn.watch(friend_id),
    )


def friend_removed(event: dict[str, Any]) -> Out:
    user_id = int(event["user_id"])
    return Out(
        text=dumps({"type": "removedAsFriend", "userId": str(user_id)}),
        html=lambda lang: render({"kind": "removedAsFriend", "user_id": str(user_id)}, lang),
        effect=lambda conn: conn.unwatch(user_id),
    )


def friend_linked(event: dict[str, Any]) -> Out:
    """The user added a friend (from any of their tabs): their sockets see the friend's presence."""
    user_id = int(event["user_id"])
    return Out(effect=lambda conn: conn.watch(user_id))


def friend_unlinked(event: dict[str, Any]) -> Out:
    user_id = int(event["user_id"])
    return Out(effect=lambda conn: conn.unwatch(user_id))


def friend_blocked(event: dict[str, Any]) -> Out:
    """A block, either way: the sockets see nothing more of the other's presence (also as a
    member of a shared group room), and the browser's shows their dots offline."""
    user_id = int(event["user_id"])
    return Out(
        html=lambda lang: render({"kind": "presence", "dots": [(str(user_id), STATUS_OFFLINE)]}, lang),
        effect=lambda conn: conn.forget(user_id),
    )


def friend_updated(event: dict[str, Any]) -> Out:
    """A friend renamed themselves: their row in the friends rail and the new-chat list, and
    their name wherever a page shows it by class (chat titles, a room's participants)."""
    friend = event["friend"]
    return Out(
        text=dumps({"type": "friendUpdated", "friend": friend}),
        html=lambda lang: render({"kind": "friendUpdated", "friend": friend}, lang),
    )


EVENTS = {
    "friend.updated": friend_updated,
    "friend.added": friend_added,
    "friend.removed": friend_removed,
    "friend.linked": friend_linked,
    "friend.unlinked": friend_unlinked,
    "friend.blocked": friend_blocked,
}
