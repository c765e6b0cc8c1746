"""SPEC §7 end to end: two real daphne processes on one PostgreSQL and one Redis behave as one.

Users, friendships and rooms are made through the ORM and the services in this process;
clients connect over real websockets with bearer tokens. Each test runs its own two servers
(see conftest.py), so a killed process never leaks into the next test.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from tests.multiprocess.wsclient import ConnectionClosed, open_client

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True)]

OFFLINE_WITHIN = 60.0  # SPEC §4 Presence: a connection that dies without closing stops counting


@pytest.fixture(autouse=True)
def _postgres_and_redis_required():
    from tests.multiprocess.conftest import require_postgres_and_redis

    require_postgres_and_redis()


def _room(creator, *others):
    from chats.services import room_create

    room, _ = room_create(creator=creator, friend_ids=[o.pk for o in others])
    return room


def test_message_sent_through_one_process_reaches_sockets_on_the_other(chatty_servers, make_user, befriend, token_for):
    a, b = chatty_servers("A", "B")
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    befriend(alice, bob)
    befriend(alice, carol)
    befriend(bob, carol)
    room = _room(alice, bob, carol)
    rid = str(room.pk)
    tokens = {u.pk: token_for(u) for u in (alice, bob, carol)}

    async def scenario():
        alice_a = await open_client(a.port, tokens[alice.pk], "alice@A")
        bob_b = await open_client(b.port, tokens[bob.pk], "bob@B")
        carol_b = await open_client(b.port, tokens[carol.pk], "carol@B")
        for client in (alice_a, bob_b, carol_b):
            await client.hello()
        assert await bob_b.join(rid) == []

        ack = await alice_a.send_message(rid, "hello from A", "mp-1")
        assert ack["clientId"] == "mp-1"
        msg = await bob_b.expect("message", chatroomId=rid)
        assert msg["message"] == {
            "id": ack["messageId"],
            "chatroomId": rid,
            "message": "hello from A",
            "senderId": str(alice.pk),
            "senderName": "Alice",
            "senderImage": "",
            "timestamp": ack["timestamp"],
            "editedAt": None,
            "replyTo": None,
            "reactions": [],
            "attachments": [],
        }
        # lastMessage to every connection of every participant, each with their own count:
        # Bob has the room open on B, which A must know (shared presence) to count it read.
        last_bob = await bob_b.expect("lastMessage", chatroomId=rid)
        assert last_bob["message"] == msg["message"]
        assert last_bob["unreadMessagesCount"] == 0
        last_carol = await carol_b.expect("lastMessage", chatroomId=rid)
        assert last_carol["message"] == msg["message"]
        assert last_carol["unreadMessagesCount"] == 1
        last_alice = await alice_a.expect("lastMessage", chatroomId=rid)
        assert last_alice["message"]["id"] == ack["messageId"]
        assert last_alice["unreadMessagesCount"] == 0
        await carol_b.expect_nothing("message", within=0.5)  # Carol has not joined the room

        # And back: B to A.
        assert await alice_a.join(rid) == []
        ack2 = await bob_b.send_message(rid, "hello from B", "mp-2")
        back = await alice_a.expect("message", chatroomId=rid)
        assert back["message"]["id"] == ack2["messageId"]
        assert back["message"]["senderId"] == str(bob.pk)
        assert int(ack2["messageId"]) > int(ack["messageId"])
        for client in (alice_a, bob_b, carol_b):
            await client.close()

    asyncio.run(scenario())


def test_presence_crosses_processes(chatty_servers, make_user, befriend, token_for):
    a, b = chatty_servers("A", "B")
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    befriend(alice, bob)
    befriend(alice, carol)
    tokens = {u.pk: token_for(u) for u in (alice, bob, carol)}
    aid, bid = str(alice.pk), str(bob.pk)

    async def scenario():
        bob_b = await open_client(b.port, tokens[bob.pk], "bob@B")
        _, friends = await bob_b.hello()
        assert friends["friends"] == {}

        alice_a = await open_client(a.port, tokens[alice.pk], "alice@A")
        me, friends = await alice_a.hello()
        assert me["status"] == "online"
        assert friends["friends"] == {bid: {"status": "online"}}  # Bob's connection lives on B
        assert await bob_b.expect("getOnlineFriend", userId=aid) == {
            "type": "getOnlineFriend",
            "userId": aid,
            "status": "online",
        }

        carol_b = await open_client(b.port, tokens[carol.pk], "carol@B")
        _, friends = await carol_b.hello()
        assert friends["friends"] == {aid: {"status": "online"}}  # Alice's connection lives on A

        await alice_a.send({"type": "changeStatus", "status": "away"})
        assert (await alice_a.expect("retrieveCurrentUser"))["status"] == "away"
        assert (await bob_b.expect("getOnlineFriend", userId=aid))["status"] == "away"
        assert (await carol_b.expect("getOnlineFriend", userId=aid))["status"] == "away"

        # logout: with no other connection left, offline at once, on the other process too.
        await alice_a.send({"type": "logout"})
        assert (await bob_b.expect("getOnlineFriend", userId=aid, timeout=5))["status"] == "offline"
        assert (await carol_b.expect("getOnlineFriend", userId=aid, timeout=5))["status"] == "offline"
        await bob_b.send({"type": "userOnline"})
        _, friends = await bob_b.hello()
        assert friends["friends"] == {}
        for client in (alice_a, bob_b, carol_b):
            await client.close()

    asyncio.run(scenario())


@pytest.mark.timeout(240)
def test_kill_9_loses_no_acknowledged_message_and_presence_recovers(chatty_servers, make_user, befriend, token_for):
    from chats.models import Message

    a, b = chatty_servers("A", "B")
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room = _room(alice, bob)
    rid, aid = str(room.pk), str(alice.pk)
    tok_alice, tok_bob = token_for(alice), token_for(bob)
    sent: list[str] = []  # clientIds, in the order they were sent through A
    acked: dict[str, str] = {}  # clientId -> messageId, acknowledged by A
    retried: dict[str, str] = {}  # clientId -> messageId, acknowledged by B on a resend
    timings: dict[str, float] = {}

    async def scenario():
        bob_b = await open_client(b.port, tok_bob, "bob@B")
        await bob_b.hello()
        await bob_b.join(rid)
        alice_a = await open_client(a.port, tok_alice, "alice@A")
        await alice_a.hello()
        assert (await bob_b.expect("getOnlineFriend", userId=aid))["status"] == "online"

        ten_acked = asyncio.Event()

        async def keep_sending():
            for i in range(40):  # under the 50-per-10-s send limit even if the kill came late
                client_id = f"kill9-{i}"
                sent.append(client_id)
                try:
                    ack = await alice_a.send_message(rid, f"message {i} through A", client_id)
                except ConnectionClosed:
                    return "connection closed"
                acked[client_id] = ack["messageId"]
                if len(acked) == 10:
                    ten_acked.set()
            return "all sent"

        sender = asyncio.create_task(keep_sending())
        await asyncio.wait_for(ten_acked.wait(), 30)
        # The sender has already put the next message on the wire: A dies mid-request.
        a.kill9()
        killed_at = time.monotonic()
        assert await asyncio.wait_for(sender, 15) == "connection closed"

        # B's sweep notices the dead connection once its record expires (no goodbye came).
        offline = await bob_b.expect("getOnlineFriend", userId=aid, timeout=OFFLINE_WITHIN)
        timings["offline after kill"] = time.monotonic() - killed_at
        assert offline["status"] == "offline"

        # A fresh connection to B, caught up from the start of the room, has every acked message.
        bob_again = await open_client(b.port, tok_bob, "bob@B#2")
        await bob_again.hello()
        replay = await bob_again.join(rid, after_id=0)
        replay_ids = [int(f["message"]["id"]) for f in replay]
        assert replay_ids == sorted(set(replay_ids))
        assert {int(m) for m in acked.values()} <= set(replay_ids)

        # Alice comes back on B and sends again what A never acknowledged (same clientIds),
        # plus one that A did acknowledge: each is stored once, the acked one keeps its id.
        alice_b = await open_client(b.port, tok_alice, "alice@B")
        await alice_b.hello()
        for client_id in [c for c in sent if c not in acked] + [sent[0]]:
            ack = await alice_b.send_message(rid, f"retry of {client_id}", client_id)
            retried[client_id] = ack["messageId"]
        assert retried[sent[0]] == acked[sent[0]]
        for client in (bob_b, bob_again, alice_b):
            await client.close()

    asyncio.run(scenario())

    print(f"acked by A: {len(acked)}, sent: {len(sent)}, timings: {timings}")
    rows = list(Message.objects.filter(room=room).values_list("id", "client_id", "sender_id"))
    assert all(sender == alice.pk for _, _, sender in rows)
    per_client_id = Counter(client_id for _, client_id, _ in rows)
    assert set(per_client_id) == set(sent), "a message is stored that no one sent, or a sent one is missing"
    assert all(n == 1 for n in per_client_id.values()), per_client_id
    stored = {client_id: str(pk) for pk, client_id, _ in rows}
    for client_id, message_id in acked.items():
        assert stored[client_id] == message_id, f"acked {client_id} as {message_id}, stored {stored[client_id]}"
    for client_id, message_id in retried.items():
        assert stored[client_id] == message_id


def test_reconnecting_client_receives_what_it_missed_in_id_order(chatty_servers, make_user, befriend, token_for):
    a, b = chatty_servers("A", "B")
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room = _room(alice, bob)
    rid = str(room.pk)
    tok_alice, tok_bob = token_for(alice), token_for(bob)

    async def scenario():
        alice_a = await open_client(a.port, tok_alice, "alice@A")
        await alice_a.hello()
        bob_b = await open_client(b.port, tok_bob, "bob@B")
        await bob_b.hello()
        assert await bob_b.join(rid) == []
        first = int((await alice_a.send_message(rid, "before the gap"))["messageId"])
        assert int((await bob_b.expect("message", chatroomId=rid))["message"]["id"]) == first
        last_seen = first
        stored = [first]  # every acked id, in the order acked (one sender: increasing)

        for cycle in range(3):
            await bob_b.close()
            # Sent while Bob is away: replayed on connectToRoom, before joinedChatroom.
            missed = []
            for i in range(2):
                missed.append(int((await alice_a.send_message(rid, f"cycle {cycle}: missed {i}"))["messageId"]))
            stored += missed

            # Alice keeps talking while Bob comes back, so that messages are stored while B
            # reads the replay: the replay/live boundary.
            bob_b = await open_client(b.port, tok_bob, f"bob@B#{cycle + 2}")
            await bob_b.hello()
            during: list[int] = []
            talking, joined = asyncio.Event(), asyncio.Event()

            async def talk(cycle=cycle, during=during, talking=talking, joined=joined):
                after_join = 0
                for i in range(12):  # bounded; 3 cycles stay under the 50-per-10-s send limit
                    ack = await alice_a.send_message(rid, f"cycle {cycle}: during reconnect {i}")
                    during.append(int(ack["messageId"]))
                    talking.set()
                    if joined.is_set():
                        after_join += 1
                        if after_join >= 2:
                            return

            talker = asyncio.create_task(talk())
            await asyncio.wait_for(talking.wait(), 10)
            acked_before_join = list(during)
            replayed = await bob_b.join(rid, after_id=last_seen)
            joined.set()
            await asyncio.wait_for(talker, 30)
            stored += during

            got = [int(f["message"]["id"]) for f in replayed]
            acked_before = missed + acked_before_join
            assert set(acked_before) <= set(got), f"cycle {cycle}: replay {got} lacks some of {acked_before}"
            expected = [m for m in stored if m > last_seen]
            while len(got) < len(expected):
                try:
                    frame = await bob_b.expect("message", chatroomId=rid, timeout=10)
                except AssertionError:
                    raise AssertionError(
                        f"cycle {cycle}: after reconnecting with afterId={last_seen}, Bob got {got}; "
                        f"missing {sorted(set(expected) - set(got))} (replayed before joinedChatroom: "
                        f"{[int(f['message']['id']) for f in replayed]}, sent during the reconnect: {during})"
                    ) from None
                got.append(int(frame["message"]["id"]))
            assert got == expected, f"cycle {cycle}: got {got}, expected {expected} (ids in order, once each)"
            await bob_b.expect_nothing("message", within=0.3, chatroomId=rid)
            last_seen = got[-1]

        for client in (alice_a, bob_b):
            await client.close()

    asyncio.run(scenario())
