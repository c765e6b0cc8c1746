"""The same limits on every path (frames, API, forms), and the answers to hostile volume:
the no-JavaScript send form, /admin/login/, a query string of thousands of fields, the
uvicorn flag that refuses a 16 MiB frame before reading it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from chats.models import Message
from chats.services import room_create
from chatty.limits import LIMITS

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)


def test_the_no_javascript_send_form_keeps_the_sockets_budget(make_user, befriend):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[bob.pk])
    client = Client()
    client.force_login(alice)
    budget = LIMITS["sendMessage"].hits
    for n in range(budget):
        assert client.post(f"/dashboard/chat/{room.pk}/send", {"message": f"m{n}"}).status_code == 302
    response = client.post(f"/dashboard/chat/{room.pk}/send", {"message": "one too many"}, follow=True)
    assert "Too many requests" in response.content.decode()
    assert Message.objects.count() == budget
    assert not Message.objects.filter(text="one too many").exists()


def test_admin_login_is_rate_limited_per_username(make_user):
    admin_user = make_user("Root", username="root-admin", is_staff=True, is_superuser=True)
    attacker = Client(REMOTE_ADDR="10.9.0.1")
    for _ in range(LIMITS["adminLoginFailed"].hits):
        response = attacker.post("/admin/login/", {"username": admin_user.username, "password": "guess"})
        assert response.status_code == 200
    other_address = Client(REMOTE_ADDR="10.9.0.2")
    response = other_address.post("/admin/login/", {"username": admin_user.username, "password": "pw-for-tests-123"})
    assert response.status_code == 429, "the right password is not even tried once the budget is spent"
    assert "_auth_user_id" not in other_address.session
    # Someone else signs in as usual.
    make_user("Ops", username="ops-admin", is_staff=True)
    ok = Client(REMOTE_ADDR="10.9.0.3").post("/admin/login/", {"username": "ops-admin", "password": "pw-for-tests-123"})
    assert ok.status_code == 302


def test_admin_login_is_rate_limited_per_address(make_user):
    attacker = Client(REMOTE_ADDR="10.9.1.1")
    for n in range(LIMITS["adminLoginFailedAddress"].hits):
        assert attacker.post("/admin/login/", {"username": f"u{n}", "password": "guess"}).status_code == 200
    assert attacker.post("/admin/login/", {"username": "another", "password": "guess"}).status_code == 429


def test_thousands_of_query_fields_are_a_json_400(make_user, api):
    alice = make_user("Alice")
    query = "&".join(f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = api(alice).client.get(f"/api/chat/chat-info?chatId=1&{query}")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert set(data) == {"error", "detail"} and data["error"] == "invalid"


def _uvicorn_commands() -> list[str]:
    """Every uvicorn command line the repository ships or documents, continuation lines joined."""
    texts = [
        ROOT / "deploy/systemd/chatty@.service",
        ROOT / "deploy/Procfile",
        ROOT / "docs/deploy.md",
        ROOT / "README.md",
    ]
    commands = []
    for path in texts:
        text = path.read_text().replace("\\\n", " ")
        commands += [line for line in text.splitlines() if re.search(r"uvicorn\S* chatty\.asgi:application", line)]
    return commands


def test_every_shipped_uvicorn_command_refuses_big_frames_before_reading_them():
    commands = _uvicorn_commands()
    assert len(commands) >= 4  # the unit, the Procfile's two, the README's
    for command in commands:
        found = re.search(r"--ws-max-size[ =](\d+)", command)
        assert found, command
        assert 64 * 1024 <= int(found.group(1)) <= 128 * 1024, command


def test_limits_count_per_action_and_key_and_check_counts_nothing():
    from asgiref.sync import async_to_sync

    from chatty import limits
    from chatty.errors import RateLimited

    budget = LIMITS["changeStatus"].hits
    for _ in range(budget):
        limits.check("changeStatus", 7)  # looking costs nothing
        limits.hit("changeStatus", 7)
    with pytest.raises(RateLimited):
        limits.check("changeStatus", 7)
    with pytest.raises(RateLimited):
        limits.hit("changeStatus", 7)
    limits.hit("changeStatus", 8)  # another key
    limits.hit("typing", 7)  # another action
    # Frames without a budget of their own (unknown types too) share the OTHER bucket.
    assert limits.limit_for("noSuchFrame") == (limits.OTHER, LIMITS[limits.OTHER])
    for _ in range(LIMITS[limits.OTHER].hits):
        async_to_sync(limits.ahit)("noSuchFrame", 7)
    with pytest.raises(RateLimited):
        async_to_sync(limits.ahit)("anotherUnknownFrame", 7)
    with pytest.raises(RateLimited):
        async_to_sync(limits.acheck)("noSuchFrame", 7)
