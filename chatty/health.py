"""/healthz: is this process able to serve (database and, when configured, Redis)?

Probes (and Prometheus' scraper, /metrics) talk to a process by its address, not by the
site's name, and over plain http behind the TLS proxy: ProbeMiddleware answers them before
the host check (CommonMiddleware) and the https redirect (SecurityMiddleware) would refuse
them. Neither answer builds a URL from the Host header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


async def _redis_ping(url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    finally:
        await client.aclose()


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        logger.warning("health check: database unreachable", exc_info=True)
        checks["database"] = "unreachable"
    if settings.REDIS_URL:
        try:
            async_to_sync(_redis_ping)(settings.REDIS_URL)
            checks["redis"] = "ok"
        except Exception:
            logger.warning("health check: redis unreachable", exc_info=True)
            checks["redis"] = "unreachable"
    else:
        checks["redis"] = "not configured"
    healthy = all(v in ("ok", "not configured") for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)


class ProbeMiddleware:
    """First in MIDDLEWARE: /healthz and /metrics answer whatever the Host header says."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz":
            return healthz(request)
        if request.path_info == "/metrics":
            from chatty.metrics import metrics_view

            return metrics_view(request)
        return self.get_response(request)
