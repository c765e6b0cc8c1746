"""A group room's header shows every member's presence, friends or not (issue 13): the
browser's socket joined to the room follows its members' presence while it is in the room,
and nobody's across a block (SPEC §9)."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from tests.edge.test_hub import open_socket, until

pytestmark = pytest.mark.django_db(transaction=True)

JOINED = '{"type":"joinedChatroom"'


@database_sync_to_async
def club(make_user, befriend) -> tuple[Any, Any, Any, Any]:
    """Ana is friends with Ben and Cy; Ben and Cy are not friends, but share Ana's group."""
    from chats.services import room_create

    ana, ben, cy = make_user("Ana"), make_user("Ben"), make_user("Cy")
    befriend(ana, ben)
    befriend(ana, cy)
    room, _ = room_create(creator=ana, friend_ids=[ben.pk, cy.pk])
    return ana, ben, cy, room


def dot(user: Any, status: str) -> str:
    return f'class="dot dot-user-{user.pk} {status}"'


async def joined_browser_socket(token: str, room: Any):
    comm = await open_socket(token, "/ws/ui/?lang=en")
    await comm.send_json_to({"type": "connectToRoom", "chatroomId": str(room.pk)})
    seen = await until(comm, lambda text: text.startswith(JOINED))
    return comm, seen


async def test_a_member_who_is_not_a_friend_shows_live_in_the_room(make_user, befriend, token_for):
    ana, ben, cy, room = await club(make_user, befriend)
    ben_ws, on_join = await joined_browser_socket(token_for(ben), room)
    # Joining shows the members' dots as they are now: Cy (no friend of Ben's) is offline.
    assert any(dot(cy, "offline") in text for text in on_join)

    cy_ws = await open_socket(token_for(cy))
    await until(ben_ws, lambda text: dot(cy, "online") in text)
    await cy_ws.send_json_to({"type": "changeStatus", "status": "away"})
    await until(ben_ws, lambda text: dot(cy, "away") in text)

    # Out of the room, Ben's socket hears nothing more of Cy (who is still no friend).
    await ben_ws.send_json_to({"type": "leaveChatroom", "chatroomId": str(room.pk)})
    await cy_ws.send_json_to({"type": "changeStatus", "status": "online"})
    await cy_ws.disconnect()
    ana_ws = await open_socket(token_for(ana))  # Ana is Ben's friend: her news still reaches him
    heard = await until(ben_ws, lambda text: dot(ana, "online") in text)
    assert not any(f"dot-user-{cy.pk}" in text for text in heard)
    await ana_ws.disconnect()
    await ben_ws.disconnect()


async def test_a_member_friend_unfriended_stays_watched_while_in_the_room(make_user, befriend, token_for):
    ana, _ben, cy, room = await club(make_user, befriend)
    ana_ws, _ = await joined_browser_socket(token_for(ana), room)
    from friends.services import friendship_delete

    await database_sync_to_async(friendship_delete)(user=cy, friend_id=ana.pk)  # Ana hears removedAsFriend
    await until(ana_ws, lambda text: '"removedAsFriend"' in text)
    cy_ws = await open_socket(token_for(cy))
    await until(ana_ws, lambda text: dot(cy, "online") in text)  # still a member of the open room
    await cy_ws.disconnect()
    await ana_ws.disconnect()


async def test_no_presence_across_a_block_even_in_a_shared_group(make_user, befriend, token_for):
    ana, ben, cy, room = await club(make_user, befriend)
    from friends.services import block_create

    ben_ws, _ = await joined_browser_socket(token_for(ben), room)
    cy_ws = await open_socket(token_for(cy))
    await until(ben_ws, lambda text: dot(cy, "online") in text)

    await database_sync_to_async(block_create)(user=cy, other_id=ben.pk)
    await until(ben_ws, lambda text: dot(cy, "offline") in text)
    await cy_ws.send_json_to({"type": "changeStatus", "status": "away"})
    ana_ws = await open_socket(token_for(ana))
    heard = await until(ben_ws, lambda text: dot(ana, "online") in text)
    assert not any(dot(cy, "away") in text for text in heard)

    # A new join does not follow Cy either.
    ben_again, on_join = await joined_browser_socket(token_for(ben), room)
    assert not any(f"dot-user-{cy.pk}" in text for text in on_join)
    for ws in (ben_again, ana_ws, cy_ws, ben_ws):
        await ws.disconnect()


async def test_members_added_or_gone_while_the_room_is_open_are_followed_or_dropped(make_user, befriend, token_for):
    from chats.services import room_add_members, room_leave

    ana, ben, cy, room = await club(make_user, befriend)
    dee = await database_sync_to_async(make_user)("Dee")
    await database_sync_to_async(befriend)(ana, dee)  # Ana's friend, a stranger to Ben
    ben_ws, _ = await joined_browser_socket(token_for(ben), room)
    await database_sync_to_async(room_add_members)(user=ana, room_id=room.pk, friend_ids=[dee.pk])
    await until(ben_ws, lambda text: '"chatroomUpdated"' in text)
    dee_ws = await open_socket(token_for(dee))
    await until(ben_ws, lambda text: dot(dee, "online") in text)

    # Cy leaves: Ben (no friend of Cy's) hears nothing more of Cy's presence.
    await database_sync_to_async(room_leave)(user=cy, room_id=room.pk)
    await until(ben_ws, lambda text: '"chatroomUpdated"' in text)
    cy_ws = await open_socket(token_for(cy))
    await dee_ws.send_json_to({"type": "changeStatus", "status": "away"})
    heard = await until(ben_ws, lambda text: dot(dee, "away") in text)
    assert not any(dot(cy, "online") in text for text in heard)
    for ws in (cy_ws, dee_ws, ben_ws):
        await ws.disconnect()
