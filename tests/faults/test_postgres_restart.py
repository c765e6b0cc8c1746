"""PostgreSQL restarted under a live server (a private cluster; the shared one is never touched).

While the database is down, sendMessage is answered with an error frame and no ack; once it
is back, a retry with the same clientId is acknowledged, delivered, and stored exactly once.
Users, a friendship and a room are made with `manage.py seed_demo --manifest` against the
private database (the test's own Django connection points at the shared test database).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.services import PrivatePostgres
from tests.multiprocess.servers import BASE_DIR, ServerProcess
from tests.multiprocess.wsclient import ConnectionClosed, WsClient, open_client

pytestmark = [pytest.mark.needs_postgres, pytest.mark.timeout(120)]

ANSWER_TIMEOUT = 15.0
RECOVERED_WITHIN = 30.0


def _seed(server: ServerProcess) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "manifest.json"
        done = subprocess.run(
            [
                *(sys.executable, "manage.py", "seed_demo", "--users", "3", "--friends", "2"),
                *("--rooms", "1", "--room-size", "3", "--messages", "0", "--manifest", str(manifest)),
            ],
            cwd=BASE_DIR,
            env=server.env,
            timeout=60,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert done.returncode == 0, f"seed_demo failed:\n{done.stdout[-5000:]}"
        return json.loads(manifest.read_text())


def _stored(cluster: PrivatePostgres, client_id: str) -> list[int]:
    with psycopg.connect(cluster.url("chatty"), connect_timeout=5) as conn:
        rows = conn.execute("SELECT id FROM chats_message WHERE client_id = %s ORDER BY id", [client_id]).fetchall()
    return [row[0] for row in rows]


async def _answer(client: WsClient, rid: str, client_id: str, text: str) -> dict[str, Any]:
    await client.send({"type": "sendMessage", "chatroomId": rid, "message": text, "clientId": client_id})
    return await client.expect(
        pred=lambda f: f["type"] in ("ack", "error") and f.get("clientId") == client_id, timeout=ANSWER_TIMEOUT
    )


def test_postgres_restart_send_errors_then_retry_is_stored_once(
    server_on_private_postgres: ServerProcess, private_postgres: PrivatePostgres
):
    server = server_on_private_postgres
    manifest = _seed(server)
    (room,) = manifest["rooms"]
    rid = str(room["id"])
    users = {u["id"]: u for u in manifest["users"]}
    alice, bob = (users[i] for i in room["memberIds"][:2])
    report: dict[str, Any] = {}

    async def scenario() -> None:
        alice_c = await open_client(server.port, alice["token"], "alice")
        bob_c = await open_client(server.port, bob["token"], "bob")
        for client in (alice_c, bob_c):
            await client.hello()
            await client.join(rid)
        before = await alice_c.send_message(rid, "before the restart", "pg-before")
        await bob_c.expect("message", chatroomId=rid, pred=lambda f: f["message"]["id"] == before["messageId"])

        stopped_at = time.monotonic()
        await asyncio.to_thread(private_postgres.stop)
        report["stop_seconds"] = time.monotonic() - stopped_at
        down = []
        for n in range(3):
            client_id = f"pg-down-{n}"
            started = time.monotonic()
            try:
                answer = await _answer(alice_c, rid, client_id, f"while the database is down {n}")
            except ConnectionClosed:
                raise AssertionError(f"the server closed the connection on {client_id}") from None
            down.append((client_id, answer, time.monotonic() - started))
            assert answer["type"] == "error", f"{client_id}: acknowledged while the database is down: {answer}"
        report["down"] = down

        started = time.monotonic()
        await asyncio.to_thread(private_postgres.start)
        report["restart_seconds"] = time.monotonic() - started

        # Retry each failed send with its clientId until acknowledged (bounded).
        acks = {}
        for client_id, _, _ in down:
            deadline = time.monotonic() + RECOVERED_WITHIN
            errors = 0
            while True:
                answer = await _answer(alice_c, rid, client_id, f"retry of {client_id}")
                if answer["type"] == "ack":
                    break
                errors += 1
                assert time.monotonic() < deadline, f"{client_id}: still {answer} {RECOVERED_WITHIN:.0f} s later"
                await asyncio.sleep(0.2)  # pacing between retries
            acks[client_id] = answer["messageId"]
            report.setdefault("retry_errors", {})[client_id] = errors
            got = await bob_c.expect(
                "message", chatroomId=rid, pred=lambda f, a=answer: f["message"]["id"] == a["messageId"]
            )
            assert got["message"]["senderId"] == str(alice["id"])
            again = await _answer(alice_c, rid, client_id, f"second retry of {client_id}")
            assert again["type"] == "ack" and again["messageId"] == answer["messageId"], again
        report["acks"] = acks
        await bob_c.expect_nothing("message", within=0.5)  # the second retries broadcast nothing new
        for client in (alice_c, bob_c):
            await client.close()

    try:
        asyncio.run(scenario())
    finally:
        print("postgres restart report:", report)

    for client_id, message_id in report["acks"].items():
        assert _stored(private_postgres, client_id) == [int(message_id)], f"{client_id} not stored exactly once"
    assert server.alive(), "the server process died"
