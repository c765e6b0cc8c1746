"""allauth adapters: Chatty's sign-up rules and what a provider tells us about a person."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from accounts.models import is_web_url


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return not settings.CHATTY_SOCIAL_ONLY

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """With CHATTY_SOCIAL_ONLY, local accounts are off: their passwords no longer sign in.

        Hiding the form on /login is not enough, allauth's own login URL still takes a POST.
        Provider sign-ins do not pass through here; the admin site has its own login.
        """
        if settings.CHATTY_SOCIAL_ONLY:
            raise ValidationError(
                _("Signing in with a password is turned off here. Use Google or GitHub instead."),
                code="local_login_disabled",
            )
        super().pre_authenticate(request, **credentials)

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


def email_in_use(email: str) -> bool:
    """Whether any account already has this address (as a login email or a recorded one)."""
    from allauth.account.models import EmailAddress

    from accounts.models import User

    return (
        EmailAddress.objects.filter(email__iexact=email).exists() or User.objects.filter(email__iexact=email).exists()
    )


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return True

    def get_app(self, request: HttpRequest, provider: str, client_id: str | None = None) -> Any:
        """A provider without credentials is a page that does not exist, not a server error."""
        from allauth.socialaccount.models import SocialApp

        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            raise Http404(f"Sign-in with {provider} is not configured.") from None

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        """A new provider account never takes an address another account already has.

        Local addresses are not verified, so an address match proves nothing about who owns
        the older account: the newcomer is never signed in as it (settings turn email
        authentication off). Left alone, allauth would instead stop the newcomer at a sign-up
        form that reveals the address is taken; Chatty needs no email to work, so the new
        account is simply created without it.
        """
        if sociallogin.is_existing:
            return
        sociallogin.email_addresses = [a for a in sociallogin.email_addresses if not email_in_use(a.email)]
        user = sociallogin.user
        if user is not None and user.email and email_in_use(user.email):
            user.email = ""

    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict) -> Any:
        user = super().populate_user(request, sociallogin, data)
        name, picture = profile_from_provider(sociallogin.account.provider, sociallogin.account.extra_data)
        user.name = (name or user.username or "")[:150]
        user.picture = picture[:500] if is_web_url(picture) else ""
        return user
