"""Operator commands of SPEC §5: add_user and issue_token."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import User
from accounts.services import user_deactivate

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_add_user_prints_json_and_the_user_can_sign_in():
    out = run("add_user", "carol", "--name", "Carol Jones", "--password", "s3cret-pass-word")
    data = json.loads(out)
    assert set(data) == {"id", "username", "userTag"}
    user = User.objects.get(pk=int(data["id"]))
    assert data == {"id": str(user.pk), "username": "carol", "userTag": user.user_tag}
    assert user.name == "Carol Jones"
    assert user.user_tag.startswith("caroljones#")
    assert authenticate(username="carol", password="s3cret-pass-word") == user
    client = Client()
    assert client.login(username="carol", password="s3cret-pass-word")
    assert client.get("/api/user").json()["userTag"] == user.user_tag


def test_add_user_sets_the_picture_and_defaults_the_name():
    data = json.loads(run("add_user", "dave", "--picture", "https://example.com/d.png"))
    user = User.objects.get(pk=int(data["id"]))
    assert user.picture == "https://example.com/d.png"
    assert user.display_name == "dave"


def test_add_user_without_password_cannot_sign_in_with_one():
    run("add_user", "erin")
    assert not User.objects.get(username="erin").has_usable_password()
    assert authenticate(username="erin", password="") is None


def test_add_user_refuses_a_duplicate_username(make_user):
    make_user(username="frank")
    with pytest.raises(CommandError, match="already exists"):
        run("add_user", "frank")
    assert User.objects.filter(username="frank").count() == 1


@pytest.mark.parametrize("username", ["", "has space", "semi;colon", "x" * 151])
def test_add_user_refuses_an_invalid_username(username):
    with pytest.raises(CommandError):
        run("add_user", username)
    assert not User.objects.exists()


def test_add_user_refuses_a_picture_that_is_not_a_url():
    with pytest.raises(CommandError):
        run("add_user", "gina", "--picture", "javascript:alert(1)")
    assert not User.objects.exists()


def test_issue_token_prints_a_token_that_works(make_user):
    alice = make_user("Alice", username="alice")
    token = run("issue_token", "alice").strip()
    response = Client().get("/api/user", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["id"] == str(alice.pk)


def test_issue_token_honours_minutes(make_user):
    import jwt

    make_user(username="alice")
    token = run("issue_token", "alice", "--minutes", "2880").strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 2880 * 60


def test_issue_token_for_an_unknown_user_fails():
    with pytest.raises(CommandError, match="nobody"):
        run("issue_token", "nobody")


def test_issue_token_for_a_deactivated_user_fails(make_user):
    user_deactivate(user=make_user(username="gone"))
    with pytest.raises(CommandError):
        run("issue_token", "gone")


@pytest.mark.parametrize("minutes", ["0", "-5", str(10**12), "ten"])
def test_issue_token_refuses_minutes_out_of_range(make_user, minutes):
    make_user(username="alice")
    with pytest.raises(CommandError):
        run("issue_token", "alice", "--minutes", minutes)
