"""Domain errors shared by every edge.

Services raise these; the JSON API, the websocket consumer and the pages each translate
them into their own answer (SPEC §3 error shape, SPEC §4 error frame, a form error).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class ChattyError(Exception):
    code = "invalid"
    status = 400
    default_detail = _("The request is not valid.")

    def __init__(self, detail: str | None = None) -> None:
        # Made text now, in the language of whoever is being answered (lazy texts otherwise
        # reach json.dumps on the websocket as objects it cannot encode).
        self.detail = str(detail or self.default_detail)
        super().__init__(self.detail)


class Invalid(ChattyError):
    code = "invalid"
    status = 400


class Unauthenticated(ChattyError):
    code = "unauthenticated"
    status = 401
    default_detail = _("Sign in first.")


class NotParticipant(ChattyError):
    code = "not_participant"
    status = 403
    default_detail = _("You are not a participant of this chat.")


class Forbidden(ChattyError):
    code = "forbidden"
    status = 403
    default_detail = _("You may not do that.")


class NotFound(ChattyError):
    code = "not_found"
    status = 404
    default_detail = _("Not found.")


class Conflict(ChattyError):
    code = "conflict"
    status = 409
    default_detail = _("That already exists.")


class TooLong(ChattyError):
    code = "too_long"
    status = 400
    default_detail = _("The message is too long.")


class TooLarge(ChattyError):
    code = "too_large"
    status = 413
    default_detail = "The request body is too large."


class RateLimited(ChattyError):
    code = "rate_limited"
    status = 429
    default_detail = _("Too many requests; slow down.")


MAX_ID = 2**63 - 1  # ids are 64-bit integers in every database Chatty runs on


def parse_id(raw: object, field: str, *, minimum: int = 1) -> int:
    """An id from outside (JSON number or string of ASCII digits); Invalid for anything else.

    Shared by every edge and the services, so `1.5`, `true`, `"1_0"`, `"٣"` or a number
    too big for the database are refused alike instead of reaching a query.
    """
    if isinstance(raw, bool):
        raise Invalid(f"{field} must be an id.")
    if isinstance(raw, str):
        text = raw.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 19:
            raise Invalid(f"{field} must be an id.")
        value = int(text)
    elif isinstance(raw, int):
        value = raw
    else:
        raise Invalid(f"{field} must be an id.")
    if not minimum <= value <= MAX_ID:
        raise Invalid(f"{field} must be an id.")
    return value


def is_storable_text(text: str) -> bool:
    """Whether every database can store this string: no NUL, no lone surrogate.

    JSON allows both (`"\\u0000"`, `"\\ud800"`), Python decodes them, and then PostgreSQL
    refuses NUL while neither SQLite nor PostgreSQL can encode a lone surrogate as UTF-8.
    """
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
