"""Who may touch what: every endpoint and frame that touches a room or a friend, asked by
people who have no business there (SPEC §3, §4).

Outsiders who are signed in: Eve (a stranger), Frank (Alice's ex-friend), Carol (in another
room). Callers who are not signed in: Mallory's session and token (she was deactivated), an
expired token, tokens that are garbage, forged or unsigned, and no credentials at all.
Nothing of Alice and Bob's rooms may reach any of them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import jwt
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from .wsutil import (
    CLOSE_UNAUTHENTICATED,
    closed_code,
    communicator,
    drain,
    next_frame,
    open_ready,
    safe_disconnect,
    session_cookie,
    wait_for,
)

OUTSIDERS = ["eve", "frank", "carol"]
UNAUTHENTICATED = [
    "mallory-session",
    "mallory-token",
    "expired-token",
    "garbage-token",
    "forged-token",
    "unsigned-token",
    "wrong-audience-token",
    "unknown-user-token",
    "basic-auth",
    "empty-bearer",
    "none",
]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_credentials(world: Any, kind: str, token_for: Any) -> dict[str, str]:
    """{"token"| "cookie" | "authorization": value} for one kind of caller without a user."""
    future = dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=1)
    claims = {"sub": str(world.alice.pk), "exp": future, "aud": "chatty-api"}
    if kind == "mallory-session":
        return {"cookie": world.mallory_cookie}
    if kind == "mallory-token":
        return {"token": world.mallory_token}
    if kind == "expired-token":
        return {"token": token_for(world.alice, minutes=-5)}
    if kind == "garbage-token":
        return {"token": "garbage.garbage.garbage"}
    if kind == "forged-token":
        return {"token": jwt.encode(claims, "not-the-server-secret-key-0123456789abcdef", algorithm="HS256")}
    if kind == "unsigned-token":
        payload = {"sub": str(world.alice.pk), "exp": int(future.timestamp()), "aud": "chatty-api"}
        return {"token": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}."}
    if kind == "wrong-audience-token":
        return {"token": jwt.encode({**claims, "aud": "someone-else"}, settings.SECRET_KEY, algorithm="HS256")}
    if kind == "unknown-user-token":
        return {"token": jwt.encode({**claims, "sub": "999999999"}, settings.SECRET_KEY, algorithm="HS256")}
    if kind == "basic-auth":
        return {"authorization": "Basic " + base64.b64encode(b"alice:pw-for-tests-123").decode()}
    if kind == "empty-bearer":
        return {"authorization": "Bearer "}
    return {}


class Http:
    """A JSON client as one caller: a session (with its CSRF token) or a header."""

    def __init__(self, *, user: Any = None, token: str | None = None, cookie: str | None = None, **kw: str) -> None:
        self.client = Client(enforce_csrf_checks=True)
        self.headers: dict[str, str] = {}
        if user is not None:
            self.client.force_login(user)
        if cookie is not None:
            self.client.cookies[settings.SESSION_COOKIE_NAME] = cookie
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"
        if kw.get("authorization"):
            self.headers["Authorization"] = kw["authorization"]
        csrf = _get_new_csrf_string()
        self.client.cookies["csrftoken"] = csrf
        if "Authorization" not in self.headers:
            self.headers["X-CSRFToken"] = csrf

    def get(self, path: str, **params: Any):
        return self.client.get(path, params, headers=self.headers)

    def post(self, path: str, body: Any):
        return self.client.post(path, json.dumps(body), content_type="application/json", headers=self.headers)

    def form(self, path: str, data: dict[str, Any]):
        return self.client.post(path, data, headers=self.headers)


def assert_error(response: Any, status: int, codes: set[str]) -> dict[str, Any]:
    assert response.status_code == status, (status, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert set(data) == {"error", "detail"} and data["error"] in codes, data
    return data


def assert_no_secrets(world: Any, content: bytes | str) -> None:
    text = content.decode() if isinstance(content, bytes) else content
    for secret in world.secrets:
        assert secret not in text, f"{secret} leaked"


def _outsider(world: Any, name: str) -> Any:
    return getattr(world, name)


def _counts() -> tuple[int, int, int, int]:
    from chats.models import ChatRoom, Message
    from friends.models import Block, Friendship

    return ChatRoom.objects.count(), Message.objects.count(), Friendship.objects.count(), Block.objects.count()


# --- HTTP: callers without a user ---------------------------------------------------------

JSON_ENDPOINTS = [
    ("GET", "/api/auth/check-auth", None),
    ("GET", "/api/user", None),
    ("GET", "/api/friend", None),
    ("GET", "/api/chat/chat-list", None),
    ("GET", "/api/chat/chat-info", "ab"),
    ("POST", "/api/auth/token", {"minutes": 60}),
    ("POST", "/api/auth/logout", {}),
    ("POST", "/api/friend/add-friend", "bob-tag"),
    ("POST", "/api/friend/delete-friend", "bob-id"),
    ("POST", "/api/chat/create-chat", "bob-ids"),
    ("POST", "/api/auth/logout-everywhere", {}),
    ("POST", "/api/friend/block", "bob-user"),
    ("POST", "/api/friend/unblock", "bob-user"),
    ("GET", "/api/friend/blocked", None),
]


def _body(world: Any, body: Any) -> Any:
    if not isinstance(body, str):
        return body
    return {
        "bob-tag": {"friendUserTag": world.bob.user_tag},
        "bob-id": {"friendId": str(world.bob.pk)},
        "bob-ids": {"friendIds": [str(world.bob.pk)]},
        "bob-user": {"userId": str(world.bob.pk)},
    }.get(body, body)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", UNAUTHENTICATED)
def test_every_endpoint_refuses_callers_without_a_user(world, token_for, kind):
    http = Http(**bad_credentials(world, kind, token_for))
    before = _counts()
    for method, path, body in JSON_ENDPOINTS:
        if method == "GET":
            response = http.get(path, **({"chatId": world.ab.pk} if body == "ab" else {}))
        else:
            response = http.post(path, _body(world, body))
        assert_error(response, 401, {"unauthenticated"})
        assert_no_secrets(world, response.content)
    assert _counts() == before
    for page in ("/dashboard", f"/dashboard/chat/{world.ab.pk}", f"/dashboard/chat/{world.ab.pk}/history?before=999"):
        response = http.client.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/login"), (page, response.status_code)
    response = http.form(f"/dashboard/chat/{world.ab.pk}/send", {"message": "intrusion"})
    assert response.status_code in {302, 403}
    assert _counts() == before


@pytest.mark.django_db
def test_a_deactivated_session_cannot_mint_a_token(world):
    http = Http(cookie=world.mallory_cookie)
    assert_error(http.post("/api/auth/token", {"minutes": 1440}), 401, {"unauthenticated"})


@pytest.mark.django_db
def test_an_expired_token_cannot_mint_a_fresh_one(world, token_for):
    http = Http(token=token_for(world.alice, minutes=-1))
    assert_error(http.post("/api/auth/token", {"minutes": 1440}), 401, {"unauthenticated"})


# --- HTTP: signed-in outsiders ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("via", ["session", "token"])
def test_blocks_are_the_blockers_own_and_no_one_elses(world, token_for, via):
    """Alice blocks Bob. Eve cannot lift it, Bob cannot lift it, a `blockerId` in the body
    is ignored, and nobody but Alice sees whom she blocked."""
    from friends.models import Block

    def http_for(user: Any) -> Http:
        return Http(user=user) if via == "session" else Http(token=token_for(user))

    assert http_for(world.alice).post("/api/friend/block", {"userId": str(world.bob.pk)}).status_code == 200
    for who in (world.eve, world.bob):
        http = http_for(who)
        for target in (world.bob, world.alice):
            body = {"userId": str(target.pk), "blockerId": str(world.alice.pk)}
            assert_error(http.post("/api/friend/unblock", body), 404, {"not_found"})
        assert http.get("/api/friend/blocked").json() == {"blocked": []}
    assert Block.objects.filter(blocker=world.alice, blocked=world.bob).exists()
    # Bob, blocked, cannot reach Alice: not as a friend, not in their direct room.
    bob = http_for(world.bob)
    assert_error(bob.post("/api/friend/add-friend", {"friendUserTag": world.alice.user_tag}), 404, {"not_found"})
    before = _counts()
    response = bob.form(f"/dashboard/chat/{world.ab.pk}/send", {"message": "let me in"})
    assert response.status_code in ({302} if via == "session" else {302, 403})
    assert _counts() == before


@pytest.mark.django_db
def test_logout_everywhere_ends_only_the_callers_sessions(world, token_for):
    bob_token = token_for(world.bob)
    bob_session = Http(user=world.bob)
    response = Http(user=world.alice).post("/api/auth/logout-everywhere", {"userId": str(world.bob.pk)})
    assert response.status_code == 200
    assert Http(token=bob_token).get("/api/user").status_code == 200
    assert bob_session.get("/api/user").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("via", ["session", "token"])
@pytest.mark.parametrize("name", OUTSIDERS)
def test_outsiders_get_nothing_of_rooms_they_are_not_in(world, token_for, name, via):
    who = _outsider(world, name)
    http = Http(user=who) if via == "session" else Http(token=token_for(who))
    before = _counts()
    for room in (world.ab, world.group):
        for params in ({}, {"before": "999999999"}, {"limit": "100"}, {"before": str(world.first_message_id + 1)}):
            response = http.get("/api/chat/chat-info", chatId=str(room.pk), **params)
            assert_error(response, 403, {"not_participant"})
            assert_no_secrets(world, response.content)
    assert_error(http.get("/api/chat/chat-info", chatId=world.missing_room_id), 404, {"not_found"})
    chat_list = http.get("/api/chat/chat-list")
    assert chat_list.status_code == 200
    assert {c["id"] for c in chat_list.json()["chatRooms"]}.isdisjoint({str(world.ab.pk), str(world.group.pk)})
    assert_no_secrets(world, chat_list.content)
    # Alice is not their friend (any more): no room with her, no deleting her, not listed.
    assert_error(http.post("/api/chat/create-chat", {"friendIds": [str(world.alice.pk)]}), 400, {"invalid"})
    assert_error(
        http.post("/api/chat/create-chat", {"friendIds": [str(world.alice.pk), str(world.bob.pk)]}), 400, {"invalid"}
    )
    assert_error(http.post("/api/friend/delete-friend", {"friendId": str(world.alice.pk)}), 404, {"not_found"})
    friends = http.get("/api/friend").json()["friends"]
    assert str(world.alice.pk) not in {f["userId"] for f in friends}
    assert _counts() == before
    # The pages (a session only; a bearer token is not a page sign-in): a room not theirs
    # does not exist for them; sending to it stores nothing.
    for page in (f"/dashboard/chat/{world.ab.pk}", f"/dashboard/chat/{world.group.pk}/history?before=999999999"):
        response = http.client.get(page)
        assert response.status_code == (404 if via == "session" else 302), (page, response.status_code)
        assert_no_secrets(world, response.content)
    response = http.form(f"/dashboard/chat/{world.ab.pk}/send", {"message": "intrusion"})
    assert response.status_code in ({404} if via == "session" else {302, 403})
    http.form("/dashboard/chats/new", {"friendIds": [str(world.alice.pk)]})
    dashboard = http.client.get("/dashboard")
    assert dashboard.status_code == (200 if via == "session" else 302)
    assert_no_secrets(world, dashboard.content)
    assert _counts() == before


@pytest.mark.django_db
def test_page_forms_with_a_valid_csrf_token_still_check_membership(world):
    """The no-JavaScript forms (SPEC §3 pages) with a proper CSRF token: still nothing."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.eve)
    assert client.get("/dashboard").status_code == 200
    token = client.cookies["csrftoken"].value
    before = _counts()
    response = client.post(
        f"/dashboard/chat/{world.ab.pk}/send", {"message": "intrusion", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 404
    client.post("/dashboard/chats/new", {"friendIds": [str(world.alice.pk)], "csrfmiddlewaretoken": token})
    assert _counts() == before


# --- websockets: callers without a user ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/", "/ws/ui/"])
async def test_sockets_without_a_user_are_closed_with_4401(world, token_for, path):
    for kind in UNAUTHENTICATED:
        creds = await sync_to_async(bad_credentials)(world, kind, token_for)
        comm = communicator(path, **creds)
        try:
            code = await closed_code(comm)
            assert code == CLOSE_UNAUTHENTICATED, (kind, code)
        finally:
            await safe_disconnect(comm)


# --- websockets: signed-in outsiders ------------------------------------------------------


async def _joined(world: Any, user: Any, token_for: Any, *rooms: Any):
    comm = communicator(token=await sync_to_async(token_for)(user))
    await open_ready(comm)
    for room in rooms:
        await comm.send_json_to({"type": "connectToRoom", "chatroomId": str(room.pk)})
        await wait_for(comm, "joinedChatroom", chatroomId=str(room.pk))
    return comm


async def _answer(comm, frame: dict[str, Any]) -> dict[str, Any]:
    """The one answer a refused frame gets (skipping unrelated presence frames)."""
    await comm.send_json_to(frame)
    while True:
        got = await next_frame(comm)
        if got["type"] in {"getOnlineFriend", "retrieveCurrentUser", "retrieveOnlineFriends"}:
            continue
        return got


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", OUTSIDERS)
async def test_outsider_frames_touching_a_foreign_room_are_refused(world, token_for, name):
    who = _outsider(world, name)
    alice = await _joined(world, world.alice, token_for, world.ab, world.group)
    bob = await _joined(world, world.bob, token_for, world.ab)
    outsider = communicator(token=await sync_to_async(token_for)(who))
    await open_ready(outsider)
    await drain(alice)  # presence frames of people coming online
    await drain(bob)
    before = await sync_to_async(_counts)()
    try:
        ab, group = str(world.ab.pk), str(world.group.pk)
        frames = [
            {"type": "connectToRoom", "chatroomId": ab, "afterId": 0},
            {"type": "connectToRoom", "chatroomId": int(group), "afterId": str(world.first_message_id - 1)},
            {"type": "connectToRoom", "chatroomId": ab},
            {"type": "sendMessage", "chatroomId": ab, "message": "intrusion", "clientId": f"x-{name}"},
            {"type": "sendMessage", "chatroomId": group, "message": "intrusion"},
            {"type": "typing", "chatroomId": ab},
            {"type": "markRead", "chatroomId": ab, "messageId": str(world.first_message_id)},
            {"type": "leaveChatroom", "chatroomId": ab},
        ]
        for frame in frames:
            got = await _answer(outsider, frame)
            assert got["type"] == "error" and got["error"] == "not_participant", (frame, got)
            assert got["ref"] == frame["type"]
            assert_no_secrets(world, json.dumps(got))
        for frame in [
            {"type": "connectToRoom", "chatroomId": str(world.missing_room_id), "afterId": 0},
            {"type": "sendMessage", "chatroomId": world.missing_room_id, "message": "x"},
            {"type": "typing", "chatroomId": world.missing_room_id},
        ]:
            got = await _answer(outsider, frame)
            assert got["type"] == "error" and got["error"] == "not_found", (frame, got)
        assert await sync_to_async(_counts)() == before
        # Alice and Bob heard nothing of it (no typing, no message).
        assert await alice.receive_nothing(0.3)
        assert await bob.receive_nothing(0.3)
        # They talk: nothing of it reaches the outsider (message, lastMessage or typing).
        await bob.send_json_to({"type": "typing", "chatroomId": ab})
        await alice.send_json_to({"type": "sendMessage", "chatroomId": ab, "message": "private", "clientId": "p1"})
        await wait_for(alice, "ack", clientId="p1")
        await alice.send_json_to({"type": "sendMessage", "chatroomId": group, "message": "private", "clientId": "p2"})
        await wait_for(alice, "ack", clientId="p2")
        got = await wait_for(bob, "message", chatroomId=ab)
        assert got["message"]["message"] == "private"
        assert await outsider.receive_nothing(0.5), "the outsider got a frame of a room not theirs"
    finally:
        for comm in (alice, bob, outsider):
            await safe_disconnect(comm)


@pytest.mark.django_db(transaction=True)
async def test_a_reused_client_id_does_not_reach_a_foreign_room(world, token_for):
    """Carol's clientId from her own room, sent again to Alice and Bob's room: nothing is
    stored there and nobody there hears of it (the answer is her own earlier ack at most)."""
    carol = await _joined(world, world.carol, token_for, world.cd)
    bob = await _joined(world, world.bob, token_for, world.ab)
    try:
        await carol.send_json_to(
            {"type": "sendMessage", "chatroomId": str(world.cd.pk), "message": "hi", "clientId": "dup"}
        )
        first = await wait_for(carol, "ack", clientId="dup")
        await drain(carol)  # the message and lastMessage of her own send
        await drain(bob)
        before = await sync_to_async(_counts)()
        got = await _answer(
            carol, {"type": "sendMessage", "chatroomId": str(world.ab.pk), "message": "x", "clientId": "dup"}
        )
        if got["type"] == "ack":
            assert got["messageId"] == first["messageId"]
        else:
            assert got["type"] == "error" and got["error"] == "not_participant", got
        assert await sync_to_async(_counts)() == before
        assert await bob.receive_nothing(0.3)
    finally:
        await safe_disconnect(carol)
        await safe_disconnect(bob)


@pytest.mark.django_db(transaction=True)
async def test_an_ex_friend_hears_nothing_of_presence(world, token_for):
    """Frank was Alice's friend: after the friendship ended, her coming online, changing
    status or going away is none of his business, in either direction."""
    frank = communicator(token=await sync_to_async(token_for)(world.frank))
    await open_ready(frank)
    alice = communicator(token=await sync_to_async(token_for)(world.alice))
    try:
        connected, _ = await alice.connect()
        assert connected
        await wait_for(alice, "retrieveCurrentUser")
        online = await wait_for(alice, "retrieveOnlineFriends")
        assert str(world.frank.pk) not in online["friends"]
        await alice.send_json_to({"type": "changeStatus", "status": "away"})
        await wait_for(alice, "retrieveCurrentUser", status="away")
        await alice.send_json_to({"type": "userOnline"})
        await wait_for(alice, "retrieveOnlineFriends")
        assert await frank.receive_nothing(0.5), "an ex-friend got Alice's presence"
        await frank.send_json_to({"type": "userOnline"})
        again = await wait_for(frank, "retrieveOnlineFriends")
        assert str(world.alice.pk) not in again["friends"]
    finally:
        await safe_disconnect(alice)
        await safe_disconnect(frank)


@pytest.mark.django_db(transaction=True)
async def test_deactivation_closes_open_sockets_and_bars_new_ones(world, token_for):
    """SPEC §5: deactivating a user closes their sockets; their token and session stop working."""
    from accounts.services import user_deactivate

    token = await sync_to_async(token_for)(world.grace)
    cookie = await sync_to_async(session_cookie)(world.grace)
    by_token = communicator(token=token)
    by_session = communicator(cookie=cookie)
    await open_ready(by_token)
    await open_ready(by_session)
    try:
        await sync_to_async(user_deactivate)(user=world.grace)
        for comm in (by_token, by_session):
            while True:
                out = await comm.receive_output(timeout=3)
                if out["type"] == "websocket.close":
                    assert out.get("code") == CLOSE_UNAUTHENTICATED
                    break
        for creds in ({"token": token}, {"cookie": cookie}):
            again = communicator(**creds)
            assert await closed_code(again) == CLOSE_UNAUTHENTICATED
            await safe_disconnect(again)
    finally:
        await safe_disconnect(by_token)
        await safe_disconnect(by_session)


@pytest.mark.django_db(transaction=True)
async def test_http_logout_closes_the_sessions_sockets(world):
    """SPEC §3: POST /api/auth/logout ends the session and closes that session's websockets;
    the old cookie then opens nothing (TRAPS: a socket keeps its session unless told)."""
    client = Client(enforce_csrf_checks=True)
    await sync_to_async(client.force_login)(world.alice)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    comm = communicator(cookie=cookie)
    await open_ready(comm)
    try:
        csrf = _get_new_csrf_string()
        client.cookies["csrftoken"] = csrf
        response = await sync_to_async(client.post)(
            "/api/auth/logout", "{}", content_type="application/json", headers={"X-CSRFToken": csrf}
        )
        assert response.status_code == 200
        while True:
            out = await comm.receive_output(timeout=3)
            if out["type"] == "websocket.close":
                assert out.get("code") == CLOSE_UNAUTHENTICATED
                break
        again = communicator(cookie=cookie)
        assert await closed_code(again) == CLOSE_UNAUTHENTICATED
        await safe_disconnect(again)
    finally:
        await safe_disconnect(comm)


# --- a user id inside a frame is never trusted --------------------------------------------

SPOOF = ("senderId", "userId", "user_id", "sender", "from", "senderName", "user", "id")


@pytest.mark.django_db(transaction=True)
async def test_user_ids_inside_frames_are_ignored(world, token_for):
    from accounts.models import User
    from chats.models import Message, Participant

    alice = await _joined(world, world.alice, token_for, world.ab)
    bob = None
    bob_id = str(world.bob.pk)
    spoof = {key: bob_id for key in SPOOF} | {"sender": {"id": bob_id, "name": "Bob"}, "senderName": "Bob"}
    bob_read = sync_to_async(lambda: Participant.objects.get(room=world.ab, user=world.bob).last_read_id)
    try:
        # While Bob is away: a markRead that names Bob moves only Alice's read position.
        await alice.send_json_to(
            {"type": "sendMessage", "chatroomId": str(world.ab.pk), "message": "m", "clientId": "s0"}
        )
        unread = await wait_for(alice, "ack", clientId="s0")
        bob_read_before = await bob_read()
        assert bob_read_before < int(unread["messageId"])
        await alice.send_json_to(
            {**spoof, "type": "markRead", "chatroomId": str(world.ab.pk), "messageId": unread["messageId"]}
        )
        await alice.send_json_to({"type": "userOnline"})  # a round trip: the markRead was handled
        await wait_for(alice, "retrieveOnlineFriends")
        assert await bob_read() == bob_read_before
        bob = await _joined(world, world.bob, token_for, world.ab)
        await alice.send_json_to(
            {**spoof, "type": "sendMessage", "chatroomId": str(world.ab.pk), "message": "who am i", "clientId": "s1"}
        )
        ack = await wait_for(alice, "ack", clientId="s1")
        stored = await sync_to_async(lambda: Message.objects.select_related("sender").get(pk=int(ack["messageId"])))()
        assert stored.sender_id == world.alice.pk
        got = await wait_for(bob, "message", chatroomId=str(world.ab.pk))
        assert got["message"]["senderId"] == str(world.alice.pk)
        assert got["message"]["senderName"] == world.alice.display_name
        await alice.send_json_to({**spoof, "type": "typing", "chatroomId": str(world.ab.pk)})
        typing = await wait_for(bob, "typing")
        assert typing["userId"] == str(world.alice.pk)
        await alice.send_json_to({**spoof, "type": "changeStatus", "status": "away"})
        await wait_for(alice, "retrieveCurrentUser", status="away")
        statuses = await sync_to_async(
            lambda: dict(User.objects.filter(pk__in=[world.alice.pk, world.bob.pk]).values_list("pk", "chosen_status"))
        )()
        assert statuses == {world.alice.pk: "away", world.bob.pk: "online"}
        # Bob never saw a "typing" or "message" claiming to be from himself.
        rest = []
        while not await bob.receive_nothing(0.3):
            rest.append(await next_frame(bob))
        assert all(f.get("userId") != bob_id for f in rest if f["type"] == "typing"), rest
        assert all(f["message"]["senderId"] != bob_id for f in rest if f["type"] in {"message", "lastMessage"}), rest
    finally:
        await safe_disconnect(alice)
        if bob is not None:
            await safe_disconnect(bob)
