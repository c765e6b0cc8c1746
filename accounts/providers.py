"""Which sign-in providers have credentials (only those get a button)."""

from __future__ import annotations

from django.conf import settings

PROVIDER_LABELS = {"google": "Google", "github": "GitHub"}


def configured_providers() -> list[dict[str, str]]:
    providers = []
    for provider_id, label in PROVIDER_LABELS.items():
        config = settings.SOCIALACCOUNT_PROVIDERS.get(provider_id, {})
        if config.get("APPS"):
            providers.append({"id": provider_id, "label": label})
    return providers


def is_configured(provider_id: str) -> bool:
    return any(p["id"] == provider_id for p in configured_providers())
