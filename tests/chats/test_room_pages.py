"""Rooms people can shape, on the pages (SPEC §9): the group settings forms (with htmx and
without JavaScript), the header's tools, the display-name form, and the live fragments that
keep chat rows, the open room's header and friends' names current."""

from __future__ import annotations

import pytest
from django.test import Client

from chats import frames
from chats.models import ChatRoom, Participant
from chats.services import room_create
from friends import frames as friend_frames

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def trio(make_user, befriend):
    alice, bob, carol, dan = make_user("Alice"), make_user("Bob"), make_user("Carol"), make_user("Dan <i>D</i>")
    for other in (bob, carol, dan):
        befriend(alice, other)
    group, _ = room_create(creator=alice, friend_ids=[bob.pk, carol.pk])
    return alice, bob, carol, dan, group


def test_a_group_room_has_its_settings_dialog_and_a_mute_toggle(trio):
    alice, _bob, _carol, dan, group = trio
    body = signed_in(alice).get(f"/dashboard/chat/{group.pk}").content.decode()
    assert 'id="group-settings-dialog"' in body and 'id="leave-group-dialog"' in body
    assert f'id="room-head-{group.pk}"' in body
    assert 'id="mute-button"' in body and 'aria-pressed="false"' in body
    pick = body[body.index('id="add-members-list"') :]
    pick = pick[: pick.index("</ul>")]
    assert f'value="{dan.pk}"' in pick and "Dan &lt;i&gt;D&lt;/i&gt;" in pick  # only friends not in it
    assert f'value="{_bob.pk}"' not in pick


def test_a_direct_room_can_be_muted_but_has_no_group_settings(make_user, befriend):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[bob.pk])
    Participant.objects.filter(room=room, user=alice).update(muted=True)
    client = signed_in(alice)
    body = client.get(f"/dashboard/chat/{room.pk}").content.decode()
    assert 'id="mute-button"' in body and 'aria-pressed="true"' in body
    assert "group-settings-dialog" not in body
    assert client.get(f"/dashboard/chat/{room.pk}/settings").status_code == 404
    assert f'id="chat-{room.pk}" class="chat-row current" data-muted="true"' in body


def test_renaming_a_group_and_adding_friends_without_javascript(trio):
    alice, _bob, _carol, dan, group = trio
    client = signed_in(alice)
    page = client.get(f"/dashboard/chat/{group.pk}/settings").content.decode()
    assert (
        f'action="/dashboard/chat/{group.pk}/rename"' in page and f'action="/dashboard/chat/{group.pk}/leave"' in page
    )
    response = client.post(f"/dashboard/chat/{group.pk}/rename", {"title": "  Hikers <3 "}, follow=True)
    assert response.redirect_chain[-1][0] == f"/dashboard/chat/{group.pk}#room-title"
    body = response.content.decode()
    assert ChatRoom.objects.get(pk=group.pk).title == "Hikers <3"
    assert "The group is now called Hikers &lt;3." in body
    assert '<h1 id="room-title">Hikers &lt;3</h1>' in body
    response = client.post(f"/dashboard/chat/{group.pk}/rename", {"title": "x" * 101}, follow=True)
    assert "A group name holds at most 100 characters." in response.content.decode()
    assert ChatRoom.objects.get(pk=group.pk).title == "Hikers <3"
    client.post(f"/dashboard/chat/{group.pk}/rename", {"title": ""})
    assert ChatRoom.objects.get(pk=group.pk).title == ""
    # Adding friends works the same way; a refusal goes back to the settings page.
    response = client.post(f"/dashboard/chat/{group.pk}/add", {"friendIds": [dan.pk]}, follow=True)
    assert response.redirect_chain[-1][0] == f"/dashboard/chat/{group.pk}#room-title"
    assert "Added to the group." in response.content.decode()
    response = client.post(f"/dashboard/chat/{group.pk}/add", {"friendIds": [dan.pk]}, follow=True)
    assert response.redirect_chain[-1][0] == f"/dashboard/chat/{group.pk}/settings"
    assert "Only friends who are not in the group yet can be added." in response.content.decode()


def test_the_dialog_forms_answer_htmx_with_their_result_line(trio, django_assert_max_num_queries):
    alice, bob, carol, dan, group = trio
    client = signed_in(alice)
    headers = {"HX-Request": "true"}
    client.get("/dashboard")  # the session is loaded once, as in the dialog's page
    # A one-line answer and the pick list: not the room's whole page (history, chat list, ...).
    with django_assert_max_num_queries(8):
        answer = client.post(f"/dashboard/chat/{group.pk}/add", {}, headers=headers)
    assert answer.status_code == 422
    assert "Pick at least one friend." in answer.content.decode()
    answer = client.post(f"/dashboard/chat/{group.pk}/add", {"friendIds": [dan.pk]}, headers=headers)
    assert answer.status_code == 200
    body = answer.content.decode()
    assert 'id="add-result"' in body and "Added to the group." in body
    assert "All your friends are in this group." in body  # the fresh list, out of band
    assert set(Participant.objects.filter(room=group).values_list("user_id", flat=True)) == {
        alice.pk,
        bob.pk,
        carol.pk,
        dan.pk,
    }
    answer = client.post(f"/dashboard/chat/{group.pk}/rename", {"title": "y" * 101}, headers=headers)
    assert answer.status_code == 422 and 'id="rename-result"' in answer.content.decode()
    listing = client.get(f"/dashboard/chat/{group.pk}/settings", headers=headers).content.decode()
    assert "All your friends are in this group." in listing and "<html" not in listing


def test_someone_outside_the_group_cannot_use_its_forms(trio):
    _alice, _bob, _carol, dan, group = trio
    client = signed_in(dan)
    assert client.post(f"/dashboard/chat/{group.pk}/rename", {"title": "mine"}).status_code == 404
    assert client.get(f"/dashboard/chat/{group.pk}/settings").status_code == 404
    assert client.post(f"/dashboard/chat/{group.pk}/add", {"friendIds": [str(dan.pk)]}).status_code == 404
    assert client.post(f"/dashboard/chat/{group.pk}/mute", {"muted": "1"}).status_code == 404
    assert client.get(f"/dashboard/chat/{group.pk}/history?after=1").status_code == 404
    assert not Participant.objects.filter(room=group, user=dan).exists()


def test_muting_without_javascript_is_a_plain_form(trio):
    alice, _bob, _carol, _dan, group = trio
    client = signed_in(alice)
    body = client.get(f"/dashboard/chat/{group.pk}").content.decode()
    form = body[body.index('class="mute-form"') :]
    assert f'action="/dashboard/chat/{group.pk}/mute"' in body and 'name="muted" value="1"' in form[:400]
    response = client.post(f"/dashboard/chat/{group.pk}/mute", {"muted": "1"})
    assert response.status_code == 302 and response["Location"].startswith(f"/dashboard/chat/{group.pk}")
    assert Participant.objects.get(room=group, user=alice).muted is True
    page = client.get(response["Location"]).content.decode()
    assert "This chat is muted." in page and 'aria-pressed="true"' in page and 'name="muted" value="0"' in page
    client.post(f"/dashboard/chat/{group.pk}/mute", {"muted": "0"})
    assert Participant.objects.get(room=group, user=alice).muted is False


def test_the_display_name_form_without_javascript(trio):
    alice = trio[0]
    client = signed_in(alice)
    settings_page = client.get("/dashboard/settings").content.decode()
    assert 'action="/dashboard/name"' in settings_page and 'value="Alice"' in settings_page
    response = client.post("/dashboard/name", {"name": "  Alice Park ", "next": "/dashboard/settings"}, follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/settings"
    assert "Your name is saved." in response.content.decode()
    alice.refresh_from_db()
    assert alice.name == "Alice Park"
    response = client.post("/dashboard/name", {"name": "   ", "next": "https://evil.example/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/settings"
    assert "A name holds 1 to 50 characters." in response.content.decode()


def test_korean_labels_of_the_group_settings(trio):
    alice, _bob, _carol, _dan, group = trio
    body = signed_in(alice).get(f"/dashboard/chat/{group.pk}", headers={"Accept-Language": "ko"}).content.decode()
    assert "그룹 설정" in body and "그룹 이름" in body and "알림 끄기" in body


# --- live fragments: made once per event (per user and language), never per socket ------


def test_chatroom_updated_swaps_the_row_and_the_open_rooms_header(trio, monkeypatch):
    alice, _bob, _carol, _dan, group = trio
    from chats.selectors import room_summary

    summary = room_summary(room_id=group.pk, user=alice) | {"title": "Trip", "customTitle": "Trip"}
    renders = []
    real = frames.fragments.render
    monkeypatch.setattr(frames.fragments, "render", lambda *a, **k: renders.append(a) or real(*a, **k))
    out = frames.chat_updated({"chatroom": summary})
    html = out.html_per_user(alice.pk, "en")
    assert out.html_per_user(alice.pk, "en") == html  # a second tab: no second render
    assert len(renders) == 1
    assert f'<li id="chat-{group.pk}"' in html and f'<div id="room-head-{group.pk}"' in html
    assert '<h1 id="room-title">Trip</h1>' in html
    assert 'class="me-tag"' in html  # Alice sees herself marked in the header


def test_friend_updated_swaps_the_rail_row_and_the_name_everywhere(trio):
    alice = trio[0]
    friend = {"userId": str(alice.pk), "name": "Ali <b>", "image": "", "userTag": alice.user_tag, "status": "online"}
    out = friend_frames.friend_updated({"friend": friend})
    html = out.html("en")
    assert f'id="friend-{alice.pk}" class="friend" hx-swap-oob="true"' in html
    assert f'id="pick-friend-{alice.pk}" hx-swap-oob="true"' in html
    assert f'hx-swap-oob="outerHTML:.name-of-{alice.pk}">Ali &lt;b&gt;</span>' in html


def test_a_group_title_is_made_of_name_spans_a_rename_can_swap(trio):
    alice, bob, carol, _dan, group = trio
    body = signed_in(alice).get("/dashboard").content.decode()
    row = body[body.index(f'id="chat-{group.pk}"') :]
    names = f'<span class="name-of-{bob.pk}">Bob</span>, <span class="name-of-{carol.pk}">Carol</span>'
    assert f'<span class="chat-title">{names}' in row


def test_muting_tells_every_tab_of_the_user_and_their_row_renders_muted(trio, published):
    from chats.services import room_mute

    _alice, bob, _carol, _dan, group = trio
    with published() as events:
        room_mute(user=bob, room_id=group.pk, muted=True)
    assert [(g, e["type"]) for g, e in events] == [(f"user.{bob.pk}", "chat.updated")]  # Bob's own tabs only
    html = frames.chat_updated(events[0][1]).html_per_user(bob.pk, "en")
    assert f'<li id="chat-{group.pk}" class="chat-row" data-muted="true" hx-swap-oob="true">' in html
    assert 'class="muted-mark"' in html


def test_renaming_oneself_updates_ones_own_other_tabs(trio, published):
    from accounts import frames as account_frames
    from accounts.services import user_rename

    alice = trio[0]
    with published() as events:
        user_rename(user=alice, name="Ali <b>")
    own = [e for g, e in events if g == f"user.{alice.pk}"]
    assert own == [{"type": "user.renamed", "user_id": alice.pk, "name": "Ali <b>"}]
    out = account_frames.renamed(own[0])
    assert out.text is None  # no JSON frame: SPEC §9 has none for it
    html = out.html("en")
    assert '<strong hx-swap-oob="innerHTML:.me-card .me-text > strong">Ali &lt;b&gt;</strong>' in html
    assert f'hx-swap-oob="outerHTML:.name-of-{alice.pk}">Ali &lt;b&gt;</span>' in html
