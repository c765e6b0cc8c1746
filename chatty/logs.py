"""One log format for every line the server writes (SPEC §11).

With LOG_FORMAT=json each line — Django's, Channels', Chatty's and the ASGI server's access
and error lines — is one JSON object (python-json-logger) with `time`, `level`, `logger`,
`message` and, inside a request or a websocket connection, its `request_id`. The shipped
uvicorn log config (deploy/logging.json, `--log-config`) uses the formatters of this module,
so uvicorn's own lines follow LOG_FORMAT too.

Nothing logs a frame's or a body's content, and the fields are a fixed list: a record's other
attributes (Django attaches the whole request to its `django.request` lines) are dropped,
and paths lose their query string (search words, OAuth codes). So no message text and no
token reaches a log.

This module is imported by uvicorn before Django is set up: it reads no settings at import.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

request_id: ContextVar[str | None] = ContextVar("chatty_request_id", default=None)

# Extra record attributes that may appear in a JSON line (all others are dropped).
SAFE_EXTRAS = ("status_code", "client", "method", "path", "http_version", "event", "user_id", "room_id", "code")
_REQUEST_ID_HEADER = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def new_request_id() -> str:
    return secrets.token_hex(8)


def bind_request_id(value: str | None = None) -> Token:
    """Tag every log line of the current task (and the tasks and threads it starts) with an id."""
    return request_id.set(value or new_request_id())


def _strip_query(path: Any) -> Any:
    return path.split("?", 1)[0] if isinstance(path, str) else path


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per record, with a fixed set of fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        current = request_id.get()
        if current:
            log_data["request_id"] = current
        for key in SAFE_EXTRAS:
            if key in record.__dict__:
                value = record.__dict__[key]
                log_data[key] = _strip_query(value) if key == "path" else value
        log_data.update(self._uvicorn_fields(record))
        for key, name in (("exc_info", "exception"), ("stack_info", "stack")):
            if message_dict.get(key):
                log_data[name] = message_dict[key]

    def _uvicorn_fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """uvicorn's access and websocket lines as fields, their paths without the query."""
        args = record.args if isinstance(record.args, tuple) else ()
        if record.name == "uvicorn.access" and len(args) == 5:
            client, method, path, version, status = args
            path = _strip_query(path)
            record.message = f'{client} - "{method} {path} HTTP/{version}" {status}'
            return {
                "message": record.message,
                "client": client,
                "method": method,
                "path": path,
                "http_version": version,
                "status_code": status,
            }
        if record.name == "uvicorn.error" and str(record.msg).startswith('%s - "WebSocket %s"') and len(args) >= 2:
            client, path, *rest = args
            path = _strip_query(path)
            outcome = record.msg.rsplit('"', 1)[-1].strip()
            outcome = outcome % tuple(rest) if rest else outcome
            record.message = f'{client} - "WebSocket {path}" {outcome}'
            return {"message": record.message, "client": client, "path": path, "event": f"websocket {outcome}"}
        return {}


class PlainFormatter(logging.Formatter):
    """The plain format, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        current = request_id.get()
        return f"{text} [{current}]" if current else text


def formatter() -> logging.Formatter:
    """The formatter LOG_FORMAT asks for (a logging "()" factory: Django's LOGGING and
    deploy/logging.json both use it)."""
    return JsonFormatter() if os.environ.get("LOG_FORMAT") == "json" else PlainFormatter()


def access_formatter() -> logging.Formatter:
    """uvicorn's access lines: JSON with LOG_FORMAT=json, uvicorn's own format otherwise."""
    if os.environ.get("LOG_FORMAT") == "json":
        return JsonFormatter()
    from uvicorn.logging import AccessFormatter

    return AccessFormatter('%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)


def error_formatter() -> logging.Formatter:
    if os.environ.get("LOG_FORMAT") == "json":
        return JsonFormatter()
    from uvicorn.logging import DefaultFormatter

    return DefaultFormatter("%(levelprefix)s %(message)s", use_colors=False)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class RequestIdMiddleware:
    """ASGI middleware, outermost: one id per HTTP request or websocket connection.

    The id is the client's `X-Request-ID` when it looks like one (a proxy's), else a new one;
    it tags every log line written while the request or connection is served, the ASGI
    server's access line included, and goes back in the answer's `X-Request-ID`.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        value = sent if _REQUEST_ID_HEADER.match(sent) else new_request_id()
        token = bind_request_id(value)
        scope["chatty_request_id"] = value

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            # A websocket's sends pass untouched: a wrapper there would run for every frame
            # written to every socket (5.5 % of a busy server's CPU).
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            request_id.reset(token)
