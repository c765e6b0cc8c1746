"""Pages of the signed-in app, and the plain forms that work without JavaScript.

Every form has a real `action`, so reading and sending work with JavaScript off; with
JavaScript on, htmx and the websocket take over the same forms.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from chats.pages import room_context, shell_context
from chats.selectors import room_for_member
from chats.services import message_send, read_mark, room_create
from chatty.errors import ChattyError, Invalid, NotFound, NotParticipant, TooLong
from chatty.live import status_of
from friends.selectors import friend_payload
from friends.services import friendship_create


def _member_room(request: HttpRequest, room_id: int):
    try:
        return room_for_member(user_id=request.user.pk, room_id=room_id)
    except (NotFound, NotParticipant):
        raise Http404 from None


def _error_text(exc: ChattyError) -> str:
    if isinstance(exc, TooLong):
        return _("A message holds at most 4000 characters.")
    if exc.code == "not_found":
        return _("No one has that user tag.")
    if exc.code == "conflict":
        return _("You are already friends.")
    return str(exc.detail)


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "chats/dashboard.html", shell_context(user=request.user))


@login_required
@require_GET
def room(request: HttpRequest, room_id: int) -> HttpResponse:
    chat = _member_room(request, room_id)
    read_mark(user=request.user, room_id=chat.pk)  # opening a room reads it
    context = shell_context(user=request.user) | room_context(user=request.user, room=chat)
    return render(request, "chats/room.html", context)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def history_page(request: HttpRequest, room_id: int) -> HttpResponse:
    """Older messages, for scrolling up (htmx) or the "older messages" link (no JavaScript)."""
    chat = _member_room(request, room_id)
    try:
        before = int(request.GET.get("before", ""))
    except ValueError:
        before = None
    context = room_context(user=request.user, room=chat, before=before)
    if request.htmx:
        return render(request, "chats/partials/history_page.html", context)
    return render(request, "chats/room.html", shell_context(user=request.user) | context)


@login_required
@require_POST
def send(request: HttpRequest, room_id: int) -> HttpResponse:
    chat = _member_room(request, room_id)
    try:
        message_send(
            sender=request.user,
            room_id=chat.pk,
            text=request.POST.get("message", ""),
            client_id=request.POST.get("clientId") or None,
        )
    except ChattyError as exc:
        messages.error(request, _error_text(exc))
    return redirect(reverse("room", args=[chat.pk]) + "#composer")


@login_required
@require_POST
@vary_on_headers("HX-Request")
def add_friend(request: HttpRequest) -> HttpResponse:
    tag = request.POST.get("friendUserTag", "")
    error = None
    friend = None
    try:
        if tag.strip().lower() == request.user.user_tag.lower():
            raise Invalid(_("That is your own user tag."))
        friend = friendship_create(user=request.user, friend_tag=tag)
    except ChattyError as exc:
        error = _error_text(exc)
    if request.htmx:
        status = 200 if error is None else 422
        context = {"error": error, "friend": friend, "tag": tag if error else ""}
        if friend is not None:
            # The new friend joins this page's own lists too (out of band), as on the other side.
            context["payload"] = friend_payload(friend, status_of(friend))
        return render(request, "chats/partials/add_friend_result.html", context, status=status)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("%(name)s is now your friend.") % {"name": friend.display_name})
    return redirect("dashboard")


@login_required
@require_POST
@vary_on_headers("HX-Request")
def new_chat(request: HttpRequest) -> HttpResponse:
    try:
        chat, _created = room_create(creator=request.user, friend_ids=request.POST.getlist("friendIds"))
    except ChattyError:
        messages.error(request, _("Pick at least one friend."))
        return redirect("dashboard")
    url = reverse("room", args=[chat.pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)
