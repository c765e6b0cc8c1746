"""A Redis outage under a live server: Redis stopped for 5 s, then started again (empty).

One daphne process on the test database and a private Redis (tests/faults/services.py); the
shared system Redis is never touched. During the outage, every sendMessage must be answered
(ack, and then it is stored; or an error frame) or the connection closed: never silence.
Afterwards clients catch up with connectToRoom + afterId, live delivery works on every
connection, and presence is rebuilt (the restarted Redis holds no presence records).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.faults.services import PrivateRedis
from tests.multiprocess.servers import ServerProcess
from tests.multiprocess.wsclient import ConnectionClosed, WsClient, open_client

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

OUTAGE_SECONDS = 5.0
ANSWER_TIMEOUT = 15.0  # the longest a send may wait for its answer (Redis client timeouts are 5 s)
SEND_PACE = 0.25  # between one answered send and the next, so the outage sees several sends
PRESENCE_REBUILT_WITHIN = 45.0  # the heartbeat (15 s) re-registers connections whose record vanished

_seq = itertools.count(1)


@dataclass
class Outcome:
    client_id: str
    text: str
    kind: str  # "ack", "error", "closed" (no answer because the connection closed)
    frame: dict[str, Any] | None
    seconds: float


@dataclass
class Sender:
    name: str
    client: WsClient
    outcomes: list[Outcome] = field(default_factory=list)


def _room(creator, *others):
    from chats.services import room_create

    room, _ = room_create(creator=creator, friend_ids=[o.pk for o in others])
    return room


def _message_ids(client: WsClient, rid: str) -> list[int]:
    return [int(f["message"]["id"]) for f in client.history if f["type"] == "message" and f["chatroomId"] == rid]


async def _send_once(client: WsClient, rid: str, text: str, client_id: str) -> tuple[str, dict | None]:
    """One sendMessage: its ack or error, or "closed"; AssertionError on silence past ANSWER_TIMEOUT."""
    try:
        await client.send({"type": "sendMessage", "chatroomId": rid, "message": text, "clientId": client_id})
        frame = await client.expect(
            pred=lambda f: f["type"] in ("ack", "error") and f.get("clientId") == client_id, timeout=ANSWER_TIMEOUT
        )
    except ConnectionClosed:
        return "closed", None
    return frame["type"], frame


async def _keep_sending(sender: Sender, rid: str, back: asyncio.Event) -> None:
    """Send one message at a time until Redis is back (or the connection is closed)."""
    while not back.is_set():
        client_id = f"{sender.name}-outage-{next(_seq)}"
        text = f"{sender.name} during the outage {client_id}"
        started = time.monotonic()
        kind, frame = await _send_once(sender.client, rid, text, client_id)
        sender.outcomes.append(Outcome(client_id, text, kind, frame, time.monotonic() - started))
        if kind == "closed":
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(back.wait(), SEND_PACE)


async def _wait_online(watcher: WsClient, friend_id: str, within: float) -> float:
    """Ask with userOnline (rate limited: at most every 2 s) until `friend_id` is listed online."""
    started = time.monotonic()
    deadline = started + within
    while True:
        await watcher.send({"type": "userOnline"})
        answer = await watcher.expect(
            pred=lambda f: (
                f["type"] == "retrieveOnlineFriends" or (f["type"] == "error" and f.get("ref") == "userOnline")
            )
        )
        if answer["type"] == "retrieveOnlineFriends" and friend_id in answer["friends"]:
            return time.monotonic() - started
        if time.monotonic() > deadline:
            raise AssertionError(f"{watcher.name}: {friend_id} not seen online within {within:.0f} s; last {answer}")
        try:
            await watcher.expect("getOnlineFriend", userId=friend_id, timeout=2.0)
            return time.monotonic() - started
        except AssertionError:
            pass


def test_redis_outage_sends_answered_then_catch_up_live_and_presence(
    server_on_private_redis: ServerProcess, private_redis: PrivateRedis, make_user, befriend, token_for
):
    server = server_on_private_redis
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    befriend(alice, bob)
    befriend(alice, carol)
    befriend(bob, carol)
    room = _room(alice, bob, carol)
    rid = str(room.pk)
    tokens = {u.pk: token_for(u) for u in (alice, bob, carol)}
    aid, bid = str(alice.pk), str(bob.pk)
    report: dict[str, Any] = {}

    async def connect(user, name: str) -> WsClient:
        client = await open_client(server.port, tokens[user.pk], name)
        await client.hello()
        return client

    async def scenario() -> None:
        alice_c, bob_c, carol_c = (
            await connect(alice, "alice"),
            await connect(bob, "bob"),
            await connect(carol, "carol"),
        )
        for client in (alice_c, bob_c, carol_c):
            assert await client.join(rid) == []
        before = await alice_c.send_message(rid, "before the outage", "before-1")
        before_id = int(before["messageId"])
        for client in (bob_c, carol_c):
            assert (await client.expect("message", chatroomId=rid))["message"]["id"] == before["messageId"]
        await carol_c.close()  # Carol is away during the outage and catches up afterwards

        senders = [Sender("alice", alice_c), Sender("bob", bob_c)]
        back = asyncio.Event()
        stopped_at = time.monotonic()
        await asyncio.to_thread(private_redis.stop)

        async def outage() -> None:
            await asyncio.sleep(OUTAGE_SECONDS)  # the fault's duration, not a synchronisation
            await asyncio.to_thread(private_redis.start)
            report["outage_seconds"] = time.monotonic() - stopped_at
            back.set()

        await asyncio.gather(outage(), *(_keep_sending(s, rid, back) for s in senders))
        outcomes = [o for s in senders for o in s.outcomes]
        report["outage_outcomes"] = outcomes
        assert outcomes, "no send was made during the outage"

        # After the outage: closed connections reconnect; every client catches up with afterId.
        survivors: dict[str, bool] = {}
        for sender, user in zip(senders, (alice, bob), strict=True):
            survivors[sender.name] = not sender.client.closed
            if sender.client.closed:
                sender.client = await connect(user, f"{sender.name}-again")
        alice_c, bob_c = senders[0].client, senders[1].client
        carol_c = await connect(carol, "carol-again")
        report["survivors"] = survivors

        # An error during the outage may or may not have stored the message: the same clientId
        # again must be acknowledged now, with the stored message's id if there was one.
        retried: dict[str, str] = {}
        for sender in senders:
            for o in sender.outcomes:
                if o.kind != "ack":
                    ack = await sender.client.send_message(rid, o.text, o.client_id, timeout=ANSWER_TIMEOUT)
                    retried[o.client_id] = ack["messageId"]
        report["retried"] = retried
        acked = {o.client_id: o.frame["messageId"] for o in outcomes if o.kind == "ack"}
        expected_ids = sorted(int(i) for i in (*acked.values(), *retried.values()))
        report["acked"], report["expected_ids"] = acked, expected_ids

        # Surviving connections got the retried messages live already; connectToRoom with
        # afterId then replays everything stored after it, once each, in id order.
        for sender in senders:
            if survivors[sender.name]:  # still joined: each stored message arrives live, in order
                live = [
                    await sender.client.expect("message", chatroomId=rid, pred=lambda f, i=i: f["message"]["id"] == i)
                    for i in map(str, expected_ids)
                ]
                report.setdefault("live_after_outage", {})[sender.name] = len(live)
        for client in (alice_c, bob_c, carol_c):
            client.pending = [f for f in client.pending if f["type"] != "message"]
            replay = await client.join(rid, after_id=before_id)
            replay_ids = [int(f["message"]["id"]) for f in replay]
            assert replay_ids == expected_ids, f"{client.name}: replay {replay_ids}, stored since {expected_ids}"
            seen = set(_message_ids(client, rid))
            missing = set(expected_ids) - seen
            assert not missing, f"{client.name}: never received acked messages {sorted(missing)}"

        # No consumer left dead: live messages reach every connected member, both ways.
        for sender, receivers in ((alice_c, (bob_c, carol_c)), (bob_c, (alice_c, carol_c)), (carol_c, (alice_c,))):
            ack = await sender.send_message(rid, f"after the outage from {sender.name}", timeout=ANSWER_TIMEOUT)
            for receiver in receivers:
                await receiver.expect(
                    "message", chatroomId=rid, pred=lambda f, a=ack: f["message"]["id"] == a["messageId"]
                )
            report.setdefault("after", []).append(ack["messageId"])

        # Presence rebuilt: the restarted Redis came back empty.
        # Alice and Bob only have the connections that lived through the outage. userOnline
        # re-announces the asker only: Carol asks about Alice, then Alice about Bob.
        report["alice_online_after"] = await _wait_online(carol_c, aid, PRESENCE_REBUILT_WITHIN)
        report["bob_online_after"] = await _wait_online(alice_c, bid, PRESENCE_REBUILT_WITHIN)
        for client in (alice_c, bob_c, carol_c):
            await client.close()

    try:
        asyncio.run(scenario())
    finally:
        print("redis outage report:", {k: v for k, v in report.items() if k != "outage_outcomes"})
        for o in report.get("outage_outcomes", []):
            print(f"  {o.client_id}: {o.kind} in {o.seconds:.3f} s {o.frame}")

    # Stored exactly once, with the acknowledged ids.
    from chats.models import Message

    stored = {m.client_id: str(m.pk) for m in Message.objects.filter(room_id=room.pk, client_id__isnull=False)}
    for client_id, message_id in {**report["acked"], **report["retried"]}.items():
        assert stored.get(client_id) == message_id, f"{client_id}: acked {message_id}, stored {stored.get(client_id)}"
    assert sorted(int(pk) for pk in Message.objects.filter(room_id=room.pk, pk__gt=0).values_list("pk", flat=True)) == (
        sorted(
            [int(stored["before-1"]), *report["expected_ids"], *(int(i) for i in report["after"])],
        )
    ), "the room holds messages nobody was told about, or lacks some"
    assert server.alive(), "the server process died"
