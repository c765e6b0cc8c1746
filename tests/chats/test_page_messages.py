"""What the room page's message features need of the server: the read state it starts from,
a viewer's confirmed read of a live message, and an edit that keeps each viewer's own reactions."""

from __future__ import annotations

import html
import json
import re

from django.test import Client

from chats import frames
from chats.selectors import message_payload, read_positions
from chats.services import message_edit, message_send, reaction_toggle, read_mark


def send(sender, room, text: str, **kwargs):
    return message_send(sender=sender, room_id=room.pk, text=text, **kwargs)[0]


def read_state(page: str) -> dict:
    found = re.search(r'<div id="read-state" hidden data-state="([^"]*)"></div>', page)
    assert found, "the room page carries its read state"
    return json.loads(html.unescape(found.group(1)))


def test_the_room_page_starts_from_the_read_positions_before_the_visit_reads(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m1 = send(alice, r, "one")
    read_mark(user=bob, room_id=r.pk)
    m2 = send(alice, r, "two")
    client = Client()
    client.force_login(bob)
    state = read_state(client.get(f"/dashboard/chat/{r.pk}").content.decode())
    assert state == {
        "kind": "direct",
        "lastRead": str(m1.pk),  # where Bob was: the "New messages" line goes after it
        "positions": {str(alice.pk): str(m2.pk)},
        "names": {str(alice.pk): "Alice"},
    }
    assert read_positions(room_id=r.pk)[str(bob.pk)] == str(m2.pk)  # and the visit read the room
    assert read_state(client.get(f"/dashboard/chat/{r.pk}").content.decode())["lastRead"] == str(m2.pk)


def test_a_viewer_confirming_a_live_message_tells_the_others(people, room, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    old = send(alice, r, "old")
    # Bob has the room open: the send counts him as reading it, silently.
    with published() as events:
        m = send(alice, r, "live", viewer_ids={bob.pk})
    assert not [e for _, e in events if e["type"] == "chat.read_by"]
    assert read_positions(room_id=r.pk)[str(bob.pk)] == str(m.pk)
    # His page had it on screen: markRead with its id is the receipt Alice sees.
    with published() as events:
        read_mark(user=bob, room_id=r.pk, message_id=m.pk)
    assert events == [
        (f"members.{r.pk}", {"type": "chat.read_by", "room_id": r.pk, "user_id": bob.pk, "message_id": m.pk}),
    ]
    with published() as events:  # behind the position: nothing to tell
        read_mark(user=bob, room_id=r.pk, message_id=old.pk)
    assert events == []
    with published() as events:  # no id (a join or leave of a room read already): nothing either
        read_mark(user=bob, room_id=r.pk)
    assert events == []


def test_an_edited_message_keeps_each_viewers_own_reactions_highlighted(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol", all_friends=True)
    r = room(alice, bob, carol)
    m = send(alice, r, "we won")
    reaction_toggle(user=bob, message_id=m.pk, emoji="🎉")
    edited = message_edit(user=alice, message_id=m.pk, text="we won the cup")
    out = frames.message_edited({"type": "chat.message_edited", "room_id": r.pk, "message": message_payload(edited)})

    def chip(user) -> str:
        html = out.html_per_user(user.pk, "en")
        return re.search(r'<li data-emoji="🎉"[^>]*>', html).group(0)

    assert 'class="mine"' in chip(bob)
    assert 'class="mine"' not in chip(carol)
    assert 'class="mine"' not in chip(alice)
    assert 'class="msg mine"' in out.html_per_user(alice.pk, "en")
    assert 'class="msg mine"' not in out.html_per_user(bob.pk, "en")
