"""GET /metrics: Prometheus' text format for allowed scrapers only, right across processes."""

from __future__ import annotations

import http.client
import re
import tempfile

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.timeout(180)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_nobody_scrapes_when_neither_token_nor_addresses_are_set(client, db, settings):
    settings.CHATTY_METRICS_TOKEN = ""
    settings.CHATTY_METRICS_ALLOWED_IPS = []
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_a_scraper_gets_in_by_token_or_by_address(client, db, settings):
    settings.CHATTY_METRICS_TOKEN = "scrape-secret-123"
    settings.CHATTY_METRICS_ALLOWED_IPS = []
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-123"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert "chatty_websocket_connections" in text and "chatty_http_requests_total" in text

    settings.CHATTY_METRICS_TOKEN = ""
    settings.CHATTY_METRICS_ALLOWED_IPS = ["10.0.0.0/8", "127.0.0.1"]
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 404


def test_probes_are_answered_whatever_the_host_header(client, db, settings):
    """A load balancer or Prometheus asks the process by its address: /healthz and /metrics
    answer although that address is not one of ALLOWED_HOSTS (a DisallowedHost 400 before)."""
    settings.CHATTY_METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/healthz", headers={"Host": "10.1.2.3:8001"}).status_code == 200
    assert client.get("/metrics", headers={"Host": "10.1.2.3:8001"}).status_code == 200
    assert client.get("/login", headers={"Host": "10.1.2.3:8001"}).status_code == 400  # the site still checks


def test_http_counters_move(client, db, settings, make_user):
    settings.CHATTY_METRICS_ALLOWED_IPS = ["127.0.0.1"]

    def count() -> float:
        return samples(client.get("/metrics").content.decode()).get(
            ("chatty_http_requests_total", (("method", "GET"), ("status", "4xx"))), 0.0
        )

    before = count()
    for _ in range(3):
        assert client.get("/api/auth/check-auth").status_code == 401
    assert count() == before + 3
    client.force_login(make_user("Alice"))
    assert client.get("/api/user").status_code == 200  # the session and the user: queries
    values = samples(client.get("/metrics").content.decode())
    assert values[("chatty_db_query_seconds_count", (("edge", "http"),))] > 0
    from django.db import connection

    if getattr(connection, "pool", None) is not None:  # PostgreSQL with its pool
        assert values[("chatty_db_pool_connections", (("state", "size"),))] >= 1


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_two_worker_processes_report_one_sum(uvicorn_server):
    """uvicorn --workers 2 with PROMETHEUS_MULTIPROC_DIR: whichever worker answers the scrape,
    it counts the requests both served."""
    with tempfile.TemporaryDirectory(prefix="chatty-metrics-") as directory:
        server = uvicorn_server(
            extra=["--workers", "2"], PROMETHEUS_MULTIPROC_DIR=directory, CHATTY_METRICS_TOKEN="scrape-secret-123"
        )
        scrape = {"Authorization": "Bearer scrape-secret-123"}
        key = ("chatty_http_requests_total", (("method", "GET"), ("status", "4xx")))
        _, text = _get(server.port, "/metrics", scrape)
        before = samples(text.decode()).get(key, 0.0)  # wait_ready's own polls
        for _ in range(40):
            assert _get(server.port, "/api/auth/check-auth")[0] == 401
        pids = {m.group(1) for m in re.finditer(r"counter_(\d+)\.db", " ".join(_listdir(directory)))}
        assert len(pids) == 2, f"two workers write their counters: {sorted(_listdir(directory))}"
        for _ in range(6):  # each scrape may reach either worker
            status, text = _get(server.port, "/metrics", scrape)
            assert status == 200
            values = samples(text.decode())
            assert values[key] == before + 40
            assert values[("chatty_websocket_connections", ())] == 0


def _listdir(path: str) -> list[str]:
    import os

    return os.listdir(path)


def test_a_dead_process_stops_counting_its_connections(tmp_path, monkeypatch):
    """Two processes share PROMETHEUS_MULTIPROC_DIR; one dies without closing its sockets
    (kill -9): the next scrape counts only the live one's connections."""
    import os
    import subprocess
    import sys

    from chatty import metrics
    from tests.multiprocess.servers import BASE_DIR

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "chatty.settings"}
    opens = "from chatty import metrics\nfor _ in range({n}): metrics.connection_opened()\nprint('ready', flush=True)\n"
    dead = subprocess.run(
        [sys.executable, "-c", opens.format(n=2) + "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dead.stdout.strip() == "ready" and dead.returncode == -9
    alive = subprocess.Popen(
        [sys.executable, "-c", opens.format(n=3) + "import sys; sys.stdin.read()"],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert alive.stdout.readline().strip() == "ready"
        monkeypatch.setattr(metrics, "MULTIPROC_DIR", str(tmp_path))
        values = samples(metrics.exposition().decode())
        assert values[("chatty_websocket_connections", ())] == 3
    finally:
        alive.stdin.close()
        alive.wait(timeout=30)
    values = samples(metrics.exposition().decode())
    assert values.get(("chatty_websocket_connections", ()), 0) == 0  # both gone


@pytest.mark.django_db(transaction=True)
async def test_websocket_connections_and_frames_are_counted(make_user, token_for, befriend):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from chatty import metrics
    from chatty.asgi import application

    def value(metric, *labels: str) -> float:
        return (metric.labels(*labels) if labels else metric)._value.get()

    alice = await database_sync_to_async(make_user)("Alice")
    bob = await database_sync_to_async(make_user)("Bob")
    token = await database_sync_to_async(token_for)(alice)
    open_before, frames_before = value(metrics.WEBSOCKET_CONNECTIONS), value(metrics.FRAMES_IN, "userOnline")
    other_before = value(metrics.FRAMES_IN, "other")
    comm = WebsocketCommunicator(application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())])
    connected, _ = await comm.connect(timeout=5)
    assert connected
    try:
        for _ in range(2):
            await comm.receive_json_from(timeout=5)
        assert value(metrics.WEBSOCKET_CONNECTIONS) == open_before + 1
        acks_before = metrics.SEND_ACK_SECONDS._sum.get(), _histogram_count(metrics.SEND_ACK_SECONDS)
        from chats.services import room_create

        await database_sync_to_async(befriend)(alice, bob)
        room, _ = await database_sync_to_async(room_create)(creator=alice, friend_ids=[str(bob.pk)])
        await comm.send_json_to({"type": "sendMessage", "chatroomId": str(room.pk), "message": "hi"})
        while (await comm.receive_json_from(timeout=5))["type"] != "ack":
            pass
        assert _histogram_count(metrics.SEND_ACK_SECONDS) == acks_before[1] + 1
        assert metrics.SEND_ACK_SECONDS._sum.get() > acks_before[0]
        while not await comm.receive_nothing(timeout=0.3):  # the message's own frames
            await comm.receive_output(timeout=5)
        await comm.send_json_to({"type": "userOnline"})
        await comm.send_json_to({"type": "made-up-type-1234"})  # no label per made-up type
        await comm.receive_json_from(timeout=5)
        await comm.receive_json_from(timeout=5)
        await comm.receive_json_from(timeout=5)
    finally:
        await comm.disconnect(timeout=10)
    assert value(metrics.FRAMES_IN, "userOnline") == frames_before + 1
    assert value(metrics.FRAMES_IN, "other") == other_before + 1
    assert value(metrics.WEBSOCKET_CONNECTIONS) == open_before


def _histogram_count(histogram) -> float:
    return sum(bucket.get() for bucket in histogram._buckets)


async def test_channel_layer_publish_failures_are_counted(settings):
    """Redis unreachable (nothing listens on port 1): the event is lost, the failure counted."""
    from channels.layers import channel_layers

    from chatty import metrics, realtime

    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    channel_layers.backends = {}
    before = metrics.PUBLISH_FAILURES._value.get()
    await realtime.asend_now("user.1", {"type": "presence.self", "status": "online"})
    assert metrics.PUBLISH_FAILURES._value.get() == before + 1
