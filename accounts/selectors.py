from __future__ import annotations

from typing import Any

from accounts.models import User


def user_payload(user: User, status: str) -> dict[str, Any]:
    """SPEC §3 `<user>`."""
    return {
        "id": str(user.pk),
        "name": user.display_name,
        "picture": user.picture_url,
        "status": status,
        "userTag": user.user_tag,
    }
