"""Hostile websocket frames (SPEC §4): every answer is a typed frame, the socket survives.

Each Hypothesis example opens one socket as Alice, fires a generated list of frames at it and
checks every answer, then proves the socket still works: a valid `sendMessage` is acked and
stored. After each fuzzed frame a sentinel frame of an unknown type is sent; its
`unknown_type` error marks where the answers to the fuzzed frame end (the consumer handles
frames in order), so each frame's own answers are checked: at most one error, with a SPEC
code, `ref` the frame's type (or null) and the frame's `clientId` when it echoes one.

The flood guard is lifted here (`no_rate_limits`); `test_flood_is_rate_limited_then_closed`
checks it on its own. Every frame tried is counted; the last test checks the total.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .wsutil import (
    CLOSE_FLOODING,
    ProtocolViolation,
    communicator,
    open_ready,
    parse_server_text,
    safe_disconnect,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

MAX_FRAME_BYTES = 64 * 1024
FRAMES_TRIED = {"n": 0, "by_test": {}}
UNENCODABLE: list[tuple[str, str]] = []  # (frame sent, answer) pairs a real server cannot encode
CRASHES: list[str] = []  # errors the application logged while handling fuzzed frames
SETTINGS = {
    "deadline": None,
    "database": None,  # nothing written to .hypothesis/ in the repository
    "derandomize": False,
    # No shrinking: a failing storm would be replayed for minutes; the assertion names the frame.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
}
KNOWN_TYPES = [
    "userOnline",
    "changeStatus",
    "connectToRoom",
    "leaveChatroom",
    "sendMessage",
    "markRead",
    "typing",
    # SPEC §9
    "editMessage",
    "deleteMessage",
    "react",
    "markUnread",
]
FIELD_ERRORS = {"invalid", "not_found", "not_participant", "too_long"}


class Ref:
    """A placeholder for an id known only once the test's world exists."""

    def __init__(self, name: str, as_str: bool = False) -> None:
        self.name, self.as_str = name, as_str

    def __repr__(self) -> str:
        return f"<{self.name}{' str' if self.as_str else ''}>"


MISSING = object()


class _Wrapped:
    """A JSON value that is not an object, sent as is."""

    def __init__(self, value: Any) -> None:
        self.value = value


def to_text(frame: Any, refs: dict[str, int]) -> str:
    def resolve(value: Any) -> Any:
        if isinstance(value, Ref):
            return str(refs[value.name]) if value.as_str else refs[value.name]
        raise TypeError(value)

    return json.dumps(frame, default=resolve)


def _parses_as_id(value: Any, minimum: int = 1) -> bool:
    """Whether the consumer could read `value` as an id (such values are not hostile)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | str):
        return False
    try:
        number = int(value)
    except ValueError:
        return False
    return minimum <= number < 2**63


# --- strategies ---------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
# Unpaired only: a high surrogate followed by a low one is a valid pair ("\\ud867\\udf28" is
# one real character), so: low surrogates (never the first of a pair), or one high at the end.
lone_surrogates = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0xDC00, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDBFF),
)


def _hostile_ids(minimum: int) -> st.SearchStrategy:
    return st.one_of(
        st.sampled_from(
            [
                *([], [1], {}, {"id": 1}, 1.5, -1.0, 0.0 if minimum else -1, True, False, None, "abc", "", " "),
                *("1.5", "1e3", "0x10", "-1", "+-1", "NaN", "Infinity", "9" * 30, str(2**63), "\ud800", "1\x00"),
            ]
        ),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=2**63, max_value=2**400),
        st.integers(max_value=minimum - 1, min_value=-(2**100)),
        st.lists(st.integers(), min_size=1, max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
        st.text(max_size=30),
        lone_surrogates,
    ).filter(lambda v: not _parses_as_id(v, minimum))


hostile_room_ids = st.one_of(
    _hostile_ids(1),
    st.sampled_from([Ref("foreign"), Ref("foreign", True), Ref("missing"), Ref("missing", True)]),
)
hostile_after_ids = _hostile_ids(0).filter(lambda v: v is not None)
hostile_messages = st.one_of(
    st.sampled_from(["", " ", "\n\t ", None, 0, 1, True, [], ["hi"], {"text": "hi"}, "\x00", "a\x00b"]),
    st.text(alphabet=" \t\n\r\x0b\x0c", max_size=20),
    st.integers(),
    st.floats(),
    st.lists(st.text(max_size=5), max_size=3),
    st.text(alphabet="abcdefxyz<>&\"'", min_size=4001, max_size=4100),
    st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=10), st.text(max_size=10)),
    st.builds(lambda a, b: a + b, st.text(max_size=5), lone_surrogates),  # "\\ud800": not text
)
hostile_client_ids = st.one_of(
    st.sampled_from(["", {"a": 1}, [], ["c1"], {}, 1.5, True, False, "x" * 65, "c\x00"]),
    st.dictionaries(st.text(max_size=5), json_scalars, min_size=1, max_size=3),
    st.lists(json_scalars, max_size=3),
    st.text(min_size=65, max_size=200),
    st.floats(),
    st.integers(),
    lone_surrogates,
)
hostile_statuses = st.one_of(
    st.sampled_from(["", "offline", "Online", "ONLINE", " online", "away ", "busy", None, 1, [], {}, True]),
    st.text(max_size=20),
    json_values,
).filter(lambda v: v not in ("online", "away"))

valid_message = st.one_of(
    st.text(min_size=1, max_size=300),
    st.text(alphabet=st.characters(categories=["Cc"]), min_size=1, max_size=20).map(lambda s: "ctl" + s),
    st.sampled_from(["\x01\x02\x1b[31mred\x7f", "a\u202eb", "\ufeff\u200bz", "x" * 4000, " " * 10 + "y" * 4000]),
).filter(lambda s: s.strip() and "\x00" not in s)
valid_client_id = st.uuids().map(lambda u: f"fz-{u}")
valid_after = st.sampled_from([MISSING, None, 0, "0", Ref("first"), Ref("first", True), 2**62, str(2**63 - 1)])

# type -> field -> (valid values, hostile values, required)
SCHEMAS: dict[str, dict[str, tuple[st.SearchStrategy, st.SearchStrategy, bool]]] = {
    "changeStatus": {"status": (st.sampled_from(["online", "away"]), hostile_statuses, True)},
    "connectToRoom": {
        "chatroomId": (st.sampled_from([Ref("room"), Ref("room", True)]), hostile_room_ids, True),
        "afterId": (valid_after, hostile_after_ids, False),
    },
    "leaveChatroom": {"chatroomId": (st.sampled_from([Ref("room"), Ref("room", True)]), hostile_room_ids, True)},
    "sendMessage": {
        "chatroomId": (st.sampled_from([Ref("room"), Ref("room", True)]), hostile_room_ids, True),
        "message": (valid_message, hostile_messages, True),
        "clientId": (st.one_of(st.just(MISSING), valid_client_id), hostile_client_ids, False),
    },
    "markRead": {
        "chatroomId": (st.sampled_from([Ref("room"), Ref("room", True)]), hostile_room_ids, True),
        "messageId": (st.sampled_from([0, "0", Ref("first"), Ref("first", True), 2**62]), hostile_after_ids, True),
    },
    "typing": {"chatroomId": (st.sampled_from([Ref("room"), Ref("room", True)]), hostile_room_ids, True)},
}
# Fields a client might send to impersonate someone: ignored by the server (SPEC §4).
spoof_keys = st.sampled_from(["senderId", "userId", "user", "sender", "from", "id", "senderName", "user_id"])
extra_fields = st.dictionaries(
    st.one_of(spoof_keys, st.text(max_size=12)), st.one_of(json_values, st.just(Ref("victim"))), max_size=3
)


@st.composite
def bad_field_frames(draw) -> tuple[Any, set[str]]:
    """A known type with at least one field of the wrong type, value or missing: one error."""
    kind = draw(st.sampled_from(sorted(SCHEMAS)))
    schema = SCHEMAS[kind]
    bad = draw(st.sampled_from(sorted(schema)))
    frame: dict[str, Any] = {}
    for key, value in draw(extra_fields).items():
        if key not in schema and key != "type":
            frame[key] = value
    frame["type"] = kind
    for field, (valid, hostile, required) in schema.items():
        choices = (st.one_of(hostile, st.just(MISSING)) if required else hostile) if field == bad else valid
        value = draw(choices)
        if value is not MISSING:
            frame[field] = value
    return frame, FIELD_ERRORS


@st.composite
def valid_frames(draw) -> tuple[Any, set[str]]:
    """A well-formed frame (with maybe a spoofed user id): never an error."""
    kind = draw(st.sampled_from(["userOnline", *sorted(SCHEMAS)]))
    frame: dict[str, Any] = {}
    for key, value in draw(extra_fields).items():
        if key not in SCHEMAS.get(kind, {}) and key != "type":
            frame[key] = value
    frame["type"] = kind
    for field, (valid, _hostile, _required) in SCHEMAS.get(kind, {}).items():
        value = draw(valid)
        if value is not MISSING:
            frame[field] = value
    return frame, set()


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return True
    return False


broken_json_texts = st.one_of(
    st.text(min_size=1, max_size=200),
    st.sampled_from(
        [
            " ",
            "{",
            "}",
            "{'type': 'typing'}",
            '{"type": "typing",}',
            '{type: "typing"}',
            '{"type": "typing"} // hi',
            '{"type": "typing"}{"type": "typing"}',
            '{"type": "sendMessage", "message": "\\ud800\\"}',
            '{"type": "sendMessage", "chatroomId": ' + "9" * 5000 + "}",  # over Python's int digit limit
            '{"type": "markRead", "messageId": 1' + "0" * 4400 + "}",
            "[" * 50,
            '"unterminated',
            "\ufeff{}",
            "nul\x00",
            "tru",
            "01",
            "-",
            '{"type": "typing", "chatroomId": 1, "chatroomId": }',
            '{"a":' * 200,
        ]
    ),
    st.builds(
        lambda frame, cut: frame[: max(1, min(cut, len(frame) - 1))],
        st.builds(json.dumps, st.dictionaries(st.sampled_from(["type", "chatroomId", "message"]), json_scalars)),
        st.integers(min_value=1, max_value=60),
    ),
    st.builds(
        lambda frame, junk: frame + junk,
        st.builds(json.dumps, st.fixed_dictionaries({"type": st.sampled_from(KNOWN_TYPES)})),
        st.text(alphabet="x,}]{[: \"'", min_size=1, max_size=5).filter(lambda s: s.strip()),
    ),
).filter(_not_json)

not_object_values = st.one_of(
    json_scalars,
    st.lists(json_values, max_size=5),
    st.lists(st.fixed_dictionaries({"type": st.sampled_from(KNOWN_TYPES), "chatroomId": st.just(Ref("room"))})),
    st.builds(json.dumps, st.fixed_dictionaries({"type": st.sampled_from(KNOWN_TYPES)})),  # a string holding JSON
)

unknown_type_frames = st.one_of(
    st.builds(
        lambda t, extra: {**extra, "type": t},
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(["SendMessage", "sendmessage", " sendMessage", "sendMessage ", "logout\x00", "", "error"]),
            st.sampled_from(["ack", "message", "joinedChatroom", "__init__", "frame_typing", "chat.message"]),
            st.sampled_from(["user.deactivated", "session.ended", "websocket.close", "websocket_disconnect"]),
            lone_surrogates,
            st.text(max_size=3).flatmap(lambda s: lone_surrogates.map(lambda x: s + x)),
        ).filter(lambda t: t not in KNOWN_TYPES and t != "logout" and not t.startswith("zz.sentinel")),
        st.dictionaries(st.text(max_size=8).filter(lambda k: k != "type"), json_values, max_size=3),
    ).map(lambda f: (f, {"unknown_type"})),
    st.builds(
        lambda t, extra: {**extra, "type": t},
        st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.lists(json_scalars), st.just({})),
        st.dictionaries(st.text(max_size=8).filter(lambda k: k != "type"), json_values, max_size=3),
    ).map(lambda f: (f, {"invalid", "unknown_type"})),
    st.dictionaries(st.text(max_size=8).filter(lambda k: k != "type"), json_values, max_size=4).map(
        lambda f: (f, {"invalid", "unknown_type"})
    ),
)


# --- the runner ---------------------------------------------------------------------------


DEEP = 200  # nesting beyond which a parser's recursion limit may refuse a frame (`bad_json`)


def _nesting(text: str) -> int:
    """How deep arrays and objects nest in `text` (brackets inside strings not counted)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def expected_refs(payload: str | bytes, error: str) -> set[str | None]:
    """The `ref`s an error may carry: the frame's type when it is an object with a string
    type. A frame nested so deep that the server's JSON parser gives up is `bad_json` with
    no ref; where exactly that happens depends on the server's stack depth, not on us."""
    ref = expected_ref(payload)
    if error == "bad_json" and isinstance(payload, str) and _nesting(payload) > DEEP:
        return {ref, None}
    return {ref}


def expected_ref(payload: str | bytes) -> str | None:
    """`ref` of the error a frame gets: its type when it is an object with a string type."""
    if isinstance(payload, bytes) or len(payload.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        return None
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and isinstance(data.get("type"), str):
        return data["type"]
    return None


class Storm:
    """One socket as one user; `fire` sends a frame and checks every answer to it."""

    def __init__(self, test: str, world: Any, path: str = "/ws/") -> None:
        self.test, self.world, self.path = test, world, path
        self.user = world.alice
        self.token = world.alice_token
        self.refs = {
            "room": world.group.pk,
            "foreign": world.cd.pk,
            "missing": world.missing_room_id,
            "first": world.first_message_id,
            "victim": world.bob.pk,
        }
        self.comm = None
        self.seq = 0
        self.unencodable: list[str] = []

    async def open(self) -> None:
        self.comm = communicator(self.path, token=self.token)
        await open_ready(self.comm)

    async def close(self) -> None:
        if self.comm is not None:
            await safe_disconnect(self.comm)
            self.comm = None

    async def fire(
        self, frame: Any, expect: set[str] | None = None, *, raw: bool = False, allow_close: tuple[int, ...] = ()
    ) -> list[dict[str, Any]]:
        """Send one frame. `expect`: None (anything typed), set() (no error), or the codes of
        the one error it must get. Returns the non-error answers."""
        if raw:
            payload = frame
        elif isinstance(frame, _Wrapped):
            payload = to_text(frame.value, self.refs)
        else:
            payload = to_text(frame, self.refs)
        message = {"type": "websocket.receive"}
        message["bytes" if isinstance(payload, bytes) else "text"] = payload
        await self.comm.send_input(message)
        self.seq += 1
        sentinel = f"zz.sentinel.{self.seq}"
        await self.comm.send_input({"type": "websocket.receive", "text": json.dumps({"type": sentinel})})
        errors: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        closed = None
        while True:
            out = await self.comm.receive_output(timeout=10)
            if out["type"] == "websocket.close":
                closed = out.get("code", 1000)
                break
            if out["type"] != "websocket.send":
                raise ProtocolViolation(f"unexpected ASGI message {out!r:.200}")
            unencodable: list[str] = []
            data = parse_server_text(out.get("text"), unencodable)
            if unencodable:
                UNENCODABLE.append((repr(payload)[:200], unencodable[0]))
                self.unencodable.append(unencodable[0])
            if data is None:
                continue
            if data["type"] == "error" and data.get("ref") == sentinel:
                assert data["error"] == "unknown_type", data
                break
            (errors if data["type"] == "error" else others).append(data)
        FRAMES_TRIED["n"] += 1
        FRAMES_TRIED["by_test"][self.test] = FRAMES_TRIED["by_test"].get(self.test, 0) + 1
        context = f"frame {payload!r:.300} got errors={errors!r:.500} others={others!r:.300}"
        if closed is not None:
            assert closed in allow_close, f"socket closed with {closed}: {context}"
            await self.close()
            await self.open()
            return others
        assert len(errors) <= 1, context
        if expect is not None:
            if expect:
                assert len(errors) == 1 and errors[0]["error"] in expect, f"expected one of {expect}: {context}"
            else:
                assert not errors, f"expected no error: {context}"
        if errors:
            error = errors[0]
            assert error["ref"] in expected_refs(payload, error["error"]), f"wrong ref: {context}"
            if "clientId" in error:
                sent = json.loads(payload)
                assert isinstance(sent, dict) and error["clientId"] == sent.get("clientId"), context
        return others

    async def still_usable(self) -> None:
        """SPEC §4: the connection stays open: a valid message is acked and stored."""
        client_id = f"alive-{uuid.uuid4()}"
        frame = {
            "type": "sendMessage",
            "chatroomId": str(self.world.group.pk),
            "message": "still here",
            "clientId": client_id,
        }
        others = await self.fire(frame, set())
        acks = [f for f in others if f["type"] == "ack"]
        assert len(acks) == 1 and acks[0]["clientId"] == client_id, others
        assert await _stored(self.user.pk, client_id, self.world.group.pk)


@database_sync_to_async
def _stored(sender_id: int, client_id: str, room_id: int) -> bool:
    from chats.models import Message

    return Message.objects.filter(sender_id=sender_id, client_id=client_id, room_id=room_id).exists()


@database_sync_to_async
def _message_count() -> int:
    from chats.models import Message

    return Message.objects.count()


@pytest.fixture
def fuzz_world(world, token_for):
    world.alice_token = token_for(world.alice, minutes=600)
    return world


async def _storm(test: str, world: Any, frames: list[tuple[Any, set[str] | None]], **kw: Any) -> None:
    storm = Storm(test, world, **kw)
    await storm.open()
    try:
        for frame, expect in frames:
            raw = isinstance(frame, str | bytes)
            await storm.fire(frame, expect, raw=raw)
        await storm.still_usable()
    finally:
        await storm.close()


class _Recorder(logging.Handler):
    """Errors the consumer logged: a frame that reached its catch-all (an unexpected
    exception turned into a generic `invalid`), or a publish that failed."""

    def emit(self, record: logging.LogRecord) -> None:
        CRASHES.append(
            f"{record.name}: {record.getMessage()} ({record.exc_info[1]!r})" if record.exc_info else record.getMessage()
        )


@pytest.fixture(autouse=True)
def _record_errors():
    handler = _Recorder(level=logging.ERROR)
    loggers = [logging.getLogger(name) for name in ("edge.consumer", "edge.hub", "chatty.realtime")]
    for logger in loggers:
        logger.addHandler(handler)
    yield
    for logger in loggers:
        logger.removeHandler(handler)


# --- the tests ----------------------------------------------------------------------------


@settings(max_examples=25, **SETTINGS)
@given(texts=st.lists(broken_json_texts, min_size=60, max_size=60))
async def test_broken_json_is_answered_bad_json(fuzz_world, no_rate_limits, texts):
    await _storm("broken_json", fuzz_world, [(t, {"bad_json"}) for t in texts])


@settings(max_examples=15, **SETTINGS)
@given(values=st.lists(not_object_values, min_size=60, max_size=60))
async def test_json_that_is_not_an_object_is_refused(fuzz_world, no_rate_limits, values):
    before = await _message_count()
    await _storm("not_an_object", fuzz_world, [(_Wrapped(v), {"invalid", "bad_json"}) for v in values])
    # An array of frames is not a batch: nothing but the one liveness check was stored.
    assert await _message_count() == before + 1


@settings(max_examples=15, **SETTINGS)
@given(frames=st.lists(unknown_type_frames, min_size=60, max_size=60))
async def test_unknown_or_missing_types_are_refused(fuzz_world, no_rate_limits, frames):
    await _storm("unknown_type", fuzz_world, frames)


@settings(max_examples=40, **SETTINGS)
@given(frames=st.lists(bad_field_frames(), min_size=80, max_size=80))
async def test_wrong_field_types_get_one_typed_error(fuzz_world, no_rate_limits, frames):
    before = await _message_count()
    await _storm("wrong_fields", fuzz_world, frames)
    assert await _message_count() == before + 1  # no bad frame stored anything


binary_payloads = st.one_of(
    st.binary(min_size=1, max_size=500),
    st.builds(lambda f: json.dumps(f).encode(), valid_frames().map(lambda p: _plain(p[0]))),
    st.just(b"\xff\xfe\x00"),
)


def _plain(frame: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.name if isinstance(v, Ref) else v) for k, v in frame.items()}


everything = st.one_of(
    bad_field_frames(),
    valid_frames(),
    valid_frames(),
    broken_json_texts.map(lambda t: (t, {"bad_json"})),
    not_object_values.map(lambda v: (_Wrapped(v), {"invalid", "bad_json"})),
    unknown_type_frames,
    binary_payloads.map(lambda b: (b, {"bad_json", "invalid"})),
    st.builds(lambda f: (f, None), st.dictionaries(st.text(max_size=10), json_values, max_size=5)),
    st.builds(
        lambda t, extra: ({**extra, "type": t}, None),
        st.sampled_from(KNOWN_TYPES),
        st.dictionaries(
            st.sampled_from(["chatroomId", "message", "clientId", "afterId", "messageId", "status"]), json_values
        ),
    ),
)


@settings(max_examples=40, **SETTINGS)
@given(frames=st.lists(everything, min_size=80, max_size=80))
async def test_mixed_storm_keeps_the_socket_usable(fuzz_world, no_rate_limits, frames):
    await _storm("mixed", fuzz_world, frames)


@settings(max_examples=10, **SETTINGS)
@given(payloads=st.lists(binary_payloads, min_size=50, max_size=50))
async def test_binary_frames_are_refused(fuzz_world, no_rate_limits, payloads):
    before = await _message_count()
    await _storm("binary", fuzz_world, [(p, {"bad_json", "invalid"}) for p in payloads])
    assert await _message_count() == before + 1  # a binary frame holding a valid sendMessage stores nothing


@settings(max_examples=10, **SETTINGS)
@given(frames=st.lists(everything, min_size=80, max_size=80))
async def test_ui_socket_survives_the_storm(fuzz_world, no_rate_limits, frames):
    """/ws/ui/ is the same protocol plus HTML fragments rendered from each frame it sends."""
    await _storm("ui_mixed", fuzz_world, frames, path="/ws/ui/")


def _nested(kind: str, depth: int) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    if kind == "field":
        return '{"type":"sendMessage","chatroomId":' + "[" * depth + "]" * depth + ',"message":"x"}'
    return '{"type":"connectToRoom","chatroomId":1,"afterId":' + '{"a":' * depth + "0" + "}" * depth + "}"


@settings(max_examples=15, **SETTINGS)
@given(
    cases=st.lists(
        st.tuples(st.sampled_from(["array", "object", "field", "after"]), st.integers(min_value=1, max_value=32_000)),
        min_size=10,
        max_size=10,
    )
)
async def test_deep_nesting_is_refused(fuzz_world, no_rate_limits, cases):
    frames = [(_nested(kind, depth), {"bad_json", "invalid", "too_long"}) for kind, depth in cases]
    await _storm("deep_nesting", fuzz_world, frames)


async def test_extreme_nesting_and_oversize_frames(fuzz_world, no_rate_limits):
    """100,000 nested arrays (over 64 KiB), the deepest nesting that fits in 64 KiB, and the
    64 KiB boundary: 65,536 bytes are read, 65,537 are refused (`too_long`, ref null)."""
    storm = Storm("oversize", fuzz_world)
    await storm.open()
    try:
        for depth in (100_000, 1_000_000):
            await storm.fire(_nested("array", depth), {"too_long", "bad_json"}, raw=True, allow_close=(1009,))
        await storm.fire(_nested("array", MAX_FRAME_BYTES // 2), {"bad_json", "invalid"}, raw=True)
        await storm.fire(_nested("object", MAX_FRAME_BYTES // 6 - 1), {"bad_json", "invalid"}, raw=True)
        head = '{"type":"'
        exact = head + "x" * (MAX_FRAME_BYTES - len(head) - 2) + '"}'
        assert len(exact.encode()) == MAX_FRAME_BYTES
        errors_ok = await storm.fire(exact, {"unknown_type"}, raw=True)
        assert errors_ok == []
        over = head + "x" * (MAX_FRAME_BYTES - len(head) - 1) + '"}'
        await storm.fire(over, {"too_long"}, raw=True, allow_close=(1009,))
        # Multi-byte characters: few characters, many bytes.
        wide = json.dumps(
            {"type": "sendMessage", "chatroomId": fuzz_world.group.pk, "message": "😀" * 17_000}, ensure_ascii=False
        )
        assert len(wide) < MAX_FRAME_BYTES < len(wide.encode())
        await storm.fire(wide, {"too_long"}, raw=True, allow_close=(1009,))
        big = {"type": "sendMessage", "chatroomId": fuzz_world.group.pk, "message": "a" * 70_000, "clientId": "big"}
        await storm.fire(big, {"too_long"}, allow_close=(1009,))
        await storm.fire(
            b"\x00" * (MAX_FRAME_BYTES + 1), {"too_long", "bad_json", "invalid"}, raw=True, allow_close=(1009,)
        )
        await storm.fire("x" * (4 * MAX_FRAME_BYTES), {"too_long", "bad_json"}, raw=True, allow_close=(1009,))
        await storm.still_usable()
    finally:
        await storm.close()


@settings(max_examples=20, **SETTINGS)
@given(sizes=st.lists(st.integers(min_value=MAX_FRAME_BYTES + 1, max_value=400_000), min_size=4, max_size=4))
async def test_oversize_frames_are_refused(fuzz_world, no_rate_limits, sizes):
    frames = []
    for i, size in enumerate(sizes):
        if i % 2:
            frames.append(({"type": "sendMessage", "chatroomId": Ref("room"), "message": "m" * size}, {"too_long"}))
        else:
            frames.append(("[" * size, {"too_long", "bad_json"}))
    storm = Storm("oversize", fuzz_world)
    await storm.open()
    try:
        before = await _message_count()
        for frame, expect in frames:
            await storm.fire(frame, expect, raw=isinstance(frame, str), allow_close=(1009,))
        await storm.still_usable()
        assert await _message_count() == before + 1
    finally:
        await storm.close()


async def test_lone_surrogates_are_never_sent_back_raw(fuzz_world, no_rate_limits):
    """A JSON escape like "\\ud800" is valid JSON text but decodes to a lone surrogate, which no
    UTF-8 frame can carry: echoing it (as `ref` or `clientId`) makes daphne raise
    UnicodeEncodeError in the send and drop the socket with 1011. Every answer must encode."""
    room = fuzz_world.group.pk
    frames = [
        ('{"type": "\\ud800"}', {"unknown_type"}),
        ('{"type": "typing\\udfff", "chatroomId": 1}', {"unknown_type"}),
        ('{"type": "sendMessage", "chatroomId": ROOM, "message": " ", "clientId": "\\udfff"}', FIELD_ERRORS),
        ('{"type": "sendMessage", "chatroomId": "x", "message": "hi", "clientId": "a\\ud800b"}', FIELD_ERRORS),
        ('{"type": "changeStatus", "status": "\\ud800"}', {"invalid"}),
        ('{"type": "connectToRoom", "chatroomId": "\\ud800"}', {"invalid"}),
        ('{"type": "sendMessage", "chatroomId": ROOM, "message": "hi \\ud800"}', None),
    ]
    storm = Storm("surrogates", fuzz_world)
    await storm.open()
    try:
        for frame, expect in frames:
            await storm.fire(frame.replace("ROOM", str(room)), expect, raw=True)
        await storm.still_usable()
    finally:
        await storm.close()
    assert not storm.unencodable, f"answers a real server cannot send: {storm.unencodable}"


@pytest.mark.timeout(120)
async def test_flood_is_rate_limited_then_closed(fuzz_world):
    """SPEC §4: a flood gets `rate_limited`; a client that keeps on may be closed with 4429.
    No other close code, no crash."""
    comm = communicator(token=fuzz_world.alice_token)
    await open_ready(comm)
    codes: list[str] = []
    closed = None
    try:
        for i in range(400):
            frame = {"type": "typing", "chatroomId": str(fuzz_world.group.pk), "n": i}
            await comm.send_json_to(frame)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            out = await comm.receive_output(timeout=5)
            if out["type"] == "websocket.close":
                closed = out.get("code")
                break
            data = parse_server_text(out.get("text"))
            if data and data["type"] == "error":
                codes.append(data["error"])
        assert "rate_limited" in codes
        assert set(codes) == {"rate_limited"}, codes
        assert closed in (None, CLOSE_FLOODING)
    finally:
        await safe_disconnect(comm)


def test_zz_unencodable_answers():
    """A real server (daphne, uvicorn) must encode every text frame as UTF-8: an answer that
    carries a lone surrogate the client sent as a JSON escape ("\\ud800") crashes the send.
    Collected over the storms above (which go on) and reported here."""
    assert not UNENCODABLE, (
        f"{len(UNENCODABLE)} answers cannot be encoded as UTF-8, e.g. frame {UNENCODABLE[0][0]} "
        f"got {UNENCODABLE[0][1]!r}"
    )


def test_zz_no_frame_reached_the_catch_all():
    """Every bad frame is refused by validation, not by an exception the consumer's last
    `except Exception` turns into a generic error (and a logged traceback)."""
    assert not CRASHES, f"{len(CRASHES)} frames raised inside the application, e.g. {sorted(set(CRASHES))[:5]}"


def test_zz_total_frames():
    print(f"\nwebsocket frames tried: {FRAMES_TRIED['n']} {FRAMES_TRIED['by_test']}")
    assert FRAMES_TRIED["n"] >= 10_000, FRAMES_TRIED


@settings(max_examples=10, **SETTINGS)
@given(
    frames=st.lists(
        st.fixed_dictionaries(
            {"type": st.just("sendMessage"), "message": st.text(min_size=1, max_size=50)},
            optional={"clientId": st.text(min_size=1, max_size=20), "replyToId": st.integers(0, 10**6)},
        ),
        min_size=20,
        max_size=20,
    )
)
async def test_a_read_only_direct_room_stores_nothing_whatever_is_sent(fuzz_world, no_rate_limits, frames):
    """Bob is blocked by Alice: nothing he sends to their direct room is stored, every frame
    gets one error (forbidden for a real text), and his socket stays usable."""
    from asgiref.sync import sync_to_async

    from accounts.tokens import issue_token
    from friends.services import block_create

    from .wsutil import communicator, open_ready, wait_for

    world = fuzz_world
    await sync_to_async(block_create)(user=world.alice, other_id=world.bob.pk)
    before = await _message_count()
    token, _expires = await sync_to_async(issue_token)(user=world.bob)
    comm = await open_ready(communicator(token=token))
    try:
        for frame in [*frames, {"type": "sendMessage", "message": "hello?", "clientId": "plain"}]:
            await comm.send_json_to({**frame, "chatroomId": str(world.ab.pk)})
            error = await wait_for(comm, "error", timeout=5)
            assert error["error"] in {"forbidden", "invalid", "not_found", "too_long"}, (frame, error)
        assert error["error"] == "forbidden", "a plain text in a read-only room is forbidden"
        assert await _message_count() == before
        await comm.send_json_to({"type": "userOnline"})
        await wait_for(comm, "retrieveCurrentUser", timeout=5)
    finally:
        await comm.disconnect(timeout=5)
