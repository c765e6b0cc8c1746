"""The one way anything tells live sockets about a change: publish after commit.

Services call `publish_on_commit(group, event)`; when the surrounding transaction commits
(at once when there is none) the event goes to the channel layer group. Events are small
dicts with a namespaced `type` (`chat.message`, `presence.changed`); groups are named from
ids (`room.<id>`, `user.<id>`). A dropped layer event never loses a stored message: clients
catch up by `afterId`.

Tests capture what is published with `capture_events()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chatty import metrics

logger = logging.getLogger(__name__)

Event = tuple[str, dict[str, Any]]

_captures: list[list[Event]] = []
# While set (inside `collecting`), events are kept for the caller instead of published.
_collector: contextvars.ContextVar[list[Event] | None] = contextvars.ContextVar("chatty_collector", default=None)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def members_group(room_id: int) -> str:
    """Every connection of every participant of a room (for `lastMessage`)."""
    return f"members.{room_id}"


# Every presence change of the site: published once per change, whatever the number of
# friends; each process hands it to the local sockets of the user's friends.
PRESENCE_GROUP = "presence"


def session_group(session_key: str) -> str:
    digest = hashlib.sha256(session_key.encode()).hexdigest()[:32]
    return f"session.{digest}"


# Called once the channel layer works again after a failure (a publish failed, or the live
# store did): each process's hub subscribes its groups again, in case the layer's connection
# came back without them (seen with a Redis restart). Registered by edge/hub.py.
_restored_hooks: list[Callable[[], Any]] = []
_layer_failed = False


def on_layer_restored(hook: Callable[[], Any]) -> None:
    _restored_hooks.append(hook)


def layer_failed() -> None:
    global _layer_failed
    _layer_failed = True


async def layer_restored() -> None:
    """The layer (or the store on the same Redis) answered again after a failure."""
    global _layer_failed
    if not _layer_failed:
        return
    _layer_failed = False
    for hook in list(_restored_hooks):
        try:
            await hook()
        except Exception:
            logger.warning("could not subscribe again after the layer came back", exc_info=True)


def send_now(group: str, event: dict[str, Any]) -> None:
    for capture in _captures:
        capture.append((group, event))
    collector = _collector.get()
    if collector is not None:
        collector.append((group, event))
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {**event, "g": group})
    except Exception:
        # The row is stored; live clients catch up when they reconnect.
        logger.exception("Could not publish %s to %s", event.get("type"), group)
        metrics.publish_failed()


async def asend_now(group: str, event: dict[str, Any], *, record: bool = True) -> None:
    if record:  # collected events were recorded when they were collected
        for capture in _captures:
            capture.append((group, event))
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        # The group travels with the event: each process receives every group it follows
        # on one channel of its own (edge/hub.py) and fans out from there.
        await layer.group_send(group, {**event, "g": group})
    except Exception:
        layer_failed()
        logger.exception("Could not publish %s to %s", event.get("type"), group)
        metrics.publish_failed()
    else:
        await layer_restored()


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: send_now(group, event), robust=True)


def collecting(func: Callable[..., Any]) -> Callable[..., tuple[Any, list[Event]]]:
    """`func` made to return `(result, events)`: what it publishes after commit is handed
    back, in commit order, instead of sent. For callers on a database thread under an event
    loop (the websocket consumer), which then `publish` from the loop: the database thread
    never waits for the loop or for Redis."""

    def run(*args: Any, **kwargs: Any) -> tuple[Any, list[Event]]:
        events: list[Event] = []
        token = _collector.set(events)
        try:
            return func(*args, **kwargs), events
        finally:
            _collector.reset(token)

    return run


async def publish(events: list[Event]) -> None:
    """Send collected events to their groups, all at once (they go to different groups)."""
    if len(events) == 1:
        await asend_now(*events[0], record=False)
    elif events:
        await asyncio.gather(*(asend_now(group, event, record=False) for group, event in events))


@contextlib.contextmanager
def capture_events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Record every event published inside the block as (group, event) pairs."""
    events: list[tuple[str, dict[str, Any]]] = []
    _captures.append(events)
    try:
        yield events
    finally:
        _captures.remove(events)
