"""Reads of live presence, for pages, the API and the consumer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync

from chatty.store import get_store

STATUS_OFFLINE = "offline"  # as accounts.models names it; the ground imports no app


async def astatuses(users: Iterable[Any]) -> dict[int, str]:
    """{user id: online|away|offline}: the chosen status while connected, else offline."""
    users = list(users)
    online = await get_store().online([u.pk for u in users])
    return {u.pk: (u.chosen_status if u.pk in online else STATUS_OFFLINE) for u in users}


def statuses(users: Iterable[Any]) -> dict[int, str]:
    return async_to_sync(astatuses)(users)


def status_of(user: Any) -> str:
    return statuses([user])[user.pk]


def room_viewer_ids(room_id: int) -> set[int]:
    return async_to_sync(get_store().room_viewers)(room_id)
