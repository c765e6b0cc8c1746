"""The status menu as a plain form and the settings page, for pages without JavaScript (with
it, the socket's `changeStatus` frame and the settings dialog do the same)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from chats.pages import shell_context
from chatty.errors import ChattyError
from presence import services


@login_required
@require_POST
def set_status(request: HttpRequest) -> HttpResponse:
    """The status menu without JavaScript (with it, the socket's changeStatus is used)."""
    try:
        services.status_change_sync(user=request.user, status=request.POST.get("status", ""))
    except ChattyError as exc:
        messages.error(request, str(exc.detail))
        return redirect("dashboard")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("dashboard")
    return redirect(target)


@login_required
@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    """Settings as a page of their own: what the settings dialog holds, reachable without JavaScript."""
    return render(request, "chats/settings.html", shell_context(user=request.user) | {"settings_page": True})
