"""Sign-in pages."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from accounts.services import sessions_end_all


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/landing.html")


def login_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    # `next` goes back into the forms as typed; allauth checks it is on this site before
    # redirecting there after sign-in.
    return render(request, "accounts/login.html", {"next": request.GET.get("next", "")})


def account_login(request: HttpRequest) -> HttpResponse:
    """allauth's login URL: its form is posted here, but people read /login, in every mode."""
    if request.method == "GET":
        target = "/login"
        next_url = request.GET.get("next")
        if next_url:
            target += "?" + urlencode({"next": next_url})
        return redirect(target)
    from allauth.account.views import login

    return login(request)


@login_required
@require_POST
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    """The settings' "Log out everywhere" (a plain form): every session, token and socket ends."""
    sessions_end_all(user=request.user)
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)
