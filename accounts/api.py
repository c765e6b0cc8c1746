"""JSON endpoints of /api/auth and /api/user (SPEC §3)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from accounts.providers import is_configured
from accounts.selectors import user_payload
from accounts.services import sessions_end_all, user_rename
from accounts.tokens import issue_token, token_claims, token_expiry
from chatty.api import api_view, error_response
from chatty.errors import Invalid
from chatty.live import status_of


@api_view("GET", auth=False)
def provider_redirect(request: HttpRequest, user: Any, body: dict, provider: str) -> HttpResponse:
    """Start a sign-in at the provider through allauth (state in the session, PKCE)."""
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    if not is_configured(provider):
        return error_response(404, detail=_("Sign-in with %(provider)s is not configured.") % {"provider": provider})
    from allauth.socialaccount.adapter import get_adapter

    provider_obj = get_adapter().get_provider(request, provider)
    return provider_obj.redirect(request, process="login", next_url=settings.LOGIN_REDIRECT_URL)


@api_view("GET")
def check_auth(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    return 200, {"authenticated": True, "user": user_payload(user, status_of(user))}


@api_view("POST")
def logout_view(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    # Ending the session (its row is deleted) closes its sockets: accounts/signals.py.
    logout(request)
    return 200, {"ok": True}


@api_view("POST")
def logout_everywhere(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    """Every session and token of the user ends; every socket of the user closes."""
    ended = sessions_end_all(user=user)
    logout(request)
    return 200, {"ok": True, "sessionsEnded": ended}


@api_view("POST")
def token(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    minutes = body.get("minutes", settings.API_TOKEN_DEFAULT_MINUTES)
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise Invalid(_("minutes must be a whole number."))
    if not 1 <= minutes <= settings.API_TOKEN_MAX_MINUTES:
        raise Invalid(_("minutes must be between 1 and %(max)d.") % {"max": settings.API_TOKEN_MAX_MINUTES})
    # A token may mint another, but never one that outlives it.
    bearer = getattr(request, "_chatty_bearer_token", None)
    claims = token_claims(bearer) if bearer else None
    not_after = token_expiry(claims) if claims else None
    value, expires_at = issue_token(user=user, minutes=minutes, not_after=not_after)
    return 201, {"token": value, "expiresAt": int(expires_at.timestamp() * 1000)}


@api_view("GET", "PATCH")
def me(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    if request.method == "PATCH":
        if "name" not in body:
            raise Invalid("name is required.")
        user = user_rename(user=user, name=body["name"])
    return 200, user_payload(user, status_of(user))
