"""The API reference (SPEC §11): the OpenAPI 3.1 document and the page that renders it.

The document is a file kept beside the code (chatty/openapi.json); tests validate real
answers against it and fail when an /api/ route is missing from it, so it cannot drift.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

OPENAPI_FILE = Path(__file__).with_name("openapi.json")


@functools.cache
def openapi_document() -> dict[str, Any]:
    return json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))


@require_safe
def openapi_json(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(openapi_document(), json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_safe
def api_docs(request: HttpRequest) -> HttpResponse:
    return render(request, "api/docs.html", {"openapi_url": reverse("api-openapi")})
