"""The published API reference (chatty/openapi.json, /api/openapi.json, /api/docs) keeps up
with the code: every /api/ route is in it with the methods it answers, and real answers of
the endpoints match its schemas."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from jsonschema import Draft202012Validator

from chatty.api import api_not_found
from chatty.reference import openapi_document
from tests.ops.openapi import assert_documented

METHODS = ("get", "post", "put", "patch", "delete")

# SPEC §3, §9, §10 and §11: the reference documents these whether or not they are built yet.
SPEC_OPERATIONS = {
    ("get", "/api/auth/{provider}"),
    ("get", "/api/auth/check-auth"),
    ("post", "/api/auth/logout"),
    ("post", "/api/auth/logout-everywhere"),
    ("post", "/api/auth/token"),
    ("get", "/api/user"),
    ("patch", "/api/user"),
    ("get", "/api/friend"),
    ("post", "/api/friend/add-friend"),
    ("post", "/api/friend/delete-friend"),
    ("post", "/api/friend/block"),
    ("post", "/api/friend/unblock"),
    ("get", "/api/friend/blocked"),
    ("get", "/api/chat/chat-list"),
    ("post", "/api/chat/create-chat"),
    ("get", "/api/chat/chat-info"),
    ("post", "/api/chat/edit-message"),
    ("post", "/api/chat/delete-message"),
    ("post", "/api/chat/react"),
    ("post", "/api/chat/mark-unread"),
    ("post", "/api/chat/rename"),
    ("post", "/api/chat/add-members"),
    ("post", "/api/chat/leave"),
    ("post", "/api/chat/mute"),
    ("get", "/api/chat/search"),
    ("post", "/api/chat/upload"),
    ("get", "/api/openapi.json"),
    ("get", "/api/docs"),
}


def _template(pattern: Any) -> str:
    text = str(pattern.pattern)
    if text.startswith("^") or text.endswith("$"):  # a regex (re_path)
        text = text.removeprefix("^").removesuffix("$")
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)
    else:
        text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)
    return text


def api_routes() -> list[tuple[str, Any]]:
    """Every route under /api/ (its path template, as OpenAPI writes it, and its view)."""
    found: list[tuple[str, Any]] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + _template(p))
            elif isinstance(p, URLPattern):
                found.append(("/" + prefix + _template(p), p.callback))

    walk(get_resolver().url_patterns, "")
    return [(path, view) for path, view in found if path.startswith("/api/") and view is not api_not_found]


def _example_path(template: str) -> str:
    def value(match: re.Match[str]) -> str:
        for operation in openapi_document()["paths"][template].values():
            for param in operation.get("parameters", []):
                if param["name"] == match.group(1) and param["in"] == "path":
                    return param["schema"].get("enum", ["1"])[0]
        return "1"

    return re.sub(r"\{(\w+)\}", value, template)


def test_the_document_is_openapi_3_1_and_its_schemas_are_json_schema():
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1.")
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema), name
    operation_ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_every_operation_of_the_contract_is_documented():
    doc = openapi_document()
    documented = {(method, path) for path, item in doc["paths"].items() for method in item if method in METHODS}
    assert SPEC_OPERATIONS - documented == set()
    for method, path in documented:
        operation = doc["paths"][path][method]
        errors = {code for code in operation["responses"] if code.startswith(("4", "5"))}
        assert "405" in errors and "500" in errors, f"{method} {path}"
        if operation.get("security") != [{}]:
            assert "401" in errors, f"{method} {path} needs a user but documents no 401"
        if method in ("post", "patch"):
            assert {"400", "403", "413"} <= errors, f"{method} {path}: bad body, CSRF and size errors"


def test_every_api_route_is_in_the_document_with_the_methods_it_answers(db):
    """Walks Django's URL resolver: a new /api/ route without a path (or with a method the
    document does not list) fails here."""
    doc = openapi_document()
    routes = api_routes()
    assert len(routes) >= 10
    client = Client()
    missing = [path for path, _ in routes if path not in doc["paths"]]
    assert missing == [], f"/api/ routes with no path in chatty/openapi.json: {missing}"
    for path, _ in routes:
        url = _example_path(path)
        answered = {m for m in METHODS if getattr(client, m)(url).status_code != 405}
        documented = {m for m in doc["paths"][path] if m in METHODS}
        # An operation of the contract that is not built yet answers 405 until it is.
        assert answered <= documented, f"{url} answers {sorted(answered - documented)} that the document lacks"


@pytest.fixture
def alice_bob_room(make_user, befriend):
    from chats.services import message_send, room_create

    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[str(bob.pk)])
    message_send(sender=bob, room_id=room.pk, text="hello **Alice**")
    return alice, bob, room


def test_auth_and_user_answers_match(api, make_user, token_for):
    alice = make_user("Alice")
    anonymous = api()
    assert_documented(anonymous.get("/api/auth/check-auth"))
    assert_documented(anonymous.get("/api/user"))
    assert_documented(anonymous.get("/api/auth/google"))  # 302 to the provider

    session = api(alice)
    assert assert_documented(session.get("/api/auth/check-auth"))["user"]["id"] == str(alice.pk)
    assert_documented(session.get("/api/user"))
    assert_documented(session.client.get("/api/auth/github"))  # signed in: 302 to /dashboard
    created = assert_documented(session.post("/api/auth/token", {"minutes": 5}))
    assert_documented(session.post("/api/auth/token", {"minutes": 0}))  # 400
    assert_documented(session.post("/api/auth/token", {}, csrf=False))  # 403: no CSRF token
    assert_documented(session.post("/api/auth/token", raw="[1, 2]"))  # 400: not an object
    assert_documented(session.post("/api/auth/token", raw="x" * (1024 * 1024 + 1)))  # 413
    assert_documented(session.client.put("/api/user"))  # 405

    bearer = api(token=created["token"])
    assert_documented(bearer.get("/api/user"))
    assert_documented(api(token="not-a-token").get("/api/user"))  # 401
    assert_documented(session.post("/api/auth/logout"))
    assert_documented(session.get("/api/user"))  # 401 after the logout


def test_friend_answers_match(api, make_user, befriend):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    befriend(alice, carol)
    client = api(alice)
    assert assert_documented(client.get("/api/friend"))["friends"]
    assert_documented(client.post("/api/friend/add-friend", {"friendUserTag": bob.user_tag}))  # 201
    assert_documented(client.post("/api/friend/add-friend", {"friendUserTag": bob.user_tag}))  # 409
    assert_documented(client.post("/api/friend/add-friend", {"friendUserTag": alice.user_tag}))  # 400
    assert_documented(client.post("/api/friend/add-friend", {"friendUserTag": "nobody#00000"}))  # 404
    assert_documented(client.post("/api/friend/add-friend", {"friendUserTag": 12}))  # 400
    assert_documented(client.post("/api/friend/delete-friend", {"friendId": str(bob.pk)}))  # 200
    assert_documented(client.post("/api/friend/delete-friend", {"friendId": str(bob.pk)}))  # 404
    assert_documented(client.post("/api/friend/delete-friend", {"friendId": "x"}))  # 400


def test_chat_answers_match(api, make_user, befriend, alice_bob_room):
    alice, bob, room = alice_bob_room
    carol, dave = make_user("Carol"), make_user("Dave")
    befriend(alice, carol)
    client = api(alice)
    rooms = assert_documented(client.get("/api/chat/chat-list"))["chatRooms"]
    assert rooms[0]["lastMessage"]["message"] == "hello **Alice**"
    assert_documented(client.post("/api/chat/create-chat", {"friendIds": [str(bob.pk)]}))  # 200 existing
    assert_documented(client.post("/api/chat/create-chat", {"friendIds": [str(carol.pk)]}))  # 201 direct
    assert_documented(client.post("/api/chat/create-chat", {"friendIds": [str(bob.pk), str(carol.pk)]}))  # group
    assert_documented(client.post("/api/chat/create-chat", {"friendIds": [str(dave.pk)]}))  # 400 not a friend
    info = assert_documented(client.get("/api/chat/chat-info", chatId=str(room.pk), limit="1"))
    assert info["messages"][0]["senderId"] == str(bob.pk)
    assert_documented(client.get("/api/chat/chat-info"))  # 400
    assert_documented(client.get("/api/chat/chat-info", chatId=str(room.pk), limit="500"))  # 400
    assert_documented(client.get("/api/chat/chat-info", chatId="999999999"))  # 404
    assert_documented(api(dave).get("/api/chat/chat-info", chatId=str(room.pk)))  # 403


def test_the_reference_is_served(client, db):
    served = client.get("/api/openapi.json")
    assert served.status_code == 200
    assert served.json() == openapi_document()
    assert_documented(served)
    page = client.get("/api/docs")
    assert page.status_code == 200 and b"swagger-ui-bundle.js" in page.content
    assert_documented(page)
    assert_documented(client.post("/api/openapi.json"))  # 405, as JSON
