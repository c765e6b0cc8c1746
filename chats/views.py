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
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.services import user_rename
from chats.forms import AddFriendForm, AddMembersForm, MessageForm, NameForm, NewChatForm, RenameForm, SendForm
from chats.models import ChatRoom
from chats.pages import addable_friends, read_state, room_context, room_page_context, search_context, shell_context
from chats.selectors import read_positions, room_for_member
from chats.services import (
    message_edit,
    message_remove,
    message_send,
    read_mark,
    room_add_members,
    room_create,
    room_leave,
    room_mute,
    room_rename,
)
from chatty import limits
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


def _message_error(exc: ChattyError) -> str:
    """A send, edit or delete refused, in words for the page."""
    if isinstance(exc, TooLong):
        return _("A message holds at most 4000 characters.")
    if exc.code == "not_found":
        return _("That message is gone.")
    if exc.code == "invalid":
        return _("The message is empty.")
    return str(exc.detail)


def _form_error(form) -> str:
    return next(iter(form.errors.values()))[0]


def _back_to_room(room_id: int, anchor: str = "composer") -> HttpResponse:
    return redirect(reverse("room", args=[room_id]) + f"#{anchor}")


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "chats/dashboard.html", shell_context(user=request.user))


@login_required
@require_GET
def room(request: HttpRequest, room_id: int) -> HttpResponse:
    chat = _member_room(request, room_id)
    positions = read_positions(room_id=chat.pk)  # as they were before this visit reads the room
    read_mark(user=request.user, room_id=chat.pk)  # opening a room reads it
    # ?around=<message id>: the history around that message (a search result to jump to).
    around = _int_param(request, "around")
    context = room_page_context(user=request.user, room=chat, around=around)
    context["read_state"] = read_state(
        user=request.user, room=chat, positions=positions, participants=context["participants"]
    )
    return render(request, "chats/room.html", context)


def _int_param(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


@login_required
@require_GET
@vary_on_headers("HX-Request")
def history_page(request: HttpRequest, room_id: int) -> HttpResponse:
    """Older messages, for scrolling up (htmx) or the "older messages" link (no JavaScript);
    with `after`, newer ones, for scrolling down from a message jumped to."""
    chat = _member_room(request, room_id)
    try:
        before = int(request.GET.get("before", ""))
    except ValueError:
        before = None
    after = _int_param(request, "after")
    context = room_context(user=request.user, room=chat, before=before, after=after)
    if request.htmx:
        template = "chats/partials/newer_page.html" if after is not None else "chats/partials/history_page.html"
        return render(request, template, context)
    return render(
        request, "chats/room.html", room_page_context(user=request.user, room=chat, before=before, after=after)
    )


@login_required
@require_GET
@vary_on_headers("HX-Request")
def search(request: HttpRequest) -> HttpResponse:
    """SPEC §10 search as a page: the results region (htmx), its next page ("More"), or a
    whole page (no JavaScript). `chatId` searches one room."""
    try:
        context = search_context(user=request.user, params=request.GET)
    except (NotFound, NotParticipant):
        raise Http404 from None
    if request.htmx:
        more = "before" in request.GET and not context["error"]
        template = "chats/partials/search_more.html" if more else "chats/partials/search_results.html"
        return render(request, template, context)
    return render(request, "chats/search.html", shell_context(user=request.user) | context | {"search_page": True})


@login_required
@require_POST
def send(request: HttpRequest, room_id: int) -> HttpResponse:
    chat = _member_room(request, room_id)
    form = SendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form))
        return _back_to_room(chat.pk)
    try:
        limits.hit("sendMessage", request.user.pk)  # the socket's budget, on every path
        message_send(
            sender=request.user,
            room_id=chat.pk,
            text=form.cleaned_data["message"],
            client_id=form.cleaned_data["clientId"] or None,
            reply_to_id=form.cleaned_data["replyToId"],
        )
    except ChattyError as exc:
        messages.error(request, _message_error(exc))
    return _back_to_room(chat.pk)


@login_required
@require_POST
def edit_message(request: HttpRequest, room_id: int, message_id: int) -> HttpResponse:
    chat = _member_room(request, room_id)
    form = MessageForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form))
        return _back_to_room(chat.pk, f"msg-{message_id}")
    try:
        message_edit(user=request.user, message_id=message_id, text=form.cleaned_data["message"], room_id=chat.pk)
    except ChattyError as exc:
        messages.error(request, _message_error(exc))
    return _back_to_room(chat.pk, f"msg-{message_id}")


@login_required
@require_POST
def delete_message(request: HttpRequest, room_id: int, message_id: int) -> HttpResponse:
    chat = _member_room(request, room_id)
    try:
        message_remove(user=request.user, message_id=message_id, room_id=chat.pk)
    except ChattyError as exc:
        messages.error(request, _message_error(exc))
    return _back_to_room(chat.pk, "messages")


@login_required
@require_POST
def leave(request: HttpRequest, room_id: int) -> HttpResponse:
    chat = _member_room(request, room_id)
    try:
        room_leave(user=request.user, room_id=chat.pk)
    except ChattyError:
        messages.error(request, _("Only a group chat can be left."))
        return _back_to_room(chat.pk)
    messages.success(request, _("You left the chat."))
    return redirect("dashboard")


@login_required
@require_POST
def mute(request: HttpRequest, room_id: int) -> HttpResponse:
    """The mute toggle without JavaScript (with it, POST /api/chat/mute)."""
    chat = _member_room(request, room_id)
    muted = request.POST.get("muted") == "1"
    room_mute(user=request.user, room_id=chat.pk, muted=muted)
    messages.success(request, _("This chat is muted.") if muted else _("This chat is no longer muted."))
    return _back_to_room(chat.pk, "room-title")


@login_required
@require_POST
@vary_on_headers("HX-Request")
def add_friend(request: HttpRequest) -> HttpResponse:
    form = AddFriendForm(request.POST)
    tag = request.POST.get("friendUserTag", "")
    error = None
    friend = None
    try:
        if not form.is_valid():
            raise Invalid(_form_error(form))
        tag = form.cleaned_data["friendUserTag"]
        if tag.strip().lower() == request.user.user_tag.lower():
            raise Invalid(_("That is your own user tag."))
        friend = friendship_create(user=request.user, friend_tag=tag, address=request.META.get("REMOTE_ADDR"))
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
    form = NewChatForm(request.POST)
    try:
        if not form.is_valid():
            raise Invalid(_form_error(form))
        chat, _created = room_create(creator=request.user, friend_ids=form.cleaned_data["friendIds"])
    except ChattyError:
        messages.error(request, _("Pick at least one friend."))
        return redirect("dashboard")
    url = reverse("room", args=[chat.pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


# --- a group's settings (SPEC §9): the dialog's forms, and a page for them without JavaScript


def _member_group(request: HttpRequest, room_id: int) -> ChatRoom:
    chat = _member_room(request, room_id)
    if chat.kind != ChatRoom.GROUP:
        raise Http404
    return chat


def _group_answer(request: HttpRequest, chat: ChatRoom, result_id: str, error: str | None, ok: str) -> HttpResponse:
    """htmx: the form's result line (422 on an error), and the fresh list of friends to add.
    Without JavaScript: a flash message on the room's page."""
    if request.htmx:
        context = {"addable": addable_friends(user=request.user, room=chat), "result_id": result_id}
        context |= {"error": error, "ok": ok}
        return render(request, "chats/partials/group_result.html", context, status=200 if error is None else 422)
    if error:
        messages.error(request, error)
        return redirect("room-settings", chat.pk)
    messages.success(request, ok)
    return _back_to_room(chat.pk, "room-title")


@login_required
@require_GET
@vary_on_headers("HX-Request")
def group_settings(request: HttpRequest, room_id: int) -> HttpResponse:
    """The group settings dialog's content as a page (no JavaScript), or (htmx) the fresh list
    of friends who could be added, each time the dialog opens."""
    chat = _member_group(request, room_id)
    if request.htmx:
        context = {"addable": addable_friends(user=request.user, room=chat)}
        return render(request, "chats/partials/add_members_list.html", context)
    return render(request, "chats/group_settings.html", room_page_context(user=request.user, room=chat))


@login_required
@require_POST
@vary_on_headers("HX-Request")
def rename_group(request: HttpRequest, room_id: int) -> HttpResponse:
    chat = _member_group(request, room_id)
    form = RenameForm(request.POST)
    error = None
    title = ""
    if form.is_valid():
        try:
            title = (
                room_rename(user=request.user, room_id=chat.pk, title=form.cleaned_data["title"])["customTitle"] or ""
            )
        except ChattyError:
            error = _("The group name could not be saved.")
    else:
        error = _form_error(form)
    ok = (
        _("The group is now called %(title)s.") % {"title": title}
        if title
        else _("The group is named after its members again.")
    )
    return _group_answer(request, chat, "rename-result", error, ok)


@login_required
@require_POST
@vary_on_headers("HX-Request")
def add_members(request: HttpRequest, room_id: int) -> HttpResponse:
    chat = _member_group(request, room_id)
    form = AddMembersForm(request.POST)
    error = None
    if form.is_valid():
        try:
            room_add_members(user=request.user, room_id=chat.pk, friend_ids=form.cleaned_data["friendIds"])
        except ChattyError:
            error = _("Only friends who are not in the group yet can be added.")
    else:
        error = _form_error(form)
    return _group_answer(request, chat, "add-result", error, _("Added to the group."))


@login_required
@require_POST
def set_name(request: HttpRequest) -> HttpResponse:
    """The display name form without JavaScript (with it, PATCH /api/user)."""
    form = NameForm(request.POST)
    if form.is_valid():
        try:
            user_rename(user=request.user, name=form.cleaned_data["name"])
            messages.success(request, _("Your name is saved."))
        except ChattyError:
            messages.error(request, _("A name holds 1 to 50 characters."))
    else:
        messages.error(request, _form_error(form))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("settings")
    return redirect(target)
