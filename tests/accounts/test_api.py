"""The JSON API of /api/auth and /api/user, and the error shape every /api/ answer keeps (SPEC §3).

This module is also a URLconf: Chatty's URLs plus views that fail on purpose under /api/,
so a test can see what a crash looks like to a client without touching Chatty's code.
"""

from __future__ import annotations

import datetime as dt
import json

import jwt
import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from django.utils import timezone

from accounts.services import user_deactivate
from chatty.api import api_view
from chatty.realtime import capture_events, session_group

pytestmark = pytest.mark.django_db


def _plain_crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals: do not show me")


@api_view("GET")
def _api_crash(request: HttpRequest, user, body: dict):
    raise RuntimeError("secret internals: do not show me")


urlpatterns = [
    path("api/test-crash/plain", _plain_crash),
    path("api/test-crash/api", _api_crash),
    path("", include("chatty.urls")),
]


def assert_error(response, status: int, code: str) -> dict:
    """An error answer as SPEC §3 shapes it: JSON, never HTML, with a code and a detail."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert set(data) == {"error", "detail"}
    assert data["error"] == code
    assert isinstance(data["detail"], str) and data["detail"]
    return data


# --- /api/auth/check-auth -------------------------------------------------------------


def test_check_auth_signed_in_gives_the_user(make_user, api):
    alice = make_user("Alice", picture="https://example.com/a.png")
    response = api(alice).get("/api/auth/check-auth")
    assert response.status_code == 200
    assert response.json() == {
        "authenticated": True,
        "user": {
            "id": str(alice.pk),
            "name": "Alice",
            "picture": "https://example.com/a.png",
            "status": "offline",
            "userTag": alice.user_tag,
        },
    }


def test_check_auth_signed_out_is_401_json(api):
    assert_error(api().get("/api/auth/check-auth"), 401, "unauthenticated")


def test_check_auth_of_a_deactivated_session_user_is_401(make_user, api):
    alice = make_user("Alice")
    client = api(alice)
    user_deactivate(user=alice)
    assert_error(client.get("/api/auth/check-auth"), 401, "unauthenticated")


# --- /api/auth/logout ----------------------------------------------------------------


def test_logout_ends_the_session(make_user, api):
    alice = make_user("Alice")
    client = api(alice)
    assert client.get("/api/auth/check-auth").status_code == 200
    response = client.post("/api/auth/logout")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert_error(client.get("/api/auth/check-auth"), 401, "unauthenticated")
    assert_error(client.get("/api/user"), 401, "unauthenticated")


def test_logout_closes_the_sessions_websockets(make_user, api, django_capture_on_commit_callbacks):
    alice = make_user("Alice")
    client = api(alice)
    key = client.client.session.session_key

    with capture_events() as events, django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/auth/logout").status_code == 200
    assert (session_group(key), {"type": "session.ended"}) in events


def test_logout_signed_out_is_401(api):
    assert_error(api().post("/api/auth/logout"), 401, "unauthenticated")


def test_logout_needs_post(make_user, api):
    response = api(make_user()).get("/api/auth/logout")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


# --- /api/auth/token -----------------------------------------------------------------


def _expires_in_minutes(data: dict) -> float:
    expires = dt.datetime.fromtimestamp(data["expiresAt"] / 1000, tz=dt.UTC)
    return (expires - timezone.now()).total_seconds() / 60


def test_token_default_is_60_minutes(make_user, api):
    response = api(make_user()).post("/api/auth/token")
    assert response.status_code == 201
    data = response.json()
    assert set(data) == {"token", "expiresAt"}
    assert isinstance(data["token"], str) and data["token"]
    assert isinstance(data["expiresAt"], int)
    assert 59 < _expires_in_minutes(data) <= 60


@pytest.mark.parametrize("minutes", [1, 1440])
def test_token_minutes_within_bounds(make_user, api, minutes):
    response = api(make_user()).post("/api/auth/token", {"minutes": minutes})
    assert response.status_code == 201
    assert minutes - 1 < _expires_in_minutes(response.json()) <= minutes


@pytest.mark.parametrize("minutes", [0, -5, 1441, "10", True, 1.5, None, [10]])
def test_token_minutes_out_of_bounds_or_not_whole_is_400(make_user, api, minutes):
    assert_error(api(make_user()).post("/api/auth/token", {"minutes": minutes}), 400, "invalid")


def test_token_works_as_bearer(make_user, api):
    alice = make_user("Alice")
    token = api(alice).post("/api/auth/token", {"minutes": 5}).json()["token"]
    response = Client().get("/api/user", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["id"] == str(alice.pk)


def test_bearer_post_needs_no_csrf_token(make_user, api, token_for):
    alice = make_user("Alice")
    response = api(token=token_for(alice)).post("/api/auth/token", csrf=False)
    assert response.status_code == 201


def test_token_signed_out_is_401(api):
    assert_error(api().post("/api/auth/token"), 401, "unauthenticated")


def test_expired_token_is_401(make_user, api):
    alice = make_user()
    now = timezone.now()
    token = jwt.encode(
        {
            "sub": str(alice.pk),
            "iat": now - dt.timedelta(hours=2),
            "exp": now - dt.timedelta(minutes=1),
            "aud": "chatty-api",
        },
        settings.SECRET_KEY,
        algorithm="HS256",
    )
    assert_error(api(token=token).get("/api/user"), 401, "unauthenticated")


def test_token_signed_with_another_key_is_401(make_user, api):
    alice = make_user()
    token = jwt.encode(
        {"sub": str(alice.pk), "exp": timezone.now() + dt.timedelta(hours=1), "aud": "chatty-api"},
        "some-other-key-that-is-long-enough-0123456789",
        algorithm="HS256",
    )
    assert_error(api(token=token).get("/api/user"), 401, "unauthenticated")


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Bearer ", "Basic dXNlcjpwdw==", "Token x"])
def test_garbage_authorization_is_401(make_user, header):
    response = Client().get("/api/user", headers={"Authorization": header})
    assert_error(response, 401, "unauthenticated")


def test_garbage_bearer_wins_over_a_valid_session(make_user, api):
    """A request that sends a bearer header is judged by it alone."""
    client = api(make_user())
    response = client.client.get("/api/user", headers={"Authorization": "Bearer garbage"})
    assert_error(response, 401, "unauthenticated")


def test_token_of_a_deactivated_user_is_401(make_user, api, token_for):
    alice = make_user()
    token = token_for(alice)
    assert api(token=token).get("/api/user").status_code == 200
    user_deactivate(user=alice)
    assert_error(api(token=token).get("/api/user"), 401, "unauthenticated")


def test_token_of_a_deleted_user_is_401(make_user, api, token_for):
    alice = make_user()
    token = token_for(alice)
    alice.delete()
    assert_error(api(token=token).get("/api/user"), 401, "unauthenticated")


# --- /api/user -----------------------------------------------------------------------


def test_user_shape_with_string_id(make_user, api):
    alice = make_user("Alice")
    response = api(alice).get("/api/user")
    assert response.status_code == 200
    data = response.json()
    assert data == {"id": str(alice.pk), "name": "Alice", "picture": "", "status": "offline", "userTag": alice.user_tag}


def test_user_status_is_live(make_user, api, fresh_live_state):
    from asgiref.sync import async_to_sync

    from accounts.services import user_set_status

    alice = make_user("Alice")
    client = api(alice)
    async_to_sync(fresh_live_state.add_connection)(alice.pk, "conn-1")
    assert client.get("/api/user").json()["status"] == "online"
    user_set_status(user=alice, status="away")
    assert client.get("/api/user").json()["status"] == "away"


def test_user_signed_out_is_401(api):
    assert_error(api().get("/api/user"), 401, "unauthenticated")


def test_user_name_falls_back_to_username(make_user, api):
    alice = make_user(username="alice_local")
    alice.name = ""
    alice.save(update_fields=["name"])
    assert api(alice).get("/api/user").json()["name"] == "alice_local"


# --- the error shape everywhere under /api/ -------------------------------------------


@pytest.mark.parametrize("path", ["/api/nope", "/api/chat/nope", "/api/friend/nope/deeper", "/api/user/"])
def test_unknown_api_path_is_404_json(make_user, api, path):
    assert_error(api(make_user()).get(path), 404, "not_found")


def test_unknown_api_path_signed_out_is_404_json(api):
    assert_error(api().get("/api/nope"), 404, "not_found")


def test_unknown_api_path_post_without_csrf_is_404_json(make_user, api):
    """There is nothing to protect at a path that does not exist."""
    assert_error(api(make_user()).post("/api/nope", {}, csrf=False), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("post", "/api/user", "GET"),
        ("post", "/api/auth/check-auth", "GET"),
        ("get", "/api/auth/token", "POST"),
        ("put", "/api/friend", "GET"),
        ("delete", "/api/friend/delete-friend", "POST"),
        ("get", "/api/chat/create-chat", "POST"),
        ("patch", "/api/chat/chat-list", "GET"),
    ],
)
def test_wrong_method_is_405_json_with_allow(make_user, method, path, allow):
    client = Client()
    client.force_login(make_user())
    response = getattr(client, method)(path)
    assert_error(response, 405, "method_not_allowed")
    assert allow in response["Allow"].split(", ")


def test_head_of_a_get_endpoint_is_allowed(make_user):
    client = Client()
    client.force_login(make_user())
    assert client.head("/api/user").status_code == 200


def test_session_post_without_csrf_token_is_403_json(make_user, api):
    response = api(make_user()).post("/api/auth/token", {}, csrf=False)
    data = assert_error(response, 403, "forbidden")
    assert "CSRF" in data["detail"]


def test_session_post_with_wrong_csrf_token_is_403_json(make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    client.cookies["csrftoken"] = "a" * 32
    response = client.post(
        "/api/auth/token", data="{}", content_type="application/json", headers={"X-CSRFToken": "b" * 32}
    )
    assert_error(response, 403, "forbidden")


def test_session_post_with_csrf_token_works(make_user, api):
    assert api(make_user()).post("/api/auth/token", {}).status_code == 201


def test_body_over_one_mebibyte_is_413(make_user, api):
    client = api(make_user())
    big = json.dumps({"minutes": 5, "pad": "x" * (1024 * 1024)})
    assert_error(client.post("/api/auth/token", raw=big), 413, "too_large")


def test_body_over_one_mebibyte_with_a_bearer_is_413(make_user, api, token_for):
    client = api(token=token_for(make_user()))
    assert_error(client.post("/api/friend/add-friend", raw="x" * (1024 * 1024 + 1)), 413, "too_large")


def test_body_just_under_one_mebibyte_is_read(make_user, api):
    client = api(make_user())
    body = json.dumps({"minutes": 5, "pad": ""})
    body = body.replace('""', '"' + "x" * (1024 * 1024 - len(body)) + '"')
    assert len(body) == 1024 * 1024
    assert client.post("/api/auth/token", raw=body).status_code == 201


@pytest.mark.parametrize("raw", ["not json", "{", b"\xff\xfe{}", "{'minutes': 5}"])
def test_non_json_body_is_400(make_user, api, raw):
    assert_error(api(make_user()).post("/api/auth/token", raw=raw), 400, "invalid")


def test_deeply_nested_json_is_400_not_a_crash(make_user, api):
    raw = "[" * 200_000 + "]" * 200_000
    assert_error(api(make_user()).post("/api/auth/token", raw=raw), 400, "invalid")


@pytest.mark.django_db(transaction=True)
async def test_body_over_one_mebibyte_without_content_length_is_413(make_user, token_for):
    """Through the ASGI app as a server delivers a chunked upload: no Content-Length to check first."""
    from channels.db import database_sync_to_async
    from channels.testing import HttpCommunicator

    from chatty.asgi import application

    # database_sync_to_async closes its thread's connection after use, so the test
    # database can be dropped at the end of the run.
    token = await database_sync_to_async(lambda: token_for(make_user("Alice")))()
    body = b'{"minutes": 5, "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    headers = [
        (b"host", b"127.0.0.1"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
    ]
    communicator = HttpCommunicator(application, "POST", "/api/auth/token", body=body, headers=headers)
    response = await communicator.get_response(timeout=30)
    await communicator.wait(timeout=30)  # the app finishes the request: its connection is closed
    assert response["status"] == 413
    assert json.loads(response["body"])["error"] == "too_large"


@pytest.mark.parametrize(
    "raw",
    [
        '{"minutes": 5, "note": "\\ud800"}',
        '{"minutes": 5, "\\udfff": 1}',
        b'{"minutes": 5, "note": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes
    ],
)
def test_body_with_a_lone_surrogate_is_400(make_user, api, raw):
    assert_error(api(make_user()).post("/api/auth/token", raw=raw), 400, "invalid")


def test_body_with_an_escaped_surrogate_pair_is_fine(make_user, api):
    response = api(make_user()).post("/api/auth/token", raw='{"minutes": 5, "note": "\\ud83d\\ude00"}')
    assert response.status_code == 201


@pytest.mark.parametrize("raw", ["[]", "[1, 2]", '"text"', "5", "null", "true"])
def test_body_that_is_not_an_object_is_400(make_user, api, raw):
    assert_error(api(make_user()).post("/api/auth/token", raw=raw), 400, "invalid")


def test_empty_body_counts_as_an_empty_object(make_user, api):
    assert api(make_user()).post("/api/auth/token", raw="").status_code == 201


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("path", ["/api/test-crash/plain", "/api/test-crash/api"])
def test_unexpected_exception_is_500_json_without_internals(make_user, api, path):
    response = api(make_user()).get(path)
    assert_error(response, 500, "server_error")
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content


@override_settings(ROOT_URLCONF=__name__)
def test_chatty_urls_still_work_beside_the_test_urls(make_user, api):
    assert api(make_user()).get("/api/user").status_code == 200


def test_pages_outside_the_api_stay_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
