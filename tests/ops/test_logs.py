"""LOG_FORMAT=json: every line a real uvicorn writes with the shipped log config is one JSON
object, with the request's or connection's id, and no message text or token."""

from __future__ import annotations

import asyncio
import http.client
import json

import pytest

from tests.multiprocess.wsclient import open_client

pytestmark = pytest.mark.timeout(180)

SECRET_TEXT = "zebra-ultramarine-7431"
SEARCH_WORD = "kumquat-98211"


def _request(port: int, method: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_every_line_is_json_with_an_id_and_no_secrets(uvicorn_server, make_user, befriend, token_for):
    from chats.services import room_create

    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[str(bob.pk)])
    token = token_for(alice)
    server = uvicorn_server(LOG_FORMAT="json")

    assert _request(server.port, "GET", "/api/auth/check-auth").status == 401  # Django logs a warning
    answer = _request(server.port, "GET", "/api/user", {"Authorization": f"Bearer {token}"})
    assert answer.status == 200
    request_id = answer.getheader("X-Request-ID")
    assert request_id
    assert _request(server.port, "GET", f"/api/chat/search?q={SEARCH_WORD}").status in (401, 404)
    assert _request(server.port, "GET", "/nowhere").status == 404
    proxied = _request(server.port, "GET", "/api/auth/check-auth", {"X-Request-ID": "proxy-id-0123456789"})
    assert proxied.getheader("X-Request-ID") == "proxy-id-0123456789"

    async def talk() -> None:
        client = await open_client(server.port, token, "alice")
        try:
            await client.hello()
            await client.join(room.pk)
            await client.send({"type": "sendMessage", "chatroomId": str(room.pk), "message": SECRET_TEXT})
            await client.expect("ack")
            await client.send({"type": "noSuchType", "message": SECRET_TEXT})
            await client.expect("error")
        finally:
            await client.close()

    asyncio.run(talk())
    server.stop()

    lines = [line for line in server.output(max_chars=10**8).splitlines() if not line.startswith("--- uvicorn")]
    assert len(lines) >= 6
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(record, dict) and {"time", "level", "logger", "message"} <= record.keys(), line
        records.append(record)

    access = [r for r in records if r["logger"] == "uvicorn.access"]
    seen = {(r["method"], r["path"], r["status_code"]) for r in access}
    assert {("GET", "/api/auth/check-auth", 401), ("GET", "/api/user", 200), ("GET", "/nowhere", 404)} <= seen
    assert any(path == "/api/chat/search" for _, path, _ in seen)  # its query (search words) left out
    assert all(r.get("request_id") for r in access), access
    assert any(r["request_id"] == request_id and r["path"] == "/api/user" for r in access)
    assert any(r.get("request_id") == "proxy-id-0123456789" for r in access)
    warnings = [r for r in records if r["logger"] == "django.request"]
    assert warnings and all(r.get("request_id") for r in warnings)
    accepted = [r for r in records if r.get("event") == "websocket [accepted]"]
    assert accepted and all(r["path"] == "/ws/" and r.get("request_id") for r in accepted)
    assert any(r["logger"] == "uvicorn.error" for r in records)  # start-up and shutdown lines

    everything = "\n".join(lines)
    for secret in (SECRET_TEXT, SEARCH_WORD, token, token.split(".")[-1]):
        assert secret not in everything


def test_an_exception_keeps_its_traceback_in_the_json_line():
    import logging

    from chatty.logs import JsonFormatter, bind_request_id, request_id

    record = None
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord("chatty.test", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    token = bind_request_id("abcdef0123")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["message"] == "failed here" and line["request_id"] == "abcdef0123"
    assert "RuntimeError: boom" in line["exception"]
