"""Hostile bodies, query strings and methods to every JSON endpoint (SPEC §3).

Every answer is JSON: a success shape, or `{"error", "detail"}` with the status and code SPEC
gives (400 invalid, 401 unauthenticated, 403 not_participant/forbidden, 404 not_found,
405, 409 conflict, 413 too_large, 429 rate_limited). Never a 500, never HTML.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

BODIES_TRIED = {"n": 0, "by_test": {}}
SETTINGS = {
    "deadline": None,
    "database": None,
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: assertions name the request
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
}
ERROR_CODES = {
    400: {"invalid"},
    401: {"unauthenticated"},
    403: {"not_participant", "forbidden"},
    404: {"not_found"},
    409: {"conflict"},
    413: {"too_large"},
    429: {"rate_limited"},
}
SUCCESS_KEYS = {
    "/api/auth/token": {201: {"token", "expiresAt"}},
    "/api/auth/logout": {200: set()},
    "/api/friend/add-friend": {201: {"friendUserTag", "friendName", "friendId"}},
    "/api/friend/delete-friend": {200: {"friendId"}},
    "/api/friend/block": {200: {"userId"}},
    "/api/friend/unblock": {200: {"userId"}},
    "/api/friend/blocked": {200: {"blocked"}},
    "/api/auth/logout-everywhere": {200: {"ok"}},
    "/api/chat/create-chat": {200: {"chatroomId", "created"}, 201: {"chatroomId", "created"}},
    "/api/chat/chat-info": {200: {"id", "title", "kind", "participants", "messages", "hasMore"}},
}
POST_ENDPOINTS = [
    "/api/auth/token",
    "/api/auth/logout",
    "/api/friend/add-friend",
    "/api/friend/delete-friend",
    "/api/friend/block",
    "/api/friend/unblock",
    "/api/chat/create-chat",
]
GET_ENDPOINTS = [
    "/api/chat/chat-info",
    "/api/chat/chat-list",
    "/api/friend",
    "/api/user",
    "/api/auth/check-auth",
    "/api/friend/blocked",
]
ALL_ENDPOINTS = [*POST_ENDPOINTS, *GET_ENDPOINTS]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PROPFIND", "get", "FOO"]


def check(response: Any, path: str, method: str = "POST", test: str = "") -> dict[str, Any] | None:
    """SPEC §3: the answer is JSON, with a success shape or the error shape; never a 500."""
    BODIES_TRIED["n"] += 1
    BODIES_TRIED["by_test"][test] = BODIES_TRIED["by_test"].get(test, 0) + 1
    status = response.status_code
    content = response.content[:300]
    assert status < 500, f"{method} {path} -> {status}: {content!r}"
    assert response["Content-Type"].startswith("application/json"), f"{method} {path} -> {status} not JSON: {content!r}"
    if method.upper() == "HEAD":
        return None
    data = json.loads(response.content)
    assert isinstance(data, dict), data
    if status >= 400:
        assert set(data) == {"error", "detail"}, f"{method} {path} -> {status}: {data}"
        assert isinstance(data["detail"], str) and data["detail"]
        if status == 405:
            assert isinstance(data["error"], str)
        else:
            assert data["error"] in ERROR_CODES.get(status, set()), f"{method} {path} -> {status}: {data}"
        return data
    expected = SUCCESS_KEYS.get(path, {}).get(status)
    if expected is not None:
        assert expected <= set(data), f"{method} {path} -> {status}: {data}"
    return data


# --- strategies ---------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)  # lone surrogates ("\\ud800" escapes) have their own test below, one per field
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10,
)
FIELDS = {
    "/api/auth/token": "minutes",
    "/api/auth/logout": "next",
    "/api/friend/add-friend": "friendUserTag",
    "/api/friend/delete-friend": "friendId",
    "/api/friend/block": "userId",
    "/api/friend/unblock": "userId",
    "/api/chat/create-chat": "friendIds",
}


class Ref:
    def __init__(self, name: str) -> None:
        self.name = name


special_values = st.sampled_from(
    [
        Ref("friend_id"),
        Ref("friend_tag"),
        Ref("stranger_id"),
        Ref("stranger_tag"),
        Ref("own_id"),
        Ref("own_tag"),
        Ref("friend_ids"),
        Ref("mixed_ids"),
        "",
        " ",
        "0",
        "-1",
        "1.0",
        "١٢",
        "1_0",
        "9" * 19,
        "9" * 400,
        2**63,
        2**63 - 1,
        -(2**63),
        1e308,
        [],
        [None],
        [[1]],
        ["1", "1"],
        list(range(200)),
        {"$gt": ""},
        "' OR 1=1 --",
        "%",
        "_",
        "a\x00b",
        "x" * 10_000,
        60,
        1440,
        1441,
        0,
        True,
    ]
)


def _resolve(value: Any, refs: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        return refs[value.name]
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, refs) for k, v in value.items()}
    return value


@st.composite
def object_bodies(draw, path: str) -> Any:
    body = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=3))
    field = FIELDS[path]
    value = draw(st.one_of(json_values, special_values, st.lists(st.one_of(special_values, json_scalars), max_size=4)))
    if draw(st.integers(min_value=0, max_value=5)):  # now and then the field is missing
        body[field] = value
    return body


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b'"str"',
            b"1",
            b"{",
            b"{'a': 1}",
            b'{"friendIds": [1,]}',
            b"\xff\xfe{}",
            b'{"minutes": 1' + b"0" * 5000 + b"}",  # over Python's int digit limit
            b'{"friendUserTag": "\\ud800"}',
            b'{"friendId": NaN}',
            b'{"minutes": Infinity}',
            b"\xef\xbb\xbf{}",
        ]
    ),
    st.integers(min_value=1, max_value=150_000).map(lambda d: b"[" * d + b"]" * d),
    st.integers(min_value=1, max_value=100_000).map(lambda d: b'{"a":' * d + b"1" + b"}" * d),
)
content_types = st.sampled_from(
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "", "text/html"]
)


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def people(world, token_for):
    """Alice's credentials and the ids the strategies refer to."""
    world.alice_token = token_for(world.alice, minutes=600)
    world.refs = {
        "friend_id": str(world.bob.pk),
        "friend_tag": world.bob.user_tag,
        "stranger_id": world.eve.pk,
        "stranger_tag": world.eve.user_tag,
        "own_id": world.alice.pk,
        "own_tag": world.alice.user_tag,
        "friend_ids": [world.bob.pk, str(world.grace.pk)],
        "mixed_ids": [world.bob.pk, world.carol.pk],
    }
    return world


def _session_client(user: Any) -> tuple[Client, dict[str, str]]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    return client, {"X-CSRFToken": token}


CLIENT_KINDS = ["bearer", "session", "session-no-csrf", "anonymous", "garbage-bearer"]


def _client(world: Any, kind: str) -> tuple[str, Client, dict[str, str]]:
    """A client of one kind, and the headers its requests carry."""
    if kind == "bearer":
        return kind, Client(enforce_csrf_checks=True), {"Authorization": f"Bearer {world.alice_token}"}
    if kind == "session":
        return (kind, *_session_client(world.alice))
    if kind == "session-no-csrf":
        return kind, _session_client(world.alice)[0], {}
    if kind == "anonymous":
        return kind, Client(enforce_csrf_checks=True), {}
    return kind, Client(), {"Authorization": "Bearer not.a.jwt"}


# --- the tests ----------------------------------------------------------------------------


@settings(max_examples=70, **SETTINGS)
@given(
    cases=st.lists(
        st.sampled_from(POST_ENDPOINTS).flatmap(lambda p: st.tuples(st.just(p), object_bodies(p))),
        min_size=10,
        max_size=10,
    ),
    who=st.integers(min_value=0, max_value=4),
)
def test_hostile_json_objects_to_every_post_endpoint(people, cases, who):
    name, client, headers = _client(people, CLIENT_KINDS[who])
    for path, body in cases:
        body = _resolve(body, people.refs)
        data = json.dumps(body).encode()  # ensure_ascii: lone surrogates travel as escapes
        response = client.post(path, data=data, content_type="application/json", headers=headers)
        result = check(response, path, test="json_objects")
        if name in {"anonymous", "garbage-bearer"}:
            assert response.status_code == 401, (name, path, result)
        if name == "session-no-csrf":
            assert response.status_code in {401, 403}, (name, path, result)
            if response.status_code == 403:
                assert result["error"] == "forbidden"


@settings(max_examples=60, **SETTINGS)
@given(cases=st.lists(st.tuples(st.sampled_from(POST_ENDPOINTS), raw_bodies, content_types), min_size=10, max_size=10))
def test_raw_bodies_to_every_post_endpoint(people, cases):
    _name, client, headers = _client(people, "bearer")
    for path, body, content_type in cases:
        response = client.generic("POST", path, data=body, content_type=content_type, headers=headers)
        check(response, path, test="raw_bodies")


id_like = st.one_of(
    st.sampled_from(["ROOM", "FOREIGN", "MISSING", "", " ", "0", "-1", "1.5", "1e3", "١٢", "1_0", "9" * 19]),
    st.sampled_from(["9" * 25, "9" * 5000, "%00", "%ff%fe", "null", "[]", "{}", "0x10", "+1", " 1", "1 "]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=30).map(lambda t: quote(t, safe="")),
)


@st.composite
def chat_info_queries(draw) -> str:
    parts = []
    for key in ("chatId", "before", "limit"):
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            parts.append(f"{key}={draw(id_like)}")
    parts += [
        f"{quote(k, safe='')}={quote(v, safe='')}"
        for k, v in draw(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)).items()
    ]
    draw(st.randoms()).shuffle(parts)
    return "&".join(parts)


@settings(max_examples=70, **SETTINGS)
@given(queries=st.lists(chat_info_queries(), min_size=15, max_size=15))
def test_chat_info_with_random_queries(people, queries):
    _name, client, headers = _client(people, "bearer")
    subs = {"ROOM": str(people.ab.pk), "FOREIGN": str(people.cd.pk), "MISSING": str(people.missing_room_id)}
    for query in queries:
        for key, value in subs.items():
            query = query.replace(f"={key}", f"={value}")
        response = client.get(f"/api/chat/chat-info?{query}", headers=headers)
        data = check(response, "/api/chat/chat-info", "GET", test="chat_info")
        if response.status_code == 200:
            assert data["id"] in {str(people.ab.pk), str(people.group.pk)}, query  # only Alice's own rooms
            assert "carol-dave-private" not in response.content.decode()


@settings(max_examples=40, **SETTINGS)
@given(
    cases=st.lists(
        st.tuples(st.sampled_from(ALL_ENDPOINTS), st.sampled_from(METHODS), st.one_of(st.none(), raw_bodies)),
        min_size=10,
        max_size=10,
    ),
    who=st.integers(min_value=0, max_value=4),
)
def test_random_methods_to_every_endpoint(people, cases, who):
    _name, client, headers = _client(people, CLIENT_KINDS[who])
    for path, method, body in cases:
        allowed = {"GET", "HEAD"} if path in GET_ENDPOINTS else {"POST"}
        if path == "/api/user":
            allowed |= {"PATCH"}  # SPEC §9: PATCH /api/user {"name"}
        response = client.generic(method, path, data=body or b"", content_type="application/json", headers=headers)
        check(response, path, method, test="methods")
        if method.upper() not in allowed:
            assert response.status_code == 405, (method, path, response.status_code, response.content[:200])
            assert set(response["Allow"].replace(" ", "").split(",")) == allowed


@settings(max_examples=30, **SETTINGS)
@given(
    paths=st.lists(st.text(max_size=30).map(lambda t: "/api/" + quote(t, safe="/")), min_size=5, max_size=5),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
)
def test_unknown_api_paths_are_json_404(people, paths, method):
    _name, client, headers = _client(people, "session")
    for path in paths:
        if path in ALL_ENDPOINTS or path.startswith("/api/auth/"):
            continue  # /api/auth/google and /github are redirects to the provider (SPEC §3)
        response = client.generic(method, path, data=b"{}", content_type="application/json", headers=headers)
        check(response, path, method, test="unknown_paths")
        assert response.status_code == 404, (path, response.status_code)


@settings(max_examples=30, **SETTINGS)
@given(
    values=st.lists(
        st.one_of(
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=60),
            st.sampled_from(["Bearer", "Bearer ", "bearer x", "Basic YTpi", "Bearer a.b.c", "Token abc", "Bearer  "]),
            st.sampled_from(["Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "Bearer " + "A" * 5000]),
        ),
        min_size=10,
        max_size=10,
    )
)
def test_hostile_authorization_headers_are_401(people, values):
    client = Client()
    for value in values:
        path = "/api/user"
        response = client.get(path, headers={"Authorization": value})
        check(response, path, "GET", test="auth_headers")
        assert response.status_code == 401, (value, response.content[:200])


def test_bodies_over_one_mib_are_413(people):
    _name, client, headers = _client(people, "bearer")
    big = json.dumps({"friendUserTag": "x" * (1024 * 1024 + 10)}).encode()
    for path in POST_ENDPOINTS:
        response = client.post(path, data=big, content_type="application/json", headers=headers)
        data = check(response, path, test="too_large")
        assert response.status_code == 413 and data["error"] == "too_large", (path, data)


def test_deeply_nested_bodies_are_400_not_500(people):
    """json.loads raises RecursionError (not ValueError) on deep nesting: still a 400."""
    _name, client, headers = _client(people, "bearer")
    for path in POST_ENDPOINTS:
        for body in (b"[" * 200_000 + b"]" * 200_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
            response = client.post(path, data=body, content_type="application/json", headers=headers)
            data = check(response, path, test="deep")
            assert response.status_code in {400, 413}, (path, data)


def test_lone_surrogates_in_bodies_are_400_not_500(people):
    """ "\\ud800" is a valid JSON escape that decodes to a lone surrogate, which neither
    PostgreSQL nor SQLite can take in a query: it must be refused as invalid input."""
    _name, client, headers = _client(people, "bearer")
    cases = [
        ("/api/friend/add-friend", b'{"friendUserTag": "\\ud800"}'),
        ("/api/friend/add-friend", b'{"friendUserTag": "abc\\udfff"}'),
        ("/api/friend/add-friend", b'{"friendUserTag": "\\udbff\\udbff", "\\ud800": 1}'),
        ("/api/friend/delete-friend", b'{"friendId": "\\ud800"}'),
        ("/api/friend/block", b'{"userId": "\\ud800"}'),
        ("/api/friend/unblock", b'{"userId": "1\\udfff"}'),
        ("/api/chat/create-chat", b'{"friendIds": ["\\ud800"]}'),
        ("/api/chat/create-chat", b'{"friendIds": "\\ud800"}'),
        ("/api/auth/token", b'{"minutes": "\\ud800"}'),
        ("/api/auth/logout", b'{"\\ud800": "\\udc00"}'),
    ]
    failures = []
    for path, body in cases:
        response = client.post(path, data=body, content_type="application/json", headers=headers)
        try:
            check(response, path, test="surrogates")
            assert response.status_code in ({200, 400} if path == "/api/auth/logout" else {400, 404})
        except AssertionError as exc:
            failures.append(f"{path} {body!r}: {exc}")
    for query in ("chatId=%ED%A0%80", "chatId=1&before=%ED%A0%80", "limit=%ED%A0%80&chatId=1"):
        response = client.get(f"/api/chat/chat-info?{query}", headers=headers)
        try:
            check(response, "/api/chat/chat-info", "GET", test="surrogates")
        except AssertionError as exc:
            failures.append(f"chat-info?{query}: {exc}")
    assert not failures, failures


@settings(max_examples=20, **SETTINGS)
@given(bodies=st.lists(st.dictionaries(st.text(max_size=10), json_values, max_size=4), min_size=3, max_size=3))
def test_logout_everywhere_takes_no_orders_from_its_body(people, bodies, make_user, token_for):
    """Whatever the body says (a userId, a token, garbage), it ends the caller's own sessions."""
    victim = make_user("Victim")
    victim_token = token_for(victim)
    for body in bodies:
        caller = make_user("Caller")
        client, headers = _session_client(caller)
        body = {**body, "userId": str(victim.pk), "token": victim_token}
        response = client.post(
            "/api/auth/logout-everywhere", data=json.dumps(body), content_type="application/json", headers=headers
        )
        check(response, "/api/auth/logout-everywhere", test="logout_everywhere")
        assert response.status_code == 200
    assert Client().get("/api/user", headers={"Authorization": f"Bearer {victim_token}"}).status_code == 200


def test_zz_total_bodies():
    print(f"\nHTTP requests tried: {BODIES_TRIED['n']} {BODIES_TRIED['by_test']}")
    assert BODIES_TRIED["n"] >= 3_000, BODIES_TRIED
