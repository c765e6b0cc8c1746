"""Start a coroutine at once, in the caller, and make a task only if it has to wait.

A socket write is an ASGI `send` coroutine that almost always finishes without waiting
(uvicorn only waits while the client's buffer is full; daphne and the test communicator
never do). Wrapping each write in a task would cost a task per frame per socket; running it
eagerly costs a plain call. Python 3.12's `asyncio.eager_task_factory` does the same for
whole tasks; this is the small part of it that Python 3.11 lacks.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any


class _Resume:
    """An awaitable that carries on a coroutine already started and suspended on `waiting`."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                sent = yield waiting
            except BaseException as exc:  # cancellation or a timeout thrown in: pass it on
                try:
                    waiting = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration as done:
                    return done.value


def start(coro: Coroutine[Any, Any, Any]) -> _Resume | None:
    """Run `coro` until it finishes (None) or waits (an awaitable that finishes it).

    Exceptions it raises before waiting propagate to the caller.
    """
    try:
        waiting = coro.send(None)
    except StopIteration:
        return None
    return _Resume(coro, waiting)
