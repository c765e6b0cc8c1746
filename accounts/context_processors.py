from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from accounts.providers import configured_providers


def sign_in(request: HttpRequest) -> dict:
    return {
        "social_only": settings.CHATTY_SOCIAL_ONLY,
        "sign_in_providers": configured_providers(),
    }
