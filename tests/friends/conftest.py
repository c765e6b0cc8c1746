from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chatty.realtime import capture_events


@pytest.fixture
def published(django_capture_on_commit_callbacks) -> Callable[[], Any]:
    """A block that records what is published once its transaction commits (tests run in one)."""

    @contextlib.contextmanager
    def capture() -> Iterator[list[tuple[str, dict[str, Any]]]]:
        with capture_events() as events, django_capture_on_commit_callbacks(execute=True):
            yield events

    return capture
