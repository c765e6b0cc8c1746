"""The search page and its htmx fragments, and the room's history around a message (SPEC §10)."""

from __future__ import annotations

import pytest
from django.test import Client

from chats.services import message_send, room_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(make_user, befriend):
    alice = make_user("Alice Kim")
    bob = make_user("Bob Lee")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[bob.pk])
    return alice, bob, room


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_search_page_without_javascript_lists_results_with_escaped_snippets(pair):
    alice, bob, room = pair
    message_send(sender=bob, room_id=room.pk, text="<b>내일회의는</b> at ten")
    found = message_send(sender=bob, room_id=room.pk, text="another 회의 note")[0]
    html = signed_in(alice).get("/dashboard/search", {"q": "회의"}).content.decode()
    assert "<mark>회의</mark>" in html
    assert "&lt;b&gt;내일<mark>회의</mark>는&lt;/b&gt;" in html
    assert "<b>내일" not in html
    assert f'href="/dashboard/chat/{room.pk}?around={found.pk}#msg-{found.pk}"' in html
    assert "Bob Lee" in html


def test_search_fragment_pages_with_more(pair):
    alice, bob, room = pair
    sent = [message_send(sender=bob, room_id=room.pk, text=f"apple {i}")[0] for i in range(25)]
    client = signed_in(alice)
    first = client.get("/dashboard/search", {"q": "apple"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in first
    assert first.count('class="search-result"') == 20
    assert f"before={sent[5].pk}" in first and 'id="search-more"' in first
    more = client.get(
        "/dashboard/search", {"q": "apple", "before": sent[5].pk}, headers={"HX-Request": "true"}
    ).content.decode()
    assert 'hx-swap-oob="beforeend:#search-results-list"' in more
    assert more.count('class="search-result"') == 5
    assert "<mark>apple</mark> 0" in more
    assert '<span id="search-more" hidden></span>' in more


def test_search_in_one_room_and_refusals(pair, make_user):
    alice, bob, room = pair
    carol = make_user("Carol")
    message_send(sender=bob, room_id=room.pk, text="pear here")
    client = signed_in(alice)
    html = client.get("/dashboard/search", {"q": "pear", "chatId": room.pk}).content.decode()
    assert "in this chat" in html and "<mark>pear</mark>" in html
    assert signed_in(carol).get("/dashboard/search", {"q": "pear", "chatId": room.pk}).status_code == 404
    assert "No messages found." in client.get("/dashboard/search", {"q": "zzz"}).content.decode()
    long = client.get("/dashboard/search", {"q": "x" * 201}).content.decode()
    assert "1 to 200 characters" in long


def test_room_around_a_message_shows_its_page_and_loads_newer(pair):
    alice, bob, room = pair
    sent = [message_send(sender=bob, room_id=room.pk, text=f"n{i}")[0] for i in range(120)]
    client = signed_in(alice)
    html = client.get(f"/dashboard/chat/{room.pk}", {"around": sent[30].pk}).content.decode()
    html = html[html.index('id="messages"') :]
    assert ">n5<" in html and ">n4<" not in html  # 25 older
    assert ">n30<" in html and ">n55<" in html and ">n56<" not in html  # 25 newer
    assert f'id="newer" class="newer" data-latest-id="{sent[-1].pk}"' in html
    assert f"history?after={sent[55].pk}" in html
    newer = client.get(
        f"/dashboard/chat/{room.pk}/history", {"after": sent[55].pk}, headers={"HX-Request": "true"}
    ).content.decode()
    assert ">n56<" in newer and ">n105<" in newer and ">n106<" not in newer and 'id="newer"' in newer
    last = client.get(
        f"/dashboard/chat/{room.pk}/history", {"after": sent[105].pk}, headers={"HX-Request": "true"}
    ).content.decode()
    assert ">n119<" in last and 'id="newer"' not in last


def test_around_a_message_of_another_room_is_the_newest_page(pair, make_user, befriend):
    alice, bob, room = pair
    carol = make_user("Carol")
    befriend(bob, carol)
    theirs, _ = room_create(creator=bob, friend_ids=[carol.pk])
    elsewhere = message_send(sender=bob, room_id=theirs.pk, text="not for alice")[0]
    message_send(sender=bob, room_id=room.pk, text="newest one")
    client = signed_in(alice)
    html = client.get(f"/dashboard/chat/{room.pk}", {"around": elsewhere.pk}).content.decode()
    assert "newest one" in html and "not for alice" not in html and 'id="newer"' not in html
    assert client.get(f"/dashboard/chat/{room.pk}", {"around": "abc"}).status_code == 200


def test_attachments_render_thumbnails_with_their_shown_size_and_file_cards():
    from django.template.loader import render_to_string

    image = {
        "id": "1",
        "name": "<b>sea</b>.png",
        "size": 2048,
        "contentType": "image/png",
        "url": "/media/att/1/sea.png",
        "thumbnailUrl": "/media/att/1/t/thumbnail.webp",
        "width": 1000,
        "height": 500,
    }
    tall = image | {"id": "2", "width": 100, "height": 400}
    small = image | {"id": "3", "width": 50, "height": 20}
    doc = {
        "id": "4",
        "name": "notes.txt",
        "size": 1536,
        "contentType": "text/plain",
        "url": "/media/att/4/notes.txt",
        "thumbnailUrl": None,
        "width": None,
        "height": None,
    }
    html = render_to_string("chats/partials/attachments.html", {"attachments": [image, tall, small, doc]})
    assert 'width="240" height="120"' in html
    assert 'width="60" height="240"' in html
    assert 'width="50" height="20"' in html
    assert html.count('loading="lazy"') == 3
    assert 'alt="&lt;b&gt;sea&lt;/b&gt;.png"' in html and "<b>sea" not in html
    assert 'href="/media/att/4/notes.txt" download="notes.txt"' in html
    assert "1.5\xa0KB" in html
