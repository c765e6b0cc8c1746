"""SPEC §9 services: the rows they write and the events they publish after commit."""

from __future__ import annotations

import pytest

from chats.models import ChatRoom, Message, Participant, Reaction
from chats.selectors import chat_list, history, message_payload, read_positions, room_summary
from chats.services import (
    mark_unread,
    message_edit,
    message_remove,
    message_send,
    reaction_toggle,
    read_mark,
    room_add_members,
    room_leave,
    room_mute,
    room_rename,
)
from chatty.errors import Forbidden, Invalid, NotFound, NotParticipant, TooLong
from friends.services import friendship_delete


def send(sender, room, text: str, **kwargs) -> Message:
    return message_send(sender=sender, room_id=room.pk, text=text, **kwargs)[0]


def of_type(events, kind: str) -> list[tuple[str, dict]]:
    return [(group, event) for group, event in events if event["type"] == kind]


# --- the message, extended -------------------------------------------------------------


def test_a_fresh_message_carries_the_new_keys_empty(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    payload = message_payload(send(alice, r, "hi"))
    assert payload["editedAt"] is None
    assert payload["replyTo"] is None
    assert payload["reactions"] == []
    assert payload["attachments"] == []


def test_a_reply_quotes_its_parent_and_says_when_it_is_gone(people, room, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    parent = send(bob, r, "p" * 130)
    with published() as events:
        reply = send(alice, r, "answer", reply_to_id=parent.pk)
    quoted = {"id": str(parent.pk), "senderName": "Bob", "excerpt": "p" * 120}
    assert reply.reply_to_id == parent.pk
    (_, event), *_ = of_type(events, "chat.message")
    assert event["message"]["replyTo"] == quoted
    message_remove(user=bob, message_id=parent.pk)
    [shown] = history(room_id=r.pk)[0]
    assert message_payload(shown)["replyTo"] == {"id": str(parent.pk), "senderName": "Bob", "excerpt": None}


def test_a_reply_must_quote_a_message_of_the_same_room(people, room, make_user):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob)
    other = room(alice, carol)
    elsewhere = send(carol, other, "elsewhere")
    with pytest.raises(Invalid):
        send(alice, r, "x", reply_to_id=elsewhere.pk)
    eve, dan = make_user("Eve"), make_user("Dan")
    from friends.services import friendship_create

    friendship_create(user=eve, friend_tag=dan.user_tag)
    hidden = send(eve, room(eve, dan), "hidden")
    with pytest.raises(NotFound):  # a message of a room Alice is not in tells nothing
        send(alice, r, "x", reply_to_id=hidden.pk)
    with pytest.raises(NotFound):
        send(alice, r, "x", reply_to_id=10**9)
    assert Message.objects.filter(sender=alice).count() == 0


def test_sending_without_a_reply_costs_no_query_for_the_payload(people, room, django_assert_num_queries):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    parent = send(bob, r, "first")
    # Savepoint, lock + membership, insert, advance the room, count, release: as before §9;
    # plus, in a direct room, the read-only check (still friends?). No query for the payload.
    with django_assert_num_queries(7):
        message_send(sender=alice, room_id=r.pk, text="plain", viewer_ids=[])
    # With a reply: one query more, for the parent.
    with django_assert_num_queries(8):
        message_send(sender=alice, room_id=r.pk, text="reply", viewer_ids=[], reply_to_id=parent.pk)


# --- edit ------------------------------------------------------------------------------


def test_editing_changes_the_text_marks_it_and_tells_every_member(people, room, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m = send(alice, r, "helo")
    with published() as events:
        edited = message_edit(user=alice, message_id=m.pk, text="hello")
    m.refresh_from_db()
    assert m.text == "hello" and m.edited_at is not None
    payload = message_payload(Message.objects.select_related("sender").get(pk=m.pk))
    assert payload["message"] == "hello" and payload["editedAt"] == int(m.edited_at.timestamp() * 1000)
    assert events == [
        (f"members.{r.pk}", {"type": "chat.message_edited", "room_id": r.pk, "message": message_payload(edited)})
    ]


def test_only_ones_own_message_can_be_edited_with_a_valid_text(people, room, make_user):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m = send(bob, r, "bob's")
    with pytest.raises(Forbidden):
        message_edit(user=alice, message_id=m.pk, text="mine now")
    with pytest.raises(NotFound):
        message_edit(user=make_user("Eve"), message_id=m.pk, text="x")
    with pytest.raises(NotFound):  # the frame's chatroomId must be the message's room
        message_edit(user=bob, message_id=m.pk, text="x", room_id=r.pk + 1)
    with pytest.raises(Invalid):
        message_edit(user=bob, message_id=m.pk, text="   ")
    with pytest.raises(TooLong):
        message_edit(user=bob, message_id=m.pk, text="x" * 4001)
    m.refresh_from_db()
    assert m.text == "bob's" and m.edited_at is None


def test_a_direct_room_of_people_no_longer_friends_is_read_only(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m = send(alice, r, "before")
    friendship_delete(user=alice, friend_id=bob.pk)
    with pytest.raises(Forbidden):
        message_edit(user=alice, message_id=m.pk, text="after")
    with pytest.raises(Forbidden):
        reaction_toggle(user=bob, message_id=m.pk, emoji="👍")
    assert history(room_id=r.pk)[0] == [m]  # still readable
    assert not Reaction.objects.exists()


def _statements(queries) -> list[str]:
    """The statements a service sent, without the savepoints of the test's own transaction."""
    return [q["sql"] for q in queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO"))]


def test_an_edit_and_a_toggle_cost_a_fixed_few_statements(people, room, published):
    """The benchmark's mix of edits and reactions: each was six or seven ORM queries, and
    compiling them was most of a busy server's CPU (docs/performance.md)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    parent = send(bob, r, "which day?")
    m = send(alice, r, "fridya", reply_to_id=parent.pk)
    with published() as events, CaptureQueriesContext(connection) as queries:
        edited = message_edit(user=alice, message_id=m.pk, text="friday", room_id=r.pk)
    assert len(_statements(queries)) == 2  # the message as alice sees it; the new text
    [(_, event)] = of_type(events, "chat.message_edited")
    # What the edit tells the room is what a fresh read of the message says.
    assert event["message"] == message_payload(Message.objects.get(pk=m.pk))
    assert event["message"]["replyTo"] == {"id": str(parent.pk), "senderName": "Bob", "excerpt": "which day?"}
    assert edited.text == "friday"
    with published() as events, CaptureQueriesContext(connection) as queries:
        _, reactions = reaction_toggle(user=bob, message_id=m.pk, emoji="👍", room_id=r.pk)
    assert len(_statements(queries)) == 3  # the message, locked; the row; the summary
    assert reactions == [{"emoji": "👍", "userIds": [str(bob.pk)]}]
    with CaptureQueriesContext(connection) as queries:
        _, reactions = reaction_toggle(user=bob, message_id=m.pk, emoji="👍")
    assert len(_statements(queries)) == 3 and reactions == []
    assert not Reaction.objects.exists()
    assert Message.objects.get(pk=m.pk).reaction_summary == []


def test_editing_a_reply_whose_parent_is_gone_keeps_the_quote_s_sender(people, room, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    parent = send(bob, r, "soon gone")
    m = send(alice, r, "an answr", reply_to_id=parent.pk)
    message_remove(user=bob, message_id=parent.pk)
    with published() as events:
        message_edit(user=alice, message_id=m.pk, text="an answer")
    [(_, event)] = of_type(events, "chat.message_edited")
    assert event["message"]["replyTo"] == {"id": str(parent.pk), "senderName": "Bob", "excerpt": None}
    assert event["message"] == message_payload(Message.objects.get(pk=m.pk))


# --- delete ----------------------------------------------------------------------------


def test_deleting_ones_own_message_drops_unread_and_names_the_newest(people, room, published):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    first = send(alice, r, "one")
    second = send(alice, r, "two")
    read_mark(user=bob, room_id=r.pk)
    assert Participant.objects.get(room=r, user=carol).unread_count == 2
    with published() as events:
        assert message_remove(user=alice, message_id=second.pk) == second.pk
    assert not Message.objects.filter(pk=second.pk).exists()
    assert Participant.objects.get(room=r, user=carol).unread_count == 1
    assert Participant.objects.get(room=r, user=bob).unread_count == 0
    r.refresh_from_db()
    assert r.last_message_id == first.pk
    newest = message_payload(Message.objects.select_related("sender").get(pk=first.pk))
    assert events == [
        (
            f"members.{r.pk}",
            {"type": "chat.message_deleted", "room_id": r.pk, "message_id": second.pk, "last_message": newest},
        )
    ]
    with published() as events:
        message_remove(user=alice, message_id=first.pk)
    assert events[0][1]["last_message"] is None
    assert chat_list(user=carol)[0]["lastMessage"] is None


def test_someone_elses_message_cannot_be_deleted_but_a_moderators_can(people, room, make_user):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m = send(bob, r, "bob's")
    with pytest.raises(Forbidden):
        message_remove(user=alice, message_id=m.pk)
    with pytest.raises(NotFound):
        message_remove(user=make_user("Eve"), message_id=m.pk)
    assert Message.objects.filter(pk=m.pk).exists()
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    message_remove(user=alice, message_id=m.pk)
    assert not Message.objects.filter(pk=m.pk).exists()


# --- reactions -------------------------------------------------------------------------


def test_reactions_toggle_in_first_use_order_and_tell_the_room(people, room, published):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    m = send(alice, r, "party?")
    reaction_toggle(user=bob, message_id=m.pk, emoji="🎉")
    reaction_toggle(user=carol, message_id=m.pk, emoji="👍")
    with published() as events:
        _, reactions = reaction_toggle(user=alice, message_id=m.pk, emoji="🎉")
    expected = [{"emoji": "🎉", "userIds": [str(bob.pk), str(alice.pk)]}, {"emoji": "👍", "userIds": [str(carol.pk)]}]
    assert reactions == expected
    assert events == [
        (
            f"room.{r.pk}",
            {"type": "chat.reactions_changed", "room_id": r.pk, "message_id": m.pk, "reactions": expected},
        )
    ]
    [shown] = history(room_id=r.pk)[0]
    assert message_payload(shown)["reactions"] == expected
    # The same emoji again takes it back.
    _, reactions = reaction_toggle(user=bob, message_id=m.pk, emoji="🎉")
    assert reactions == [
        {"emoji": "🎉", "userIds": [str(alice.pk)]},
        {"emoji": "👍", "userIds": [str(carol.pk)]},
    ]
    assert Reaction.objects.filter(message=m).count() == 2


@pytest.mark.parametrize(
    "emoji", ["", "a", "1", "1️⃣", "👍a", "🙂 ", "!", "+", "\u200d", "x" * 17, "👍" * 17, 5, None, "\x00", "\ud83d"]
)
def test_a_reaction_is_one_emoji(people, room, emoji):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m = send(alice, r, "hi")
    with pytest.raises(Invalid):
        reaction_toggle(user=bob, message_id=m.pk, emoji=emoji)
    assert not Reaction.objects.exists()


def test_emoji_with_skin_tones_and_joiners_are_one_emoji(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m = send(alice, r, "hi")
    for emoji in ["👍🏽", "👨‍👩‍👧", "❤️", "🇰🇷"]:
        reaction_toggle(user=bob, message_id=m.pk, emoji=emoji)
    assert [e["emoji"] for e in message_payload(Message.objects.get(pk=m.pk))["reactions"]] == [
        "👍🏽",
        "👨‍👩‍👧",
        "❤️",
        "🇰🇷",
    ]


def test_at_most_twenty_distinct_emoji_per_message(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m = send(alice, r, "hi")
    emoji = [chr(0x1F600 + i) for i in range(21)]
    for e in emoji[:20]:
        reaction_toggle(user=bob, message_id=m.pk, emoji=e)
    with pytest.raises(Invalid):
        reaction_toggle(user=alice, message_id=m.pk, emoji=emoji[20])
    reaction_toggle(user=alice, message_id=m.pk, emoji=emoji[0])  # one already used is fine
    assert Reaction.objects.filter(message=m).count() == 21


# --- reading state ---------------------------------------------------------------------


def test_reading_tells_the_readers_tabs_and_the_others(people, room, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m = send(alice, r, "hi")
    with published() as events:
        read_mark(user=bob, room_id=r.pk)
    assert events == [
        (f"user.{bob.pk}", {"type": "chat.unread", "room_id": r.pk, "unread": 0}),
        (f"members.{r.pk}", {"type": "chat.read_by", "room_id": r.pk, "user_id": bob.pk, "message_id": m.pk}),
    ]
    with published() as events:  # nothing moved: nothing to tell
        read_mark(user=bob, room_id=r.pk)
    assert events == []
    assert read_positions(room_id=r.pk) == {str(alice.pk): str(m.pk), str(bob.pk): str(m.pk)}


def test_mark_unread_moves_back_to_just_before_the_message(people, room, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    m1, m2, m3 = (send(alice, r, t) for t in ("a", "b", "c"))
    read_mark(user=bob, room_id=r.pk)
    with published() as events:
        assert mark_unread(user=bob, room_id=r.pk, message_id=m2.pk) == 2
    part = Participant.objects.get(room=r, user=bob)
    assert (part.last_read_id, part.unread_count) == (m1.pk, 2)
    # Back is no read receipt: only the reader's tabs hear of it.
    assert events == [(f"user.{bob.pk}", {"type": "chat.unread", "room_id": r.pk, "unread": 2})]
    assert mark_unread(user=bob, room_id=r.pk, message_id=m1.pk) == 3
    assert read_positions(room_id=r.pk)[str(bob.pk)] is None
    assert room_summary(room_id=r.pk, user=bob)["unreadMessagesCount"] == 3
    assert m3.pk


def test_mark_unread_needs_a_message_of_that_room(people, room, make_user):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob)
    other = send(alice, room(alice, carol), "other room")
    with pytest.raises(NotFound):
        mark_unread(user=bob, room_id=r.pk, message_id=other.pk)
    with pytest.raises(NotParticipant):
        mark_unread(user=make_user("Eve"), room_id=r.pk, message_id=other.pk)


def test_mute_is_per_participant_and_tells_the_users_tabs(people, room, published):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    with published() as events:
        assert room_mute(user=bob, room_id=r.pk, muted=True) is True
    assert room_summary(room_id=r.pk, user=bob)["muted"] is True
    assert room_summary(room_id=r.pk, user=alice)["muted"] is False
    assert events == [(f"user.{bob.pk}", {"type": "chat.updated", "chatroom": room_summary(room_id=r.pk, user=bob)})]
    send(alice, r, "still counted")
    assert room_summary(room_id=r.pk, user=bob)["unreadMessagesCount"] == 1


# --- rooms people can shape ------------------------------------------------------------


def test_renaming_a_group_titles_it_for_everyone(people, room, published):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    with published() as events:
        summary = room_rename(user=bob, room_id=r.pk, title="  Trip  ")
    assert summary["title"] == "Trip" and summary["customTitle"] == "Trip"
    assert {group for group, _ in events} == {f"user.{u.pk}" for u in (alice, bob, carol)}
    for _group, event in events:
        assert event["type"] == "chat.updated" and event["chatroom"]["title"] == "Trip"
    mine = dict(events)[f"user.{alice.pk}"]["chatroom"]
    assert mine == room_summary(room_id=r.pk, user=alice)
    summary = room_rename(user=alice, room_id=r.pk, title="")
    assert summary["title"] == "Bob, Carol" and summary["customTitle"] is None


def test_rename_refuses_direct_rooms_long_titles_and_outsiders(people, room, make_user):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    direct = room(alice, bob)
    group = room(alice, bob, carol)
    with pytest.raises(Invalid):
        room_rename(user=alice, room_id=direct.pk, title="Us")
    with pytest.raises(Invalid):
        room_rename(user=alice, room_id=group.pk, title="x" * 101)
    with pytest.raises(NotParticipant):
        room_rename(user=make_user("Eve"), room_id=group.pk, title="Mine")
    assert "customTitle" not in room_summary(room_id=direct.pk, user=alice)
    assert ChatRoom.objects.get(pk=group.pk).title == ""


def test_adding_friends_to_a_group(people, room, published, make_user):
    alice, bob, carol, dan = people("Alice", "Bob", "Carol", "Dan")
    r = room(alice, bob, carol)
    m = send(bob, r, "before Dan")
    with published() as events:
        summary = room_add_members(user=alice, room_id=r.pk, friend_ids=[dan.pk])
    assert [p["participantId"] for p in summary["participants"]][-1] == str(dan.pk)
    assert Participant.objects.get(room=r, user=dan).last_read_id == m.pk  # history, nothing unread
    kinds = {group: event["type"] for group, event in events}
    assert kinds == {
        f"user.{dan.pk}": "chat.added",
        f"user.{alice.pk}": "chat.updated",
        f"user.{bob.pk}": "chat.updated",
        f"user.{carol.pk}": "chat.updated",
    }
    assert dict(events)[f"user.{dan.pk}"]["chatroom"]["title"] == "Alice, Bob, Carol"
    with pytest.raises(Invalid):  # already in
        room_add_members(user=alice, room_id=r.pk, friend_ids=[dan.pk])
    stranger = make_user("Stranger")
    with pytest.raises(Invalid):  # not a friend of the caller
        room_add_members(user=alice, room_id=r.pk, friend_ids=[stranger.pk])
    direct = room(alice, bob)
    with pytest.raises(Invalid):
        room_add_members(user=alice, room_id=direct.pk, friend_ids=[carol.pk])
    assert not Participant.objects.filter(user=stranger).exists()


def test_leaving_a_group_keeps_its_history_and_shuts_the_leaver_out(people, room, published):
    alice, bob, carol = people("Alice", "Bob", "Carol")
    r = room(alice, bob, carol)
    said = send(carol, r, "bye all")
    with published() as events:
        assert room_leave(user=carol, room_id=r.pk) == r.pk
    assert events[0] == (f"user.{carol.pk}", {"type": "chat.removed", "room_id": r.pk})
    updated = {group: event for group, event in events[1:]}
    assert set(updated) == {f"user.{alice.pk}", f"user.{bob.pk}"}
    assert updated[f"user.{alice.pk}"]["chatroom"]["title"] == "Bob"
    assert history(room_id=r.pk)[0] == [said]
    assert chat_list(user=carol) == []
    with pytest.raises(NotParticipant):
        read_mark(user=carol, room_id=r.pk)
    with pytest.raises(NotParticipant):
        message_send(sender=carol, room_id=r.pk, text="back?")
    with pytest.raises(NotFound):  # her old message is out of her sight now
        message_edit(user=carol, message_id=said.pk, text="edited")


def test_a_direct_room_cannot_be_left(people, room):
    alice, bob = people("Alice", "Bob")
    r = room(alice, bob)
    with pytest.raises(Invalid):
        room_leave(user=alice, room_id=r.pk)
    assert Participant.objects.filter(room=r).count() == 2


@pytest.mark.django_db(transaction=True)
def test_reactions_at_once_are_all_kept(people, room):
    from tests.chats.test_services import run_together

    users = people("Alice", "Bob", "Carol", "Dan", "Erin", "Finn", all_friends=True)
    r = room(*users)
    m = send(users[0], r, "react!")
    emoji = ["👍", "🎉", "😂", "❤️", "🚀", "👀"]
    results = run_together(
        *[lambda u=u, e=e: reaction_toggle(user=u, message_id=m.pk, emoji=e) for u, e in zip(users, emoji, strict=True)]
    )
    assert not [x for x in results if isinstance(x, BaseException)], results
    stored = Message.objects.get(pk=m.pk).reaction_summary
    # Each toggle read and rewrote the list under the message's lock: none was lost.
    assert sorted(r["emoji"] for r in stored) == sorted(emoji)
    assert Reaction.objects.filter(message=m).count() == 6


def test_a_send_to_a_group_costs_no_query_for_the_read_only_check(people, django_assert_num_queries):
    from chats.services import room_create

    alice, bob, carol = people("Alice", "Bob", "Carol")
    group, _ = room_create(creator=alice, friend_ids=[bob.pk, carol.pk])
    with django_assert_num_queries(6):  # as before blocks existed: the room's kind comes with its lock
        message_send(sender=alice, room_id=group.pk, text="to the group", viewer_ids=[])
