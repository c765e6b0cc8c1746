"""Message search (SPEC §10): every word of the query, anywhere in the text, in the rooms the
user is in now, newest first.

A word matches inside a longer word (Korean attaches particles: `회의` finds `내일회의는`), so
this is substring search, not word-stem full-text search. The index that serves it is built by
migration 0010_search_index:

- PostgreSQL: a pg_trgm GIN index on UPPER(text), which is what Django's `icontains` compares
  (`UPPER(text) LIKE UPPER('%word%')`). A trigram index holds three-character pieces, so a word
  of one or two characters gets nothing from it: such words only filter the rows that the
  longer words (or the rooms) select.
- SQLite: an FTS5 table with the trigram tokenizer, kept by triggers (external content, so the
  text is stored once). Words of three characters or more are one MATCH of quoted phrases
  (FTS5 folds case for the whole of Unicode); shorter ones are a LIKE on the message row
  (SQLite folds ASCII letters only; Korean has no case).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils.html import escape, format_html
from django.utils.translation import gettext as _

from chats.models import ChatRoom, Message, Participant
from chats.selectors import MESSAGE_RELATED, _members_by_room, message_payloads, room_title
from chatty.errors import Invalid, NotFound, NotParticipant, parse_id

MAX_QUERY_LENGTH = 200
SEARCH_DEFAULT_LIMIT = 20
SEARCH_MAX_LIMIT = 50
# A trigram index (pg_trgm, FTS5's trigram tokenizer) only serves words of this many characters.
TRIGRAM = 3
# PostgreSQL's indexed expression (migration 0010): every character three times, so that a
# word of one or two characters has trigrams too ("회의" -> "회회회의의의").
TRIPLED_TEXT = "regexp_replace(UPPER(text), '(.)', '\\1\\1\\1', 'g')"
# PostgreSQL looks for matches among this many newest messages first.
RECENT_WINDOW = 10_000
SQLITE_FTS_TABLE = "chats_message_fts"
# A bulk load of at least this many messages builds the index once at the end instead.
BULK_LOAD_ROWS = 100_000
# Characters of context the snippet keeps before the first match, and its whole length.
SNIPPET_BEFORE = 40
SNIPPET_LENGTH = 160


@dataclass(frozen=True, slots=True)
class SearchQuery:
    words: tuple[str, ...]
    room_id: int | None
    before: int | None
    limit: int


def parse_search(params: Any) -> SearchQuery:
    """The query string of GET /api/chat/search as typed values; Invalid for anything else."""
    q = params.get("q")
    if q is None:
        raise Invalid(_("q is required."))
    if not 1 <= len(q) <= MAX_QUERY_LENGTH:
        raise Invalid(_("q must be 1 to %(max)d characters.") % {"max": MAX_QUERY_LENGTH})
    if "\x00" in q:
        raise Invalid(_("q holds a NUL character."))
    words = split_words(q)
    if not words:
        raise Invalid(_("q must hold at least one word."))
    room_id = parse_id(params["chatId"], "chatId") if "chatId" in params else None
    before = parse_id(params["before"], "before") if "before" in params else None
    limit = SEARCH_DEFAULT_LIMIT
    if "limit" in params:
        raw = params["limit"]
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= SEARCH_MAX_LIMIT:
            raise Invalid(_("limit must be a whole number from 1 to %(max)d.") % {"max": SEARCH_MAX_LIMIT})
        limit = int(raw)
    return SearchQuery(words=words, room_id=room_id, before=before, limit=limit)


def split_words(q: str) -> tuple[str, ...]:
    """The distinct words of a query (split on whitespace; the same word in another case once)."""
    seen: dict[str, str] = {}
    for word in q.split():
        seen.setdefault(word.casefold(), word)
    return tuple(seen.values())


def search_messages(*, user_id: int, query: SearchQuery) -> tuple[list[dict[str, Any]], bool]:
    """SPEC §10 results, newest first, and whether older ones exist. Rooms the user left
    (no Participant row any more) are not searched."""
    if query.room_id is not None:
        _check_member(user_id=user_id, room_id=query.room_id)
    ids = matching_ids(user_id=user_id, query=query)
    has_more = len(ids) > query.limit
    ids = ids[: query.limit]
    messages = sorted(
        Message.objects.filter(id__in=ids).select_related(*MESSAGE_RELATED, "room"), key=lambda m: m.pk, reverse=True
    )
    members = _members_by_room(sorted({m.room_id for m in messages}))
    results = [
        {
            "message": payload,
            "chatroomId": str(m.room_id),
            "chatroomTitle": room_title(
                kind=m.room.kind, members=members[m.room_id], viewer_id=user_id, custom=m.room.title
            ),
            "snippet": snippet(m.text, query.words),
        }
        for m, payload in zip(messages, message_payloads(messages), strict=True)
    ]
    return results, has_more


def _check_member(*, user_id: int, room_id: int) -> None:
    if not ChatRoom.objects.filter(pk=room_id).exists():
        raise NotFound(_("No such chat."))
    if not Participant.objects.filter(room_id=room_id, user_id=user_id).exists():
        raise NotParticipant()


def matching_ids(*, user_id: int, query: SearchQuery) -> list[int]:
    """Ids of the matching messages, newest first: at most `limit + 1` of them."""
    want = query.limit + 1
    if connection.vendor != "postgresql":
        return list(_matches(user_id=user_id, query=query).order_by("-id").values_list("id", flat=True)[:want])
    # First the newest messages (a bounded walk down the primary key): a word that is common in
    # the user's rooms fills the page there, whatever the size of the table. Only when the page
    # is not full does the trigram index look at everything older.
    found, lowest = _recent_matches(user_id=user_id, query=query)
    if len(found) >= want or lowest is None:
        return found[:want]
    older = replace(query, before=lowest)
    rest = _matches(user_id=user_id, query=older).order_by("-id").values_list("id", flat=True)[: want - len(found)]
    return found + list(rest)


def _like(word: str) -> str:
    return f"%{connection.ops.prep_for_like_query(word)}%"


def _recent_matches(*, user_id: int, query: SearchQuery) -> tuple[list[int], int | None]:
    """PostgreSQL: matches among the newest RECENT_WINDOW messages (of the room, or of the whole
    table), newest first, and the lowest id looked at (None when that was all there is)."""
    messages = connection.ops.quote_name(Message._meta.db_table)
    participants = connection.ops.quote_name(Participant._meta.db_table)
    window: list[str] = []
    params: list[Any] = []
    if query.room_id is not None:
        window.append("room_id = %s")
        params.append(query.room_id)
    if query.before is not None:
        window.append("id < %s")
        params.append(query.before)
    where = f"WHERE {' AND '.join(window)}" if window else ""
    bounds = [*params, RECENT_WINDOW]
    params.append(RECENT_WINDOW)
    matches = " AND ".join(["UPPER(text) LIKE UPPER(%s)"] * len(query.words))
    if query.room_id is None:
        # The user's rooms first (CASE keeps the order): most of the window is other rooms'.
        params.append(user_id)
        mine = f"room_id IN (SELECT room_id FROM {participants} WHERE user_id = %s)"  # noqa: S608
        matches = f"CASE WHEN {mine} THEN {matches} ELSE false END"
    params += [_like(w) for w in query.words]
    params.append(query.limit + 1)
    recent = f"SELECT id, room_id, text FROM {messages} {where} ORDER BY id DESC LIMIT %s"  # noqa: S608 (our tables)
    # The walk stops as soon as the page is full: a common word reads a few thousand rows.
    sql = f"SELECT id FROM ({recent}) recent WHERE {matches} ORDER BY id DESC LIMIT %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = [row[0] for row in cursor.fetchall()]
        if len(found) > query.limit:
            return found, None
        # Not full: where the window ended (an index-only walk), for the index to go on from.
        ids = f"SELECT id FROM {messages} {where} ORDER BY id DESC LIMIT %s"  # noqa: S608 (our tables)
        cursor.execute(f"SELECT MIN(id), COUNT(*) FROM ({ids}) window_ids", bounds)  # noqa: S608
        lowest, seen = cursor.fetchone()
    return found, (lowest if seen >= RECENT_WINDOW else None)


# The same for a word (a parameter, escaped for LIKE): PostgreSQL upper-cases and triples it
# itself, so both sides have one case mapping; an escape (`\%`) is tripled as one character.
TRIPLED_PATTERN = r"'%%' || regexp_replace(UPPER(%s), '(\\.|.)', '\1\1\1', 'g') || '%%'"


def _matches(*, user_id: int, query: SearchQuery) -> QuerySet[Message]:
    if query.room_id is not None:
        qs = Message.objects.filter(room_id=query.room_id)
    else:
        qs = Message.objects.filter(room_id__in=Participant.objects.filter(user_id=user_id).values("room_id"))
    if query.before is not None:
        qs = qs.filter(id__lt=query.before)
    words = list(query.words)
    if connection.vendor == "postgresql":
        # The condition the index serves (the expression of migration 0010), for every word:
        # tripled, a word of one or two characters still has whole trigrams.
        for word in words:
            like = connection.ops.prep_for_like_query(word)
            qs = qs.extra(where=[f"{TRIPLED_TEXT} LIKE {TRIPLED_PATTERN}"], params=[like])  # noqa: S610 (a parameter)
    long_words = [w for w in words if len(w) >= TRIGRAM]
    if connection.vendor == "sqlite" and long_words:
        # One MATCH of quoted phrases: a trigram phrase is a substring, case folded.
        phrases = " AND ".join('"' + w.replace('"', '""') + '"' for w in long_words)
        table = connection.ops.quote_name(SQLITE_FTS_TABLE)
        messages = connection.ops.quote_name(Message._meta.db_table)
        match = f"{messages}.id IN (SELECT rowid FROM {table} WHERE {table} MATCH %s)"  # noqa: S608 (our tables)
        qs = qs.extra(where=[match], params=[phrases])  # noqa: S610 (the MATCH expression is a parameter)
        words = [w for w in words if len(w) < TRIGRAM]
    # Exactly what was asked (the index conditions above only narrow it down).
    for word in words:
        qs = qs.filter(text__icontains=word)
    return qs


def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first, so that of two overlapping words the longer is marked.
    alternatives = sorted({w.lower(): w for w in words}.values(), key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in alternatives), re.IGNORECASE)


def snippet(text: str, words: tuple[str, ...]) -> str:
    """HTML: the text around the first match, escaped, every match in the window in <mark>."""
    pattern = _pattern(words)
    first = pattern.search(text)
    start = 0 if first is None else max(0, first.start() - SNIPPET_BEFORE)
    if start > 0:
        # Start at a word's beginning when one is near, rather than in the middle of it.
        space = text.rfind(" ", start - 15 if start >= 15 else 0, start)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + SNIPPET_LENGTH)
    if first is not None and end < first.end():
        end = first.end()
    window = text[start:end]
    parts = ["…" if start > 0 else ""]
    position = 0
    for match in pattern.finditer(window):
        parts.append(escape(window[position : match.start()]))
        parts.append(format_html("<mark>{}</mark>", match.group()))
        position = match.end()
    parts.append(escape(window[position:]))
    parts.append("…" if end < len(text) else "")
    return "".join(parts)


# The index's pieces as migration 0010 made them, for search_index_paused to take down and
# put back (a migration's own module is not imported by the app).
_PG_INDEX = (
    f"CREATE INDEX IF NOT EXISTS chats_message_text_trgm ON chats_message USING gin ({TRIPLED_TEXT} gin_trgm_ops)"
)
_SQLITE_INSERT_TRIGGER = (
    f"CREATE TRIGGER IF NOT EXISTS {SQLITE_FTS_TABLE}_insert AFTER INSERT ON chats_message BEGIN"  # noqa: S608
    f" INSERT INTO {SQLITE_FTS_TABLE}(rowid, text) VALUES (new.id, new.text);"
    " END"
)


@contextlib.contextmanager
def search_index_paused(*, rows: int) -> Iterator[None]:
    """For a bulk load of `rows` messages (seed_demo) inside a transaction: from
    BULK_LOAD_ROWS on, the search index is built once after the load rather than row by row
    (SQLite's FTS5 trigger made a million inserts 20 times slower; PostgreSQL builds a GIN
    index from scratch faster than it grows one). Holds the table's lock until commit."""
    if rows < BULK_LOAD_ROWS or connection.vendor not in ("sqlite", "postgresql"):
        yield
        return
    # Inside a transaction, a failed load takes the DROP back with it.
    assert connection.in_atomic_block, "search_index_paused needs a transaction"
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"DROP TRIGGER IF EXISTS {SQLITE_FTS_TABLE}_insert")
        else:
            cursor.execute("DROP INDEX IF EXISTS chats_message_text_trgm")
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(_SQLITE_INSERT_TRIGGER)
            cursor.execute(f"INSERT INTO {SQLITE_FTS_TABLE}({SQLITE_FTS_TABLE}) VALUES ('rebuild')")  # noqa: S608
        else:
            # CREATE INDEX refuses a table with pending deferred checks (Django's foreign keys
            # are DEFERRABLE INITIALLY DEFERRED): check them now, then defer again.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cursor.execute(_PG_INDEX)
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
