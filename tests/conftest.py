"""Shared fixtures: users, friendships, API clients, websocket clients, fresh live state."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from channels.layers import channel_layers
from django.conf import settings
from django.test import Client

from chatty import store as store_module

REDIS_TEST_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
_names = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_postgres: needs PostgreSQL and Redis (the second test pass)")


@pytest.fixture(autouse=True)
def fresh_live_state():
    """Each test gets an empty presence store and a channel layer bound to its own loop."""
    if settings.REDIS_URL:
        store = store_module.RedisStore(settings.REDIS_URL, prefix=f"chatty-test-{uuid.uuid4().hex[:8]}:")
    else:
        store = store_module.InProcessStore()
    store_module._store = store
    channel_layers.backends = {}
    yield store
    store_module._store = None
    channel_layers.backends = {}


@pytest.fixture
def make_user(db) -> Callable[..., Any]:
    from accounts.models import User

    def make(name: str | None = None, **fields: Any) -> User:
        n = next(_names)
        username = fields.pop("username", f"user{n}-{uuid.uuid4().hex[:6]}")
        user = User(username=username, name=name or f"User {n}", **fields)
        user.set_password("pw-for-tests-123")
        user.save()
        return user

    return make


@pytest.fixture
def befriend() -> Callable[[Any, Any], None]:
    from friends.services import friendship_create

    def make(a: Any, b: Any) -> None:
        friendship_create(user=a, friend_tag=b.user_tag)

    return make


class ApiClient:
    """A JSON client for /api/: a session (with CSRF enforced) or a bearer token."""

    def __init__(self, user: Any = None, *, token: str | None = None, csrf: bool = True) -> None:
        self.client = Client(enforce_csrf_checks=csrf)
        self.token = token
        self.user = user
        if user is not None and token is None:
            self.client.force_login(user)

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif "csrftoken" in self.client.cookies:
            headers["X-CSRFToken"] = self.client.cookies["csrftoken"].value
        return headers

    def _ensure_csrf_cookie(self) -> None:
        if not self.token and "csrftoken" not in self.client.cookies:
            from django.middleware.csrf import _get_new_csrf_string

            self.client.cookies["csrftoken"] = _get_new_csrf_string()

    def get(self, path: str, **params: Any):
        return self.client.get(path, params, headers=self._headers())

    def post(self, path: str, body: Any = None, *, raw: bytes | str | None = None, csrf: bool = True):
        if csrf:
            self._ensure_csrf_cookie()
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        headers = self._headers() if csrf else ({"Authorization": f"Bearer {self.token}"} if self.token else {})
        return self.client.post(path, data=data, content_type="application/json", headers=headers)


@pytest.fixture
def api() -> Callable[..., ApiClient]:
    def make(user: Any = None, *, token: str | None = None, csrf: bool = True) -> ApiClient:
        return ApiClient(user, token=token, csrf=csrf)

    return make


@pytest.fixture
def token_for() -> Callable[..., str]:
    from accounts.tokens import issue_token

    def make(user: Any, minutes: int = 60) -> str:
        return issue_token(user=user, minutes=minutes)[0]

    return make
