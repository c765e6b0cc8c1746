"""What the websocket edge and the domain apps agree on: the shape of a connection as a
frame handler sees it, and what an event renders to.

The edge (`edge/`) owns sockets, the per-process fan-out and the room streams; each domain
app keeps, in its `frames.py`, the handlers of its client frames (parse the frame into typed
values, call a service, reply) and the renderers of its layer events (event -> `Out`). A
renderer runs once per event per process, whatever the number of sockets it reaches: the
edge then only writes the text it made to each socket.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.template.loader import render_to_string
from django.utils import translation

from chatty.errors import Invalid, parse_id


def dumps(payload: dict[str, Any]) -> str:
    """A frame's text: compact UTF-8 JSON."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate the client sent as a JSON escape ("\ud800"), echoed as `ref` or
            # `clientId`: a text frame must be UTF-8, so send it escaped again.
            return json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return text


class Conn(Protocol):
    """One open websocket, as a frame handler or an event's effect sees it."""

    user: Any  # the signed-in User; identity never comes from a frame
    user_id: int
    ui: bool  # the browser's socket (/ws/ui/): HTML fragments besides the JSON replies
    lang: str

    def reply(self, payload: dict[str, Any]) -> None:
        """A JSON frame to this socket only, in order with everything else it is sent."""

    def write(self, text: str) -> None:
        """Text already rendered, to this socket only."""

    async def limit(self, action: str) -> None:
        """Count one `action` against this user's rate limit; RateLimited past it."""

    async def subscribe(self, group: str) -> None:
        """Receive this group's events from now on (the process subscribes once)."""

    def unsubscribe(self, group: str) -> None: ...

    async def join_room(self, room_id: int, after_id: int | None) -> None:
        """Join the room's live stream (with catch-up after `after_id`), in id order."""

    def leave_room(self, room_id: int) -> None: ...

    def in_room(self, room_id: int) -> bool: ...

    def watch(self, user_id: int, since: float | None = None) -> None:
        """See this user's presence changes published from `since` (default: now) on."""

    def unwatch(self, user_id: int) -> None: ...

    def watch_members(self, room_id: int, user_ids: list[int], since: float) -> None:
        """See the presence of a joined room's members (who need not be friends) while the
        socket is in the room: they are now exactly `user_ids` (a join; members in or out).
        Leaving the room ends it, a friendship's end does not, a block does."""

    def forget(self, user_id: int) -> None:
        """See nothing more of this user's presence, friend or room member (a block)."""

    rooms: set[int]
    watching: set[int]
    at_once: bool

    def close(self, code: int) -> None: ...

    @property
    def conn_id(self) -> str: ...


class Refused(Exception):
    """An opening step refuses the connection: it is accepted, then closed with `code`."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(code)


Handler = Callable[[Conn, dict[str, Any]], Awaitable[None]]
Lifecycle = Callable[[Conn], Awaitable[None]]


@dataclass(slots=True)
class Out:
    """What one event becomes, made once per process.

    `text` is the JSON frame every socket gets; `per_user` replaces it where a part differs
    per user (a participant's own unread count): a cheap splice, never a render. For the
    browser's socket, `html(lang)` is the fragment (made once per language), sent after the
    JSON, and `html_per_user(user_id, lang)` its variant for a side (one's own message) or a
    count, made from a few cached pieces, never rendered per socket. `effect` is what each reached socket does besides
    writing (follow a new room, close); `skip_user` is a user whose sockets get nothing (the
    one who is typing).
    """

    text: str | None = None
    per_user: Callable[[int], str] | None = None
    html: Callable[[str], str] | None = None
    html_per_user: Callable[[int, str], str] | None = None
    skip_user: int | None = None
    effect: Callable[[Conn], Awaitable[None] | None] | None = None
    cache: dict[str, str] = field(default_factory=dict)  # HTML made so far, by language


Renderer = Callable[[dict[str, Any]], Out | None]


# The server's own `send`, in the scope of a socket signed in by its session
# (presence/middleware.py): channels' SessionMiddleware wraps `send` to save sessions on HTTP
# responses only, and its wrapper was a fifteenth of the browser socket's CPU, once for every
# frame; the edge sends text frames past it (edge/consumer.py).
SERVER_SEND = "chatty.server_send"

PUSH_TEMPLATE = "chats/partials/push.html"  # every live fragment, out-of-band swaps by id


def render_fragment(context: dict[str, Any], lang: str, template: str = PUSH_TEMPLATE) -> str:
    """A live fragment for the browser's socket, in the socket's language."""
    with translation.override(lang):
        return render_to_string(template, context).strip()


def room_id_of(frame: dict[str, Any]) -> int:
    return parse_id(frame.get("chatroomId"), "chatroomId")


def optional_id(frame: dict[str, Any], field: str) -> int | None:
    """An id that may be left out (`afterId`); 0 allowed."""
    raw = frame.get(field)
    return None if raw is None else parse_id(raw, field, minimum=0)


def required_id(frame: dict[str, Any], field: str, *, minimum: int = 1) -> int:
    raw = frame.get(field)
    if raw is None:
        raise Invalid(f"{field} must be an id.")
    return parse_id(raw, field, minimum=minimum)
