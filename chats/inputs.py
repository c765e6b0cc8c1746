"""Parse wire input (JSON bodies, websocket frames, forms) into the typed values services take.

Both edges (the JSON API and the websocket frames) call these, so a field is refused alike
wherever it comes from.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from chats.models import MAX_CLIENT_ID_LENGTH, MAX_EMOJI_LENGTH, MAX_MESSAGE_LENGTH, MAX_TITLE_LENGTH
from chatty.errors import Invalid, TooLong, is_storable_text, parse_id

__all__ = [
    "clean_client_id",
    "clean_emoji",
    "clean_text",
    "clean_title",
    "parse_bool",
    "parse_id",
    "parse_ids",
]

# Letters, digits, spaces, controls, unassigned and private-use code points are no emoji.
_NOT_EMOJI_CATEGORIES = ("L", "N", "Z", "Cc", "Cs", "Co", "Cn")


def clean_text(text: Any, *, allow_empty: bool = False) -> str:
    """A message's text (SPEC §2): 1 to 4,000 characters after trimming; kept as typed.
    `allow_empty`: a message with attachments may have no text (SPEC §10)."""
    if allow_empty and text is None:
        text = ""
    if not isinstance(text, str):
        raise Invalid("message must be a string.")
    trimmed = text.strip()
    if not trimmed and not allow_empty:
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


def clean_emoji(emoji: Any) -> str:
    """One emoji: 1 to 16 characters (skin tones and joiners included), no letters or digits."""
    if not isinstance(emoji, str) or not 1 <= len(emoji) <= MAX_EMOJI_LENGTH or not is_storable_text(emoji):
        raise Invalid(f"emoji must be one emoji of 1 to {MAX_EMOJI_LENGTH} characters.")
    categories = [unicodedata.category(ch) for ch in emoji]
    # Every emoji has a pictograph (category So: faces, hearts, flags' regional indicators);
    # the rest may be joiners, variation selectors and skin tones, never letters or digits.
    if any(c.startswith(_NOT_EMOJI_CATEGORIES) for c in categories) or "So" not in categories:
        raise Invalid("emoji must be an emoji, without letters, digits or spaces.")
    return emoji


def clean_title(title: Any) -> str:
    """A group's title: up to 100 characters after trimming; "" goes back to the names."""
    if not isinstance(title, str):
        raise Invalid("title must be a string.")
    if not is_storable_text(title):
        raise Invalid("title holds a NUL character or a lone surrogate.")
    title = title.strip()
    if len(title) > MAX_TITLE_LENGTH:
        raise Invalid(f"title holds at most {MAX_TITLE_LENGTH} characters.")
    return title


def parse_bool(raw: Any, field: str) -> bool:
    if not isinstance(raw, bool):
        raise Invalid(f"{field} must be true or false.")
    return raw


def parse_ids(raw: Any, field: str) -> list[int]:
    """A non-empty list of ids, duplicates dropped, order kept."""
    if not isinstance(raw, list) or not raw:
        raise Invalid(f"{field} must be a non-empty list of ids.")
    return list(dict.fromkeys(parse_id(item, field) for item in raw))
