"""add-friend look-ups that match nobody are rate-limited per user and per address (SPEC §9),
so that guessing tags takes months; adding someone by their real tag is not slowed."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tags import TAG_DIGITS
from chatty.limits import LIMITS

pytestmark = pytest.mark.django_db

PER_USER = LIMITS["addFriendMiss"].hits
PER_ADDRESS = LIMITS["addFriendMissAddress"].hits


def add(api_client, tag: str):
    return api_client.post("/api/friend/add-friend", {"friendUserTag": tag})


def from_address(api_client, address: str):
    api_client.client.defaults["REMOTE_ADDR"] = address
    return api_client


def test_misses_are_limited_per_user_and_then_no_look_up_tells_a_hit_from_a_miss(make_user, api):
    mallory, dave = make_user("Mallory"), make_user("Dave")
    client = from_address(api(mallory), "10.1.0.1")
    answers = [add(client, f"dave#{n:06d}").status_code for n in range(PER_USER)]
    assert answers == [404] * PER_USER
    over = add(client, "dave#999999")
    assert over.status_code == 429 and over.json()["error"] == "rate_limited"
    real = add(client, dave.user_tag)
    assert real.status_code == 429, "a right guess is refused too, or 429 would mean 'miss' and 201 'hit'"
    # Someone else, from another address, adds Dave at once.
    assert add(from_address(api(make_user("Erin")), "10.1.0.2"), dave.user_tag).status_code == 201


def test_misses_are_limited_per_address_across_accounts(make_user, api):
    target = make_user("Dave")
    per_account = PER_USER - 1
    accounts = [from_address(api(make_user(f"Sock {i}")), "10.2.0.1") for i in range(PER_ADDRESS // per_account + 1)]
    statuses = []
    for n in range(PER_ADDRESS + 1):
        statuses.append(add(accounts[n // per_account], f"dave#{n:06d}").status_code)
    assert statuses[:PER_ADDRESS] == [404] * PER_ADDRESS
    assert statuses[PER_ADDRESS] == 429
    assert add(accounts[-1], target.user_tag).status_code == 429
    elsewhere = from_address(api(make_user("Erin")), "10.2.0.2")
    assert add(elsewhere, target.user_tag).status_code == 201


def test_adding_real_tags_is_not_slowed(make_user, api):
    alice = make_user("Alice")
    client = from_address(api(alice), "10.3.0.1")
    people = [make_user(f"Friend {i}") for i in range(PER_USER * 2)]
    assert [add(client, p.user_tag).status_code for p in people] == [201] * len(people)
    assert [add(client, p.user_tag).status_code for p in people[:3]] == [409] * 3, "already friends is no miss"


def test_the_form_and_the_api_share_one_budget(make_user, api):
    mallory, dave = make_user("Mallory"), make_user("Dave")
    form = Client(REMOTE_ADDR="10.4.0.1")
    form.force_login(mallory)
    for n in range(PER_USER):
        response = form.post("/dashboard/friends/add", {"friendUserTag": f"dave#{n:06d}"}, follow=True)
        assert "No one has that user tag" in response.content.decode()
    response = form.post("/dashboard/friends/add", {"friendUserTag": dave.user_tag}, follow=True)
    assert "Too many requests" in response.content.decode()
    hx = form.post("/dashboard/friends/add", {"friendUserTag": dave.user_tag}, headers={"HX-Request": "true"})
    assert hx.status_code == 422 and "Too many requests" in hx.content.decode()
    assert add(from_address(api(mallory), "10.4.0.1"), dave.user_tag).status_code == 429


def test_guessing_one_names_tag_takes_months():
    """The figures chatty/limits.py states: half the tags of one name, at each budget."""
    guesses = 10**TAG_DIGITS / 2
    hours_per_account = guesses / PER_USER * LIMITS["addFriendMiss"].window / 3600
    hours_per_address = guesses / PER_ADDRESS * LIMITS["addFriendMissAddress"].window / 3600
    assert hours_per_account / 24 / 365 > 2  # 2.9 years for one account
    assert hours_per_address / 24 > 300  # 11 months for one address, however many accounts


def test_ipv6_addresses_count_per_64_so_rotating_through_a_prefix_does_not_help(make_user, api):
    target = make_user("Dave")
    per_account = PER_USER - 1
    accounts = [api(make_user(f"Sock {i}")) for i in range(PER_ADDRESS // per_account + 1)]
    for n in range(PER_ADDRESS):
        client = from_address(accounts[n // per_account], f"2001:db8:1:2::{n + 1:x}")
        assert add(client, f"dave#{n:06d}").status_code == 404
    assert add(from_address(accounts[-1], "2001:db8:1:2:ffff::1"), target.user_tag).status_code == 429
    other_prefix = from_address(api(make_user("Erin")), "2001:db8:1:3::1")
    assert add(other_prefix, target.user_tag).status_code == 201
