"""Domain errors shared by every edge.

Services raise these; the JSON API, the websocket consumer and the pages each translate
them into their own answer (SPEC §3 error shape, SPEC §4 error frame, a form error).
"""

from __future__ import annotations


class ChattyError(Exception):
    code = "invalid"
    status = 400
    default_detail = "The request is not valid."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class Invalid(ChattyError):
    code = "invalid"
    status = 400


class Unauthenticated(ChattyError):
    code = "unauthenticated"
    status = 401
    default_detail = "Sign in first."


class NotParticipant(ChattyError):
    code = "not_participant"
    status = 403
    default_detail = "You are not a participant of this chat."


class Forbidden(ChattyError):
    code = "forbidden"
    status = 403
    default_detail = "You may not do that."


class NotFound(ChattyError):
    code = "not_found"
    status = 404
    default_detail = "Not found."


class Conflict(ChattyError):
    code = "conflict"
    status = 409
    default_detail = "That already exists."


class TooLong(ChattyError):
    code = "too_long"
    status = 400
    default_detail = "The message is too long."


class RateLimited(ChattyError):
    code = "rate_limited"
    status = 429
    default_detail = "Too many requests; slow down."
