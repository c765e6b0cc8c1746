"""Sign-in pages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/landing.html")


def login_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    from allauth.account.forms import LoginForm

    return render(
        request,
        "accounts/login.html",
        {"form": LoginForm(request=request), "next": request.GET.get("next", "")},
    )
