"""The pages: what a signed-in person sees, and the plain forms that work without JavaScript."""

from __future__ import annotations

import re

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


# --- §9 without JavaScript: edit, delete, leave; the message's Markdown ----------------


def test_editing_without_javascript_posts_and_redirects_back(pair):
    alice, _, room = pair
    m = message_send(sender=alice, room_id=room.pk, text="helo")[0]
    client = signed_in(alice)
    page = client.get(f"/dashboard/chat/{room.pk}").content.decode()
    assert f'action="/dashboard/chat/{room.pk}/messages/{m.pk}/edit"' in page
    response = client.post(f"/dashboard/chat/{room.pk}/messages/{m.pk}/edit", {"message": "hello"})
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/chat/{room.pk}#msg-{m.pk}"
    m.refresh_from_db()
    assert m.text == "hello" and m.edited_at is not None
    page = client.get(response["Location"]).content.decode()
    assert ">hello<" in page and 'class="edited"' in page


def test_editing_someone_elses_message_without_javascript_is_refused(pair):
    alice, bob, room = pair
    m = message_send(sender=bob, room_id=room.pk, text="bob's")[0]
    client = signed_in(alice)
    assert f"/messages/{m.pk}/edit" not in client.get(f"/dashboard/chat/{room.pk}").content.decode()
    response = client.post(f"/dashboard/chat/{room.pk}/messages/{m.pk}/edit", {"message": "mine"}, follow=True)
    assert "your own messages" in response.content.decode()
    response = client.post(f"/dashboard/chat/{room.pk}/messages/{m.pk}/edit", {"message": ""}, follow=True)
    assert "The message is empty" in response.content.decode()
    m.refresh_from_db()
    assert m.text == "bob's"


def test_deleting_without_javascript(pair):
    alice, bob, room = pair
    mine = message_send(sender=alice, room_id=room.pk, text="oops")[0]
    theirs = message_send(sender=bob, room_id=room.pk, text="keep")[0]
    client = signed_in(alice)
    response = client.post(f"/dashboard/chat/{room.pk}/messages/{mine.pk}/delete")
    assert response.status_code == 302 and response["Location"] == f"/dashboard/chat/{room.pk}#messages"
    assert not Message.objects.filter(pk=mine.pk).exists()
    response = client.post(f"/dashboard/chat/{room.pk}/messages/{theirs.pk}/delete", follow=True)
    assert "your own messages" in response.content.decode()
    assert Message.objects.filter(pk=theirs.pk).exists()
    assert client.get(f"/dashboard/chat/{room.pk}/messages/{theirs.pk}/delete").status_code == 405


def test_leaving_a_group_without_javascript(make_user, befriend):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    befriend(alice, bob)
    befriend(alice, carol)
    group, _ = room_create(creator=alice, friend_ids=[bob.pk, carol.pk])
    client = signed_in(carol)
    assert f'action="/dashboard/chat/{group.pk}/leave"' in client.get(f"/dashboard/chat/{group.pk}").content.decode()
    response = client.post(f"/dashboard/chat/{group.pk}/leave", follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard"
    assert "You left the chat" in response.content.decode()
    assert client.get(f"/dashboard/chat/{group.pk}").status_code == 404


def test_a_direct_room_shows_no_leave_form_and_cannot_be_left(pair):
    alice, _bob, room = pair
    client = signed_in(alice)
    assert "/leave" not in client.get(f"/dashboard/chat/{room.pk}").content.decode()
    response = client.post(f"/dashboard/chat/{room.pk}/leave", follow=True)
    assert "Only a group chat can be left" in response.content.decode()
    assert room.participants.count() == 2


def test_messages_show_their_markdown_safely(pair):
    alice, bob, room = pair
    text = "**bold** *it* `x<y` https://example.com/a?b=1 <img src=x onerror=alert(1)> [x](javascript:alert(1))"
    message_send(sender=bob, room_id=room.pk, text=text)
    page = signed_in(alice).get(f"/dashboard/chat/{room.pk}").content.decode()
    history = page[page.index('id="messages"') :]
    assert "<strong>bold</strong>" in history and "<em>it</em>" in history
    assert "<code>x&lt;y</code>" in history
    assert (
        '<a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer nofollow">'
        "https://example.com/a?b=1</a>" in history
    )
    assert "<img" not in history and "&lt;img src=x onerror=alert(1)&gt;" in history
    assert 'href="javascript' not in history


def test_a_reply_shows_its_quote_and_reactions_show_their_count(pair):
    from chats.services import message_remove, reaction_toggle

    alice, bob, room = pair
    parent = message_send(sender=bob, room_id=room.pk, text="the question")[0]
    reply = message_send(sender=alice, room_id=room.pk, text="the answer", reply_to_id=parent.pk)[0]
    reaction_toggle(user=bob, message_id=reply.pk, emoji="👍")
    client = signed_in(alice)
    page = client.get(f"/dashboard/chat/{room.pk}").content.decode()
    assert f'data-reply-to="{parent.pk}"' in page and "the question</a></blockquote>" in page
    assert f'href="#msg-{parent.pk}"' in page  # the quote leads to its parent
    assert re.search(r'<li data-emoji="👍"><button [^>]*aria-pressed="false"[^>]*>👍 1</button></li>', page)
    message_remove(user=bob, message_id=parent.pk)
    page = client.get(f"/dashboard/chat/{room.pk}").content.decode()
    assert "Message deleted" in page


def test_line_breaks_render_once_in_the_pre_wrap_bubble():
    from chats.templatetags.chatty import markdown

    # The bubble keeps white space (pre-wrap): a newline after <br> or between blocks would
    # show as an extra blank line.
    assert markdown("first\nsecond") == "<p>first<br>second</p>"
    assert markdown("> quoted\n\nafter") == "<blockquote><p>quoted</p></blockquote><p>after</p>"
    assert markdown("```\na\n\nb\n```") == "<pre><code>a\n\nb\n</code></pre>"  # code keeps its lines


def test_a_text_becomes_html_once_however_many_renders_show_it(monkeypatch):
    """A message reaching the browser's sockets is rendered per side and language, and its
    page shows it again: markdown-it and the sanitizer run once for its text."""
    import uuid

    from chats.templatetags import chatty as tags

    real, parsed = tags._markdown(), []

    class Counting:
        def render(self, text: str) -> str:
            parsed.append(text)
            return real.render(text)

    monkeypatch.setattr(tags, "_markdown", Counting)
    text = f"**once** {uuid.uuid4().hex}"
    shown = {str(tags.markdown(text)) for _ in range(4)}
    assert shown == {f"<p><strong>once</strong> {text.split()[1]}</p>"}
    assert parsed == [text]


def test_the_new_forms_speak_korean(make_user, befriend):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    befriend(alice, bob)
    befriend(alice, carol)
    group, _ = room_create(creator=alice, friend_ids=[bob.pk, carol.pk])
    message_send(sender=alice, room_id=group.pk, text="안녕")
    client = signed_in(alice)
    body = client.get(f"/dashboard/chat/{group.pk}", headers={"Accept-Language": "ko"}).content.decode()
    assert "수정" in body and "삭제" in body and "채팅 나가기" in body
    response = client.post(f"/dashboard/chat/{group.pk}/leave", headers={"Accept-Language": "ko"}, follow=True)
    assert "채팅에서 나갔어요." in response.content.decode()
