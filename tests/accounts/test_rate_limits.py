"""Sign-in and sign-up are rate limited (allauth's limits, counted in the real cache: Redis in
the second test pass, so the count holds across processes)."""

from __future__ import annotations

import itertools
import uuid

import pytest
from django.test import Client

_addresses = (f"10.{a}.{b}.{c}" for a, b, c in itertools.product(range(200, 250), range(256), range(1, 255)))


def client_from_own_address() -> Client:
    """Each test its own client address, so per-address counters never leak between tests."""
    return Client(REMOTE_ADDR=next(_addresses))


def login(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"login": username, "password": password})


@pytest.mark.django_db
def test_repeated_failed_logins_lock_the_account_even_for_the_right_password(make_user):
    user = make_user("Target", username=f"target-{uuid.uuid4().hex[:8]}")
    attacker = client_from_own_address()
    for _ in range(5):
        response = login(attacker, user.username, "wrong-password")
        assert response.status_code == 200 and "_auth_user_id" not in attacker.session
    locked = client_from_own_address()  # another address: the limit is per account too
    response = login(locked, user.username, "pw-for-tests-123")
    assert "_auth_user_id" not in locked.session
    assert "Too many failed login attempts" in response.content.decode()


@pytest.mark.django_db
def test_signups_from_one_address_are_limited():
    client = client_from_own_address()
    statuses = []
    for i in range(21):
        response = client.post(
            "/accounts/signup/",
            {
                "username": f"s{i}-{uuid.uuid4().hex[:8]}",
                "password1": "A-long-enough-password-42",
                "password2": "A-long-enough-password-42",
            },
        )
        statuses.append(response.status_code)
        client.logout()
    assert statuses[:20] == [302] * 20
    assert statuses[20] == 429
