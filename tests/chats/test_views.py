"""The pages: what a signed-in person sees, and the plain forms that work without JavaScript."""

from __future__ import annotations

import pytest
from django.test import Client

from chats.models import Message
from chats.services import message_send, room_create


@pytest.fixture
def pair(make_user, befriend):
    alice = make_user("Alice Kim")
    bob = make_user("Bob <b>Lee</b>")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[bob.pk])
    return alice, bob, room


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_dashboard_lists_friends_and_chats_with_last_message_and_badge(pair):
    alice, bob, room = pair
    message_send(sender=bob, room_id=room.pk, text="hello <script>alert(1)</script>")
    body = signed_in(alice).get("/dashboard").content.decode()
    assert f'id="friend-{bob.pk}"' in body
    assert f'id="chat-{room.pk}"' in body
    assert "hello &lt;script&gt;alert(1)&lt;/script&gt;" in body  # escaped, never raw
    assert "<script>alert(1)</script>" not in body
    assert 'data-unread="1"' in body
    assert "<title>(1) " in body  # unread total in the tab title
    assert alice.user_tag in body


def test_empty_dashboard_says_so(make_user):
    body = signed_in(make_user("Loner")).get("/dashboard").content.decode()
    assert "No chats yet" in body
    assert "No friends yet" in body


def test_room_shows_history_participants_and_marks_me(pair):
    alice, bob, room = pair
    for i in range(3):
        message_send(sender=bob, room_id=room.pk, text=f"m{i}")
    body = signed_in(alice).get(f"/dashboard/chat/{room.pk}").content.decode()
    history = body[body.index('id="messages"') :]
    assert history.index(">m0<") < history.index(">m1<") < history.index(">m2<")
    assert 'class="me-tag"' in body
    assert "Bob &lt;b&gt;Lee&lt;/b&gt;" in body
    assert "Created by Alice Kim" in body
    # Opening the room read it: the badge is gone.
    again = signed_in(alice).get("/dashboard").content.decode()
    assert 'data-unread="0"' in again


def test_room_of_others_is_a_friendly_404(pair, make_user):
    _, _, room = pair
    stranger = make_user("Stranger")
    response = signed_in(stranger).get(f"/dashboard/chat/{room.pk}")
    assert response.status_code == 404
    assert "This page does not exist" in response.content.decode()


def test_pages_need_sign_in():
    client = Client()
    for path in ("/dashboard", "/dashboard/chat/1"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login")


def test_sending_without_javascript_posts_and_redirects(pair):
    alice, _, room = pair
    client = signed_in(alice)
    response = client.post(f"/dashboard/chat/{room.pk}/send", {"message": "plain form"})
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/chat/{room.pk}#composer"
    assert Message.objects.get(room=room).text == "plain form"
    page = client.get(f"/dashboard/chat/{room.pk}").content.decode()
    assert ">plain form<" in page


def test_sending_too_long_a_message_without_javascript_shows_an_error(pair):
    alice, _, room = pair
    client = signed_in(alice)
    response = client.post(f"/dashboard/chat/{room.pk}/send", {"message": "x" * 4001}, follow=True)
    assert "at most 4000 characters" in response.content.decode()
    assert not Message.objects.exists()


def test_older_history_pages(pair):
    alice, bob, room = pair
    sent = [message_send(sender=bob, room_id=room.pk, text=f"n{i}")[0] for i in range(60)]
    client = signed_in(alice)
    page = client.get(f"/dashboard/chat/{room.pk}").content.decode()
    page = page[page.index('id="messages"') :]
    assert ">n59<" in page and ">n9<" not in page and ">n10<" in page
    older = client.get(f"/dashboard/chat/{room.pk}/history?before={sent[10].pk}", headers={"HX-Request": "true"})
    html = older.content.decode()
    assert 'hx-swap-oob="afterbegin:#messages"' in html
    assert ">n0<" in html and ">n9<" in html and ">n10<" not in html
    assert "beginning of the chat" in html


def test_add_friend_form_answers_each_case(make_user):
    alice = make_user("Alice")
    bob = make_user("Bob")
    client = signed_in(alice)
    hx = {"HX-Request": "true"}
    r = client.post("/dashboard/friends/add", {"friendUserTag": "nobody#00000"}, headers=hx)
    assert r.status_code == 422 and "No one has that user tag" in r.content.decode()
    r = client.post("/dashboard/friends/add", {"friendUserTag": alice.user_tag}, headers=hx)
    assert r.status_code == 422 and "your own user tag" in r.content.decode()
    r = client.post("/dashboard/friends/add", {"friendUserTag": bob.user_tag.upper()}, headers=hx)
    assert r.status_code == 200 and "Bob is now your friend" in r.content.decode()
    r = client.post("/dashboard/friends/add", {"friendUserTag": bob.user_tag}, headers=hx)
    assert r.status_code == 422 and "already friends" in r.content.decode()
    # Without JavaScript: a redirect and a message on the dashboard.
    r = client.post("/dashboard/friends/add", {"friendUserTag": "nobody#1"}, follow=True)
    assert "No one has that user tag" in r.content.decode()


def test_new_chat_form_opens_the_room(make_user, befriend):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    befriend(alice, bob)
    befriend(alice, carol)
    client = signed_in(alice)
    r = client.post("/dashboard/chats/new", {"friendIds": [str(bob.pk), str(carol.pk)]})
    assert r.status_code == 302 and r["Location"].startswith("/dashboard/chat/")
    page = client.get(r["Location"]).content.decode()
    assert "Bob, Carol" in page
    r = client.post("/dashboard/chats/new", {}, follow=True)
    assert "Pick at least one friend" in r.content.decode()


def test_status_form_without_javascript(make_user):
    alice = make_user("Alice")
    client = signed_in(alice)
    r = client.post("/dashboard/status", {"status": "away", "next": "https://evil.example/"})
    assert r.status_code == 302 and r["Location"] == "/dashboard"
    alice.refresh_from_db()
    assert alice.chosen_status == "away"


def test_korean_page_follows_the_browser(make_user):
    client = signed_in(make_user("민수"))
    body = client.get("/dashboard", headers={"Accept-Language": "ko"}).content.decode()
    assert '<html lang="ko">' in body
    assert "친구" in body  # "Friends"
