"""allauth adapters: Chatty's sign-up rules and what a provider tells us about a person."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return not settings.CHATTY_SOCIAL_ONLY

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit=False)
        if not user.name:
            user.name = user.username
        if commit:
            user.save()
        return user


def profile_from_provider(provider: str, extra: dict[str, Any]) -> tuple[str, str]:
    """(name, picture) as each provider reports them at sign-in."""
    if provider == "github":
        return (extra.get("name") or extra.get("login") or ""), (extra.get("avatar_url") or "")
    if provider == "google":
        return (extra.get("name") or ""), (extra.get("picture") or "")
    return (extra.get("name") or ""), ""


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return True

    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict) -> Any:
        user = super().populate_user(request, sociallogin, data)
        name, picture = profile_from_provider(sociallogin.account.provider, sociallogin.account.extra_data)
        user.name = (name or user.username or "")[:150]
        user.picture = picture[:500]
        return user
