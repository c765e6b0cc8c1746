"""User tags: readable (`minsu#482130`), unique regardless of case by a database constraint.

Six digits: a name's base has a million tags, so guessing one by add-friend look-ups, which
are rate-limited (chatty/limits.py), takes years per account and months per address.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from anyascii import anyascii
from django.db import IntegrityError, transaction

if TYPE_CHECKING:
    from accounts.models import User

TAG_BASE_MAX = 12
TAG_DIGITS = 6
MAX_ATTEMPTS = 20
TAG_CONSTRAINT = "accounts_user_tag_ci_unique"


def is_tag_collision(exc: IntegrityError) -> bool:
    """Whether the database refused a row because its tag is taken (and nothing else).

    PostgreSQL names the constraint in the error's diagnostics; its message also quotes the
    offending values (a username may contain anything), so the message is not looked at
    when the name is known. SQLite's message names only the index.
    """
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint:
        return constraint == TAG_CONSTRAINT
    return TAG_CONSTRAINT in str(exc)


def tag_base(text: str) -> str:
    """ASCII letters and digits of a name, lower-cased: easy to read aloud and to type.

    Other scripts are romanised (anyascii: 민수 -> minsu, Дмитрий -> dmitriy), so a tag reads
    like its owner's name in every script a keyboard anywhere can type.
    """
    ascii_text = anyascii(text)
    base = re.sub(r"[^a-z0-9]", "", ascii_text.lower())[:TAG_BASE_MAX]
    return base or "user"


def new_tag(base: str) -> str:
    return f"{base}#{secrets.randbelow(10**TAG_DIGITS):0{TAG_DIGITS}d}"


def save_with_new_tag(user: User, *args, **kwargs) -> None:
    """Insert `user` with a fresh tag, trying another one if the database reports a collision.

    Each try runs in a savepoint so that a collision inside a caller's transaction can be
    retried; two concurrent creations with the same name both succeed with different tags.
    """
    from accounts.models import User

    base = tag_base(user.name or user.username)
    for _ in range(MAX_ATTEMPTS):
        user.user_tag = new_tag(base)
        try:
            with transaction.atomic():
                super(User, user).save(*args, **kwargs)
            return
        except IntegrityError as exc:
            if not is_tag_collision(exc):
                user.user_tag = ""
                raise
            user.pk = None
            user._state.adding = True
    user.user_tag = ""
    raise IntegrityError("Could not find a free user tag.")
