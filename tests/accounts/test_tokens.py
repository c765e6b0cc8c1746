"""Bearer tokens can be revoked, and cannot mint one that outlives them (SPEC §9); a
websocket can ask whether its session or token still stands (connection_still_valid)."""

from __future__ import annotations

import datetime as dt
import io

import jwt
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.sessions import connection_still_valid
from accounts.tokens import issue_token

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"


def status_with(token: str) -> int:
    return Client().get("/api/user", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_token_works_until_its_password_changes(make_user, token_for):
    alice = make_user("Alice")
    token = token_for(alice)
    assert status_with(token) == 200
    alice.set_password("A-new-long-password-4711")
    alice.save()
    assert status_with(token) == 401


def test_a_password_changed_by_update_also_revokes(make_user, token_for):
    alice = make_user("Alice")
    token = token_for(alice)
    User.objects.filter(pk=alice.pk).update(password="!unusable")
    assert status_with(token) == 401


def test_revoke_tokens_command_revokes_every_token_of_that_user_only(make_user, token_for):
    alice, bob = make_user("Alice"), make_user("Bob")
    alices, bobs = [token_for(alice), token_for(alice, minutes=600)], token_for(bob)
    out = io.StringIO()
    call_command("revoke_tokens", alice.username, stdout=out)
    assert alice.username in out.getvalue()
    assert [status_with(t) for t in alices] == [401, 401]
    assert status_with(bobs) == 200
    alice.refresh_from_db()
    assert status_with(token_for(alice)) == 200, "a token issued afterwards works"


def test_revoke_tokens_of_nobody_is_an_error():
    with pytest.raises(CommandError):
        call_command("revoke_tokens", "nobody-at-all")


def test_logout_everywhere_api_revokes_tokens_and_ends_sessions(make_user, api, token_for):
    alice = make_user("Alice")
    token = token_for(alice)
    other_device = api(alice)
    here = api(alice)
    response = here.post("/api/auth/logout-everywhere")
    assert response.status_code == 200, response.content
    assert response.json()["ok"] is True
    assert status_with(token) == 401
    assert other_device.get("/api/user").status_code == 401
    assert here.get("/api/user").status_code == 401


def test_logout_everywhere_with_a_token_revokes_that_token_too(make_user, api, token_for):
    alice = make_user("Alice")
    token = token_for(alice)
    assert api(token=token).post("/api/auth/logout-everywhere").status_code == 200
    assert status_with(token) == 401


def test_logout_everywhere_signed_out_is_401(api):
    response = api().post("/api/auth/logout-everywhere")
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"


def test_a_token_cannot_mint_one_that_outlives_it(make_user, api, token_for):
    alice = make_user("Alice")
    short = token_for(alice, minutes=5)
    response = api(token=short).post("/api/auth/token", {"minutes": 1440})
    assert response.status_code == 201
    minted = response.json()
    claims = jwt.decode(short, options={"verify_signature": False})
    assert minted["expiresAt"] <= claims["exp"] * 1000
    minted_claims = jwt.decode(minted["token"], options={"verify_signature": False})
    assert minted_claims["exp"] <= claims["exp"]
    # ...and so on down the chain: a minted token never lives longer than its parent.
    again = api(token=minted["token"]).post("/api/auth/token", {"minutes": 1440}).json()
    assert again["expiresAt"] <= claims["exp"] * 1000


def test_a_session_still_mints_a_full_day(make_user, api):
    alice = make_user("Alice")
    response = api(alice).post("/api/auth/token", {"minutes": 1440})
    assert response.status_code == 201
    left = response.json()["expiresAt"] / 1000 - timezone.now().timestamp()
    assert left > 1439 * 60


def test_a_token_without_the_stamp_is_refused(make_user):
    alice = make_user("Alice")
    exp = timezone.now() + dt.timedelta(hours=1)
    old_style = jwt.encode({"sub": str(alice.pk), "exp": exp, "aud": "chatty-api"}, settings.SECRET_KEY, "HS256")
    assert status_with(old_style) == 401


# --- connection_still_valid ------------------------------------------------------------------


def session_key_of(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def signed_in(user: User) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"login": user.username, "password": PASSWORD}).status_code == 302
    return client


def test_a_live_session_is_valid_until_logout(make_user):
    alice = make_user("Alice")
    client = signed_in(alice)
    key = session_key_of(client)
    assert connection_still_valid(user_id=alice.pk, session_key=key, token=None)
    assert not connection_still_valid(user_id=alice.pk + 1, session_key=key, token=None), "another user's id"
    client.post("/accounts/logout/")
    assert not connection_still_valid(user_id=alice.pk, session_key=key, token=None)


def test_a_session_is_invalid_after_a_password_change_expiry_or_deactivation(make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    keys = {u.pk: session_key_of(signed_in(u)) for u in (alice, bob, carol)}
    User.objects.filter(pk=alice.pk).update(password="!changed")  # even around the signals
    from importlib import import_module

    sessions = import_module(settings.SESSION_ENGINE).SessionStore.get_model_class()
    sessions.objects.filter(session_key=keys[bob.pk]).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    User.objects.filter(pk=carol.pk).update(is_active=False)
    for user in (alice, bob, carol):
        assert not connection_still_valid(user_id=user.pk, session_key=keys[user.pk], token=None)


def test_a_token_is_valid_until_revoked_or_expired(make_user, token_for):
    alice = make_user("Alice")
    token = token_for(alice)
    assert connection_still_valid(user_id=alice.pk, session_key=None, token=token)
    assert not connection_still_valid(user_id=alice.pk + 1, session_key=None, token=token)
    expired, _ = issue_token(user=alice, minutes=1, not_after=timezone.now() - dt.timedelta(seconds=5))
    assert not connection_still_valid(user_id=alice.pk, session_key=None, token=expired)
    call_command("revoke_tokens", alice.username, stdout=io.StringIO())
    assert not connection_still_valid(user_id=alice.pk, session_key=None, token=token)
    assert not connection_still_valid(user_id=alice.pk, session_key=None, token=None)


def test_the_credentials_of_a_socket_scope_feed_the_check(make_user, token_for):
    from accounts.sessions import SessionStore, connection_credentials

    alice = make_user("Alice")
    key = session_key_of(signed_in(alice))
    assert connection_credentials({"session": SessionStore(session_key=key)}) == (key, None)
    token = token_for(alice)
    assert connection_credentials({"session": None, "bearer_token": token}) == (None, token)
    for scope in ({"session": SessionStore(session_key=key)}, {"session": None, "bearer_token": token}):
        session_key, bearer = connection_credentials(scope)
        assert connection_still_valid(user_id=alice.pk, session_key=session_key, token=bearer)


def test_the_periodic_check_of_many_sockets_is_two_queries_and_agrees_with_one_by_one(
    make_user, token_for, django_assert_max_num_queries
):
    """The edge re-checks every socket on a timer: its cost must not grow in queries with their
    number (it was one or two queries per socket: 14 % of a busy server's GIL with 1,000)."""
    from accounts.sessions import invalid_connections

    users = [make_user(f"U{i}") for i in range(12)]
    good = [(u.pk, None, token_for(u)) for u in users[:6]] + [
        (u.pk, session_key_of(signed_in(u)), None) for u in users[6:]
    ]
    gone = users[0], users[7]
    User.objects.filter(pk__in=[u.pk for u in gone]).update(is_active=False)
    bad = [(users[1].pk + 1000, None, good[1][2]), (users[8].pk, "no-such-session", None), (users[9].pk, None, None)]
    credentials = good + bad
    with django_assert_max_num_queries(2):
        invalid = invalid_connections(credentials)
    expected = [c for c in credentials if c[0] in {u.pk for u in gone} or c in bad]
    assert invalid == expected
    assert invalid == [c for c in credentials if not connection_still_valid(user_id=c[0], session_key=c[1], token=c[2])]
