"""ASGI middleware for /ws/: who is connecting, and from which site."""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host

from accounts.tokens import user_from_bearer
from chatty.dbcalls import hot_db_call
from chatty.wire import SERVER_SEND

_SCHEME_FOR_WS = {"ws": "http", "wss": "https"}

# On the database threads: asgiref's default is one thread for every sync call, and a storm
# of connects queued behind it.
_user_from_bearer = hot_db_call(user_from_bearer)


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def origin_allowed(scope: dict) -> bool:
    """No Origin (a non-browser client) is fine; otherwise it must be this very site.

    Same site means the Origin's scheme, host and port equal the ones the browser
    connected to (the Host header, on an allowed host), or the Origin is one of
    CSRF_TRUSTED_ORIGINS (for deployments behind a proxy that changes the scheme).
    """
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    origin = origin.strip()
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    try:
        parts = urlsplit(origin)
        origin_port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = _header(scope, b"host") or ""
    try:
        host_parts = urlsplit(f"//{host}")
        host_port = host_parts.port
    except ValueError:
        return False
    scheme = _SCHEME_FOR_WS.get(scope.get("scheme", "ws"), "http")
    default = {"http": 80, "https": 443}
    if parts.scheme != scheme:
        return False
    if (origin_port or default[parts.scheme]) != (host_port or default[scheme]):
        return False
    hostname = parts.hostname.lower()
    if hostname != (host_parts.hostname or "").lower():
        return False
    allowed = settings.ALLOWED_HOSTS
    return validate_host(hostname, allowed) or validate_host(f"[{hostname}]", allowed)


class OriginCheck:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)


class BearerAuth:
    """A bearer header decides alone; otherwise the session (AuthMiddlewareStack) does."""

    def __init__(self, app) -> None:
        self.app = app
        self.session_app = AuthMiddlewareStack(app)

    async def __call__(self, scope, receive, send):
        header = _header(scope, b"authorization")
        if header is None:
            return await self.session_app(dict(scope, **{SERVER_SEND: send}), receive, send)
        scheme, _, token = header.partition(" ")
        user = None
        if scheme.lower() == "bearer" and token.strip():
            user = await _user_from_bearer(token.strip())
        # `bearer_token`: the token this socket was opened with, for its periodic re-check
        # (accounts.sessions.connection_still_valid(..., token=scope["bearer_token"])).
        scope = dict(scope, user=user or AnonymousUser(), session=None, bearer_token=token.strip() if user else None)
        return await self.app(scope, receive, send)


def websocket_stack(app):
    return OriginCheck(BearerAuth(app))
