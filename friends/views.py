"""The plain forms of the blocked list in settings (they work without JavaScript)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chatty.errors import ChattyError
from friends.services import block_create, block_delete


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("dashboard")


@login_required
@require_POST
def block(request: HttpRequest) -> HttpResponse:
    try:
        other = block_create(user=request.user, other_id=request.POST.get("userId"))
    except ChattyError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("%(name)s is blocked.") % {"name": other.display_name})
    return _back(request)


@login_required
@require_POST
def unblock(request: HttpRequest) -> HttpResponse:
    try:
        block_delete(user=request.user, other_id=request.POST.get("userId"))
    except ChattyError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Unblocked."))
    return _back(request)
