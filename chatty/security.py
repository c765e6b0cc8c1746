"""Security headers beyond Django's own: the Content-Security-Policy is django-csp's (settings
CONTENT_SECURITY_POLICY); this module adds the Permissions-Policy and receives the browsers'
CSP violation reports."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from chatty import metrics

logger = logging.getLogger("chatty.csp")

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"
MAX_REPORT_BYTES = 16 * 1024


class PermissionsPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


def _reports(raw: bytes) -> list[dict[str, Any]]:
    """The violations of a report body: the `report-uri` shape ({"csp-report": {...}}) or the
    Reporting API's list of {"type": "csp-violation", "body": {...}}."""
    data = json.loads(raw)
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        return [data["csp-report"]]
    if isinstance(data, list):
        return [item["body"] for item in data if isinstance(item, dict) and isinstance(item.get("body"), dict)]
    return []


def _no_query(value: Any) -> str:
    return str(value or "").split("?", 1)[0][:300]


@csrf_exempt
def csp_report(request: HttpRequest) -> HttpResponse:
    """POST /csp-report: log each violation (directive and addresses without their query
    strings) and count it. Always 204: a browser does nothing with the answer."""
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    raw = request.body[:MAX_REPORT_BYTES] if int(request.META.get("CONTENT_LENGTH") or 0) <= MAX_REPORT_BYTES else b""
    try:
        reports = _reports(raw) if raw else []
    except (ValueError, UnicodeDecodeError, RecursionError):
        reports = []
    for report in reports[:10]:
        directive = (
            report.get("effective-directive")
            or report.get("effectiveDirective")
            or report.get("violated-directive", "")
        )
        blocked = report.get("blocked-uri") or report.get("blockedURL")
        page = report.get("document-uri") or report.get("documentURL")
        metrics.csp_violation(str(directive).split(" ", 1)[0][:40] or "unknown")
        logger.warning("CSP violation: %s blocked %s on %s", _no_query(directive), _no_query(blocked), _no_query(page))
    return HttpResponse(status=204)
