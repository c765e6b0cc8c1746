"""JSON endpoints of /api/friend (SPEC §3)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

from chatty.api import api_view
from chatty.errors import Invalid, parse_id
from chatty.live import statuses
from friends.selectors import blocked_by, blocked_payload, friend_payload, friends_of
from friends.services import block_create, block_delete, friendship_create, friendship_delete


@api_view("GET")
def friend_list(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    friends = friends_of(user=user)
    status = statuses(friends)
    return 200, {"friends": [friend_payload(f, status[f.pk]) for f in friends]}


@api_view("POST")
def add_friend(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    tag = body.get("friendUserTag")
    if not isinstance(tag, str):
        raise Invalid(_("friendUserTag must be a string."))
    friend = friendship_create(user=user, friend_tag=tag, address=request.META.get("REMOTE_ADDR"))
    return 201, {"friendUserTag": friend.user_tag, "friendName": friend.display_name, "friendId": str(friend.pk)}


@api_view("POST")
def delete_friend(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    friend_id = parse_id(body.get("friendId"), "friendId")
    friendship_delete(user=user, friend_id=friend_id)
    return 200, {"friendId": str(friend_id)}


@api_view("POST")
def block(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    other = block_create(user=user, other_id=body.get("userId"))
    return 200, {"userId": str(other.pk)}


@api_view("POST")
def unblock(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    other_id = block_delete(user=user, other_id=body.get("userId"))
    return 200, {"userId": str(other_id)}


@api_view("GET")
def blocked(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    return 200, {"blocked": [blocked_payload(other) for other in blocked_by(user=user)]}
