"""Wire input made into typed values, shared by every edge (frames, API, forms)."""

from __future__ import annotations

from typing import Any

from chats.models import MAX_CLIENT_ID_LENGTH, MAX_MESSAGE_LENGTH
from chatty.errors import Invalid, TooLong, is_storable_text


def clean_text(text: Any) -> str:
    if not isinstance(text, str):
        raise Invalid("message must be a string.")
    trimmed = text.strip()
    if not trimmed:
        raise Invalid("The message is empty.")
    if not is_storable_text(text):
        raise Invalid("The message holds a NUL character or a lone surrogate.")
    if len(trimmed) > MAX_MESSAGE_LENGTH:
        raise TooLong(f"A message holds at most {MAX_MESSAGE_LENGTH} characters.")
    return text


def clean_client_id(client_id: Any) -> str | None:
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= MAX_CLIENT_ID_LENGTH:
        raise Invalid(f"clientId must be a string of 1 to {MAX_CLIENT_ID_LENGTH} characters.")
    if not is_storable_text(client_id):
        raise Invalid("clientId holds a NUL character or a lone surrogate.")
    return client_id


def message_text(raw: Any) -> str:
    """A message's text from a frame or a request: as typed, checked (SPEC §2)."""
    return clean_text(raw)


def client_id(raw: Any) -> str | None:
    return clean_client_id(raw)
