"""Prometheus metrics (SPEC §11): the metric objects, small functions to call, and /metrics.

Correct with several processes: when PROMETHEUS_MULTIPROC_DIR is set (it must be set before
the process starts; prometheus-client reads it on import), every process of a host writes
its values to files there and whichever process is scraped adds them all up. The gauges are
"live" sums: the files of a process that is gone are dropped at the next scrape, so a killed
process stops counting its connections. Without the variable (one process), the values live in
memory.

Scrapers are let in by `Authorization: Bearer <CHATTY_METRICS_TOKEN>` or by their address in
CHATTY_METRICS_ALLOWED_IPS; everybody else gets a 404, as if there were nothing here.

The websocket edge calls `connection_opened()`, `connection_closed()`, `frame_in(type)`,
`frame_out(type)`, `deliveries(n)`, `send_ack(seconds)`, `publish_failed()`,
`slow_client_cut()`, `rate_limited("websocket")` and, around its database calls,
`db_time("websocket", seconds)`. The HTTP side is wired here (MetricsMiddleware).
"""

from __future__ import annotations

import glob
import hmac
import ipaddress
import os
import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")

# Frame types of the protocol (docs/websocket.md): a label value of anything else would let
# a client grow the number of time series without limit.
FRAME_TYPES = frozenset(
    {
        # client to server
        "userOnline",
        "changeStatus",
        "connectToRoom",
        "leaveChatroom",
        "sendMessage",
        "markRead",
        "markUnread",
        "typing",
        "logout",
        "editMessage",
        "deleteMessage",
        "react",
        # server to client
        "retrieveCurrentUser",
        "retrieveOnlineFriends",
        "getOnlineFriend",
        "joinedChatroom",
        "message",
        "ack",
        "lastMessage",
        "resync",
        "error",
        "addedAsFriend",
        "removedAsFriend",
        "addedInChatroom",
        "removedFromChatroom",
        "chatroomUpdated",
        "friendUpdated",
        "messageEdited",
        "messageDeleted",
        "reactionsChanged",
        "unreadCount",
        "readBy",
        "html",  # the browser socket's HTML fragments
    }
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

WEBSOCKET_CONNECTIONS = Gauge(
    "chatty_websocket_connections", "Open websocket connections.", multiprocess_mode="livesum"
)
FRAMES_IN = Counter("chatty_websocket_frames_in", "Websocket frames received, by type.", ["type"])
FRAMES_OUT = Counter("chatty_websocket_frames_out", "Websocket frames sent, by type.", ["type"])
DELIVERIES = Counter("chatty_message_deliveries", "Messages written to websocket connections.")
SEND_ACK_SECONDS = Histogram(
    "chatty_send_ack_seconds", "From a sendMessage frame read to its ack sent.", buckets=LATENCY_BUCKETS
)
DB_SECONDS = Histogram(
    "chatty_db_query_seconds",
    "Time of each database query, by edge (http or websocket).",
    ["edge"],
    buckets=LATENCY_BUCKETS,
)
PUBLISH_FAILURES = Counter("chatty_channel_layer_publish_failures", "Events the channel layer failed to publish.")
SLOW_CLIENT_CUTOFFS = Counter("chatty_slow_client_cutoffs", "Websocket clients cut off because they stopped reading.")
RATE_LIMITED = Counter("chatty_rate_limited", "Requests and frames refused as rate-limited, by edge.", ["edge"])
HTTP_REQUESTS = Counter(
    "chatty_http_requests", "HTTP requests answered, by method and status class.", ["method", "status"]
)
HTTP_SECONDS = Histogram("chatty_http_request_seconds", "Time to answer an HTTP request.", buckets=LATENCY_BUCKETS)
CSP_VIOLATIONS = Counter(
    "chatty_csp_violations", "Content-Security-Policy violations reported by browsers.", ["directive"]
)
DB_POOL = Gauge(
    "chatty_db_pool_connections",
    "The PostgreSQL connection pool: its size, idle connections and requests waiting for one.",
    ["state"],
    multiprocess_mode="livesum",
)


def connection_opened() -> None:
    WEBSOCKET_CONNECTIONS.inc()


def connection_closed() -> None:
    WEBSOCKET_CONNECTIONS.dec()


def frame_type(name: Any) -> str:
    return name if isinstance(name, str) and name in FRAME_TYPES else "other"


def frame_in(name: Any) -> None:
    FRAMES_IN.labels(frame_type(name)).inc()


def frame_out(name: Any, count: int = 1) -> None:
    FRAMES_OUT.labels(frame_type(name)).inc(count)


def deliveries(count: int = 1) -> None:
    DELIVERIES.inc(count)


def send_ack(seconds: float) -> None:
    SEND_ACK_SECONDS.observe(seconds)


def db_time(edge: str, seconds: float) -> None:
    DB_SECONDS.labels(edge).observe(seconds)


def publish_failed() -> None:
    PUBLISH_FAILURES.inc()


def slow_client_cut() -> None:
    SLOW_CLIENT_CUTOFFS.inc()


def rate_limited(edge: str) -> None:
    RATE_LIMITED.labels(edge).inc()


_CSP_DIRECTIVES = frozenset(
    (
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
        "style-src-attr",
        "img-src",
        "connect-src",
        "font-src",
        "object-src",
        "base-uri",
        "frame-ancestors",
    )
)


def csp_violation(directive: str) -> None:
    CSP_VIOLATIONS.labels(directive if directive in _CSP_DIRECTIVES else "other").inc()


def db_pool_sample() -> None:
    """Record this process's pool figures (PostgreSQL with a pool only)."""
    pool = getattr(connection, "pool", None) if connection.vendor == "postgresql" else None
    if pool is None:
        return
    stats = pool.get_stats()
    DB_POOL.labels("size").set(stats.get("pool_size", 0))
    DB_POOL.labels("idle").set(stats.get("pool_available", 0))
    DB_POOL.labels("waiting").set(stats.get("requests_waiting", 0))


class _QueryTimer:
    """A database execute wrapper: times every query of one request."""

    def __init__(self, edge: str) -> None:
        self.edge = edge

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            db_time(self.edge, time.perf_counter() - start)


class MetricsMiddleware:
    """Counts HTTP answers by method and status class, their time, and their database time."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        with connection.execute_wrapper(_QueryTimer("http")):
            response = self.get_response(request)
        HTTP_SECONDS.observe(time.perf_counter() - start)
        method = request.method if request.method in {"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"} else "other"
        HTTP_REQUESTS.labels(method, f"{response.status_code // 100}xx").inc()
        if response.status_code == 429:
            rate_limited("http")
        db_pool_sample()
        return response


_PID_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def _drop_dead_processes(path: str) -> None:
    """Forget the live gauges of processes that are gone (killed, restarted), so that a dead
    process's connections stop counting."""
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        match = _PID_FILE.search(name)
        if not match:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, owned by someone else


def exposition() -> bytes:
    if MULTIPROC_DIR:
        _drop_dead_processes(MULTIPROC_DIR)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=MULTIPROC_DIR)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in settings.CHATTY_METRICS_ALLOWED_IPS:
        networks.append(ipaddress.ip_network(item, strict=False))
    return networks


def scraper_allowed(request: HttpRequest) -> bool:
    token = settings.CHATTY_METRICS_TOKEN
    if token:
        scheme, _, sent = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
            return True
    allowed = _allowed_networks()
    if allowed:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(address in network for network in allowed)
    return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: Prometheus' text format, for allowed scrapers only (404 to anyone else)."""
    if request.method not in ("GET", "HEAD") or not scraper_allowed(request):
        return HttpResponseNotFound(b"Not found.\n", content_type="text/plain")
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
