"""Stored XSS: markup people type (message text, names) and pictures they bring (a provider
reports any string as a picture) render inert in every page and every fragment /ws/ui/
pushes (SPEC §2: "stored as typed, escaped when shown").

Each page or fragment is parsed: no payload appears raw, no tag carries an event handler
(`on...`), no inline <script>, no `javascript:` link. Pictures are checked on their own:
an <img src> must be http(s) (or this site's own path).
"""

from __future__ import annotations

import html
from html.parser import HTMLParser
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from .wsutil import communicator, next_frame, open_ready, safe_disconnect, wait_for

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
SQUOTE = "'><img src=x onerror=alert(2)>"
LINK = '<a href="javascript:alert(1)">click</a>'
MARKUP = [SCRIPT, IMG, SVG, SQUOTE, LINK]
TEXTS = [*MARKUP, "javascript:alert(1)", "{{ 7|add:7 }} {% now 'Y' %}", "line1\n<b>line2</b>"]
PICTURES = {
    "alice": "javascript:alert(1)",
    "bob": "javascript:alert(document.cookie)",
    "grace": 'https://img.test/a.png" onerror="alert(1)',
    "eve": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "dave": " JaVaScRiPt:alert(1)",
}


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.pictures: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>: an event handler")
            if name in {"href", "action", "formaction", "xlink:href"} and (value or "").strip().lower().startswith(
                ("javascript:", "data:", "vbscript:")
            ):
                self.problems.append(f"<{tag} {name}={value!r}>: a script URL")
        if tag == "script" and not (values.get("src") or "").startswith("/static/"):
            self.problems.append(f"<script {values}>: an inline or foreign script")
        if tag in {"svg", "iframe", "object", "embed", "base"}:
            self.problems.append(f"<{tag}>: a tag no template writes")
        if tag == "img":
            self.pictures.append(values.get("src") or "")

    handle_startendtag = handle_starttag


def scan(markup: str) -> tuple[list[str], list[str]]:
    """(problems with markup, pictures that are not http(s) or this site's own)."""
    parser = _Scan()
    parser.feed(markup)
    parser.close()
    problems = list(parser.problems)
    for payload in MARKUP:
        if payload in markup:
            problems.append(f"raw payload {payload!r}")
    bad_pictures = [
        src for src in parser.pictures if not src.strip().lower().startswith(("https://", "http://", "/static/"))
    ]
    return problems, bad_pictures


@pytest.fixture
def hostile(make_user, befriend):
    """People whose names are markup and pictures are not http(s), with markup messages."""
    from chats.services import message_send, room_create

    people = {
        "alice": make_user(SCRIPT, picture=PICTURES["alice"]),
        "bob": make_user(IMG, picture=PICTURES["bob"]),
        "grace": make_user(SVG, picture=PICTURES["grace"]),
        "eve": make_user(SQUOTE, picture=PICTURES["eve"]),
        "dave": make_user(LINK, picture=PICTURES["dave"]),
    }
    for a, b in [("alice", "bob"), ("alice", "grace"), ("bob", "grace"), ("alice", "dave")]:
        befriend(people[a], people[b])
    ab, _ = room_create(creator=people["alice"], friend_ids=[people["bob"].pk])
    group, _ = room_create(creator=people["alice"], friend_ids=[people["bob"].pk, people["grace"].pk])
    for room in (ab, group):
        for i, text in enumerate(TEXTS):
            sender = people["bob"] if i % 2 else people["grace"] if room == group else people["alice"]
            message_send(sender=sender, room_id=room.pk, text=text)
    return {**people, "ab": ab, "group": group}


def _page(user: Any, path: str, **headers: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


PAGES = {
    "dashboard": lambda h: (h["alice"], "/dashboard", {}),
    "dashboard-of-bob": lambda h: (h["bob"], "/dashboard", {}),
    "room": lambda h: (h["alice"], f"/dashboard/chat/{h['ab'].pk}", {}),
    "group-room": lambda h: (h["bob"], f"/dashboard/chat/{h['group'].pk}", {}),
    "history-page": lambda h: (h["alice"], f"/dashboard/chat/{h['group'].pk}/history?before=999999999", {}),
    "history-fragment": lambda h: (
        h["alice"],
        f"/dashboard/chat/{h['group'].pk}/history?before=999999999",
        {"HX-Request": "true"},
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_render_stored_markup_inert(hostile, page):
    user, path, headers = PAGES[page](hostile)
    markup = _page(user, path, **headers)
    problems, _ = scan(markup)
    assert not problems, problems
    # The payloads are there, escaped: shown as text, not dropped.
    assert html.escape(IMG, quote=False) in markup or html.escape(IMG) in markup


@pytest.mark.django_db
def test_room_header_chat_rows_and_friend_rail_show_escaped_names(hostile):
    markup = _page(hostile["alice"], f"/dashboard/chat/{hostile['group'].pk}")
    for name in (IMG, SVG):
        escaped = html.escape(name)
        assert escaped in markup or html.escape(name, quote=False) in markup, name
    assert "{{ 7|add:7 }}" in markup  # text, never rendered as a template


@pytest.mark.django_db
def test_add_friend_result_renders_the_name_inert(hostile):
    """The htmx answer to the add-friend form names the new friend (and may add them to the rail)."""
    client = Client()
    client.force_login(hostile["bob"])
    response = client.post(
        "/dashboard/friends/add", {"friendUserTag": hostile["eve"].user_tag}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    problems, _ = scan(response.content.decode())  # pictures: test_pages_render_only_http_pictures
    assert not problems, problems


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_render_only_http_pictures(hostile, page):
    """A picture is an http(s) URL (SPEC §2 "picture (URL)"); anything else (javascript:,
    data:) must not become an <img src>: the initial letter is shown instead."""
    user, path, headers = PAGES[page](hostile)
    _, bad_pictures = scan(_page(user, path, **headers))
    assert not bad_pictures, f"non-http(s) pictures rendered as <img src>: {bad_pictures}"


# --- /ws/ui/ pushes -----------------------------------------------------------------------


# What each event's fragment carries: the browser's socket sends HTML for events (and JSON
# only for what the page's script reads: replies to its own frames).
_MARKERS = {
    "message": 'id="msg-',
    "lastMessage": '-preview"',
    "typing": 'id="typing"',
    "addedAsFriend": "friend-list",
    "addedInChatroom": "chat-list",
}


async def _fragments(comm, until: set[str], timeout: float = 3.0) -> tuple[list[str], set[str]]:
    """HTML fragments pushed until one of every kind in `until` was seen."""
    fragments: list[str] = []
    seen: set[str] = set()
    while not until <= seen:
        frame = await next_frame(comm, timeout, html=True)
        if "html" in frame:
            fragments.append(frame["html"])
            seen |= {kind for kind in until if _MARKERS[kind] in frame["html"]}
    while not await comm.receive_nothing(0.3):  # a fragment that follows the last one
        frame = await next_frame(comm, timeout, html=True)
        if "html" in frame:
            fragments.append(frame["html"])
    return fragments, seen


async def _ui_pushes(hostile: dict[str, Any], token_for: Any) -> list[str]:
    """Bob's browser socket while Alice (markup name, javascript: picture) writes and types,
    Eve adds him as a friend and Alice puts him in a new group."""
    from chats.services import room_create
    from friends.services import friendship_create

    bob_ui = communicator("/ws/ui/", token=await sync_to_async(token_for)(hostile["bob"]))
    alice = communicator(token=await sync_to_async(token_for)(hostile["alice"]))
    fragments: list[str] = []
    try:
        await open_ready(bob_ui)
        await bob_ui.send_json_to({"type": "connectToRoom", "chatroomId": str(hostile["ab"].pk)})
        await wait_for(bob_ui, "joinedChatroom")
        await open_ready(alice)
        await alice.send_json_to({"type": "connectToRoom", "chatroomId": str(hostile["ab"].pk)})
        await wait_for(alice, "joinedChatroom")
        for text in MARKUP:
            await alice.send_json_to({"type": "sendMessage", "chatroomId": str(hostile["ab"].pk), "message": text})
            got, _ = await _fragments(bob_ui, {"message", "lastMessage"})
            fragments += got
        await alice.send_json_to({"type": "typing", "chatroomId": str(hostile["ab"].pk)})
        got, _ = await _fragments(bob_ui, {"typing"})
        fragments += got
        await sync_to_async(friendship_create)(user=hostile["eve"], friend_tag=hostile["bob"].user_tag)
        got, _ = await _fragments(bob_ui, {"addedAsFriend"})
        fragments += got
        await sync_to_async(room_create)(creator=hostile["alice"], friend_ids=[hostile["bob"].pk, hostile["dave"].pk])
        got, _ = await _fragments(bob_ui, {"addedInChatroom"})
        fragments += got
    finally:
        await safe_disconnect(alice)
        await safe_disconnect(bob_ui)
    return fragments


@pytest.mark.django_db(transaction=True)
async def test_ui_socket_fragments_render_markup_inert(hostile, token_for):
    fragments = await _ui_pushes(hostile, token_for)
    joined = "\n".join(fragments)
    for marker in ('hx-swap-oob="beforeend:#messages"', 'id="typing"', "friend-list", "chat-list"):
        assert marker in joined, f"no {marker} fragment was pushed"
    for fragment in fragments:
        problems, _ = scan(fragment)
        assert not problems, (problems, fragment[:500])


@pytest.mark.django_db(transaction=True)
async def test_ui_socket_fragments_render_only_http_pictures(hostile, token_for):
    fragments = await _ui_pushes(hostile, token_for)
    bad = sorted({src for fragment in fragments for src in scan(fragment)[1]})
    assert not bad, f"non-http(s) pictures pushed as <img src>: {bad}"
