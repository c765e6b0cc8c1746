"""/api/friend, /api/friend/add-friend and /api/friend/delete-friend (SPEC §3)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from accounts.services import user_set_status
from friends.models import Friendship

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert set(data) == {"error", "detail"} and data["error"] == code


def pairs() -> set[tuple[int, int]]:
    return set(Friendship.objects.values_list("user_id", "friend_id"))


# --- add-friend ------------------------------------------------------------------------


def test_add_friend_by_tag_in_any_case(make_user, api, published):
    alice = make_user("Alice")
    bob = make_user("Bob", picture="https://example.com/b.png")
    with published() as events:
        response = api(alice).post("/api/friend/add-friend", {"friendUserTag": bob.user_tag.upper()})
    assert response.status_code == 201
    assert response.json() == {"friendUserTag": bob.user_tag, "friendName": "Bob", "friendId": str(bob.pk)}
    assert pairs() == {(alice.pk, bob.pk), (bob.pk, alice.pk)}
    assert [(g, e["type"], e["friend"]["userId"]) for g, e in events] == [
        (f"user.{bob.pk}", "friend.added", str(alice.pk))
    ]


def test_add_friend_with_a_bearer_token(make_user, api, token_for):
    alice, bob = make_user("Alice"), make_user("Bob")
    response = api(token=token_for(alice)).post("/api/friend/add-friend", {"friendUserTag": bob.user_tag}, csrf=False)
    assert response.status_code == 201


def test_both_sides_see_each_other_after_an_add(make_user, api):
    alice, bob = make_user("Alice"), make_user("Bob")
    api(alice).post("/api/friend/add-friend", {"friendUserTag": bob.user_tag})
    assert [f["userId"] for f in api(alice).get("/api/friend").json()["friends"]] == [str(bob.pk)]
    assert [f["userId"] for f in api(bob).get("/api/friend").json()["friends"]] == [str(alice.pk)]


def test_add_friend_unknown_tag_is_404(make_user, api):
    alice = make_user("Alice")
    assert_error(api(alice).post("/api/friend/add-friend", {"friendUserTag": "nobody#12345"}), 404, "not_found")
    assert_error(api(alice).post("/api/friend/add-friend", {"friendUserTag": "x" * 500}), 404, "not_found")
    assert_error(api(alice).post("/api/friend/add-friend", {"friendUserTag": "a\u0000b"}), 404, "not_found")
    lone = '{"friendUserTag": "\\ud800"}'
    assert_error(api(alice).post("/api/friend/add-friend", raw=lone), 400, "invalid")
    assert pairs() == set()


def test_add_friend_own_tag_is_400(make_user, api):
    alice = make_user("Alice")
    assert_error(api(alice).post("/api/friend/add-friend", {"friendUserTag": alice.user_tag}), 400, "invalid")
    assert pairs() == set()


def test_add_friend_twice_is_409(make_user, api, published):
    alice, bob = make_user("Alice"), make_user("Bob")
    assert api(alice).post("/api/friend/add-friend", {"friendUserTag": bob.user_tag}).status_code == 201
    with published() as events:
        response = api(alice).post("/api/friend/add-friend", {"friendUserTag": bob.user_tag})
    assert_error(response, 409, "conflict")
    assert events == []


def test_add_friend_when_the_other_side_added_first_is_409(make_user, api):
    alice, bob = make_user("Alice"), make_user("Bob")
    assert api(bob).post("/api/friend/add-friend", {"friendUserTag": alice.user_tag}).status_code == 201
    assert_error(api(alice).post("/api/friend/add-friend", {"friendUserTag": bob.user_tag}), 409, "conflict")
    assert len(pairs()) == 2


@pytest.mark.parametrize("body", [{}, {"friendUserTag": ""}, {"friendUserTag": 5}, {"friendUserTag": None}])
def test_add_friend_without_a_tag_is_400(make_user, api, body):
    assert_error(api(make_user()).post("/api/friend/add-friend", body), 400, "invalid")


def test_add_friend_signed_out_is_401(make_user, api):
    bob = make_user("Bob")
    assert_error(api().post("/api/friend/add-friend", {"friendUserTag": bob.user_tag}), 401, "unauthenticated")
    assert pairs() == set()


def test_add_friend_without_csrf_is_403(make_user, api):
    bob = make_user("Bob")
    response = api(make_user()).post("/api/friend/add-friend", {"friendUserTag": bob.user_tag}, csrf=False)
    assert_error(response, 403, "forbidden")
    assert pairs() == set()


# --- delete-friend ---------------------------------------------------------------------


def test_delete_friend_removes_both_directions(make_user, api, befriend, published):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    with published() as events:
        response = api(alice).post("/api/friend/delete-friend", {"friendId": str(bob.pk)})
    assert response.status_code == 200
    assert response.json() == {"friendId": str(bob.pk)}
    assert pairs() == set()
    assert events == [(f"user.{bob.pk}", {"type": "friend.removed", "user_id": alice.pk})]
    assert api(bob).get("/api/friend").json() == {"friends": []}


def test_delete_friend_accepts_a_numeric_id(make_user, api, befriend):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    assert api(alice).post("/api/friend/delete-friend", {"friendId": bob.pk}).json() == {"friendId": str(bob.pk)}


def test_delete_friend_not_a_friend_is_404(make_user, api, befriend, published):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    befriend(bob, carol)
    with published() as events:
        assert_error(api(alice).post("/api/friend/delete-friend", {"friendId": str(bob.pk)}), 404, "not_found")
        assert_error(api(alice).post("/api/friend/delete-friend", {"friendId": "99999999"}), 404, "not_found")
    assert events == []
    assert len(pairs()) == 2


def test_delete_friend_twice_is_404_the_second_time(make_user, api, befriend):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    assert api(alice).post("/api/friend/delete-friend", {"friendId": str(bob.pk)}).status_code == 200
    assert_error(api(bob).post("/api/friend/delete-friend", {"friendId": str(alice.pk)}), 404, "not_found")


@pytest.mark.parametrize("friend_id", [None, "", "abc", 0, -1, 1.5, True, [1], {"id": 1}, "9" * 30])
def test_delete_friend_with_a_bad_id_is_400(make_user, api, friend_id):
    body = {} if friend_id is None else {"friendId": friend_id}
    assert_error(api(make_user()).post("/api/friend/delete-friend", body), 400, "invalid")


# --- friend list -----------------------------------------------------------------------


def test_friend_list_shape_and_live_status(make_user, api, befriend, fresh_live_state):
    alice = make_user("Alice")
    bob = make_user("Bob", picture="https://example.com/b.png")
    carol = make_user("Carol")
    make_user("Dan")  # not a friend
    befriend(alice, bob)
    befriend(carol, alice)
    client = api(alice)

    response = client.get("/api/friend")
    assert response.status_code == 200
    assert response.json() == {
        "friends": [
            {
                "userId": str(bob.pk),
                "name": "Bob",
                "image": "https://example.com/b.png",
                "userTag": bob.user_tag,
                "status": "offline",
            },
            {"userId": str(carol.pk), "name": "Carol", "image": "", "userTag": carol.user_tag, "status": "offline"},
        ]
    }

    async_to_sync(fresh_live_state.add_connection)(bob.pk, "bob-tab-1")
    async_to_sync(fresh_live_state.add_connection)(carol.pk, "carol-tab-1")
    user_set_status(user=carol, status="away")
    status = {f["userId"]: f["status"] for f in client.get("/api/friend").json()["friends"]}
    assert status == {str(bob.pk): "online", str(carol.pk): "away"}

    async_to_sync(fresh_live_state.remove_connection)(bob.pk, "bob-tab-1")
    status = {f["userId"]: f["status"] for f in client.get("/api/friend").json()["friends"]}
    assert status == {str(bob.pk): "offline", str(carol.pk): "away"}


def test_friend_list_empty(make_user, api):
    assert api(make_user()).get("/api/friend").json() == {"friends": []}


def test_friend_list_leaves_out_deactivated_friends(make_user, api, befriend):
    from accounts.services import user_deactivate

    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    user_deactivate(user=bob)
    assert api(alice).get("/api/friend").json() == {"friends": []}


def test_friend_list_signed_out_is_401(api):
    assert_error(api().get("/api/friend"), 401, "unauthenticated")


def test_friend_list_is_ordered_by_the_name_people_see(make_user, api, befriend):
    alice = make_user("Alice")
    zed = make_user("zed")
    bea = make_user("Bea")
    nameless = make_user(username="carl_nameless")
    nameless.name = ""
    nameless.save(update_fields=["name"])
    for friend in (zed, bea, nameless):
        befriend(alice, friend)
    names = [f["name"] for f in api(alice).get("/api/friend").json()["friends"]]
    assert names == ["Bea", "carl_nameless", "zed"]
