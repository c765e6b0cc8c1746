"""The JSON API's edge: one decorator for views, one middleware for everything else.

Every answer under /api/ is JSON, errors included: `{"error": code, "detail": text}`
(SPEC §3). The decorator handles methods, authentication (bearer token or session + CSRF),
body parsing and domain errors; the middleware turns whatever Django itself answers (404,
CSRF failure, body too large, a crash) into the same shape.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from chatty.errors import ChattyError, Invalid, Unauthenticated

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

_STATUS_CODES = {
    400: ("invalid", "The request is not valid."),
    401: ("unauthenticated", "Sign in first."),
    403: ("forbidden", "You may not do that."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    409: ("conflict", "That already exists."),
    413: ("too_large", "The request body is larger than 1 MiB."),
    429: ("rate_limited", "Too many requests; slow down."),
    500: ("server_error", "Something went wrong on our side."),
}


def error_response(status: int, code: str | None = None, detail: str | None = None) -> JsonResponse:
    default_code, default_detail = _STATUS_CODES.get(status, ("error", "The request failed."))
    return JsonResponse({"error": code or default_code, "detail": detail or default_detail}, status=status)


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


class ApiErrorMiddleware:
    """Outermost middleware: under /api/, no answer is an HTML page or a stack trace."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, detail="Content-Length is not a number.")
        # A few paths take more than the 1 MiB of a JSON body (the upload's file, multipart).
        limit = settings.CHATTY_BODY_LIMITS.get(request.path)
        if length > (limit or settings.DATA_UPLOAD_MAX_MEMORY_SIZE):
            detail = f"The request body is larger than {limit // 2**20} MiB." if limit else None
            return error_response(413, detail=detail)
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response):
            # CSRF failures already answer JSON (csrf_failure); anything else HTML becomes JSON here.
            return error_response(response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, RequestDataTooBig):
            return error_response(413)
        if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
            return error_response(
                400,
                detail=_("Too many query or form fields (at most %(max)d).")
                % {"max": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS},
            )
        logger.exception("Unhandled error in %s %s", request.method, request.path)
        return error_response(500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON under /api/, a friendly page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return error_response(403, "forbidden", "CSRF token missing or incorrect.")
    from django.shortcuts import render

    return render(request, "403_csrf.html", {"reason": reason}, status=403)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:  # type: ignore[override]
        return error_response(403, "forbidden", "CSRF token missing or incorrect.")


_csrf_check = _CsrfCheck(lambda request: HttpResponse())


@functools.cache
def _bearer_parser() -> Callable[[str], Any]:
    # The one bearer parser is the accounts app's (settings.CHATTY_BEARER_AUTH); named by
    # setting, as Django names its user model, because the ground imports no app.
    return import_string(settings.CHATTY_BEARER_AUTH)


def _user_from_bearer(token: str) -> Any:
    return _bearer_parser()(token)


def authenticate(request: HttpRequest) -> Any:
    """The user behind a request: the bearer token when one is sent, else the session.

    A request carrying a bearer header is judged by the token alone, never by a cookie the
    browser may have added; so it needs no CSRF token.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
        user = _user_from_bearer(token.strip())
        if user is None:
            raise Unauthenticated("The token is invalid, expired or its user is deactivated.")
        request._chatty_bearer = True
        request._chatty_bearer_token = token.strip()
        return user
    user = request.user
    if not user.is_authenticated or not user.is_active:
        raise Unauthenticated()
    return user


def parse_json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        raw = request.body
    except RequestDataTooBig:
        raise
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The body is not valid JSON.") from None
    except RecursionError:
        raise Invalid("The body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise Invalid("The body must be a JSON object.")
    try:
        # A "\\ud800" escape (or bytes json.loads lets through with surrogatepass) gives a
        # lone surrogate, which no database can store and no answer can echo: not text.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid("The body holds a lone surrogate (\\ud800-\\udfff), which is not text.") from None
    return data


def api_view(*methods: str, auth: bool = True, json_body: bool = True) -> Callable:
    """Wrap a JSON view: `fn(request, user, body)` returns `(status, payload)` or a response.
    `json_body=False`: the view reads request.POST / request.FILES itself (multipart)."""

    allowed = {m.upper() for m in methods}
    if "GET" in allowed:
        allowed.add("HEAD")  # as Django's own views do; the server drops the body

    def decorate(fn: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(fn)
        def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in allowed:
                response = error_response(405)
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            try:
                user = authenticate(request) if auth else None
                if request.method not in {"GET", "HEAD", "OPTIONS"} and not getattr(request, "_chatty_bearer", False):
                    rejected = _csrf_check.process_view(request, None, (), {})
                    if rejected is not None:
                        return rejected
                json_method = request.method in {"POST", "PUT", "PATCH"}
                body = parse_json_body(request) if json_method and json_body else {}
                result = fn(request, user, body, *args, **kwargs)
            except RequestDataTooBig:
                return error_response(413)
            except ChattyError as exc:
                return error_response(exc.status, exc.code, exc.detail)
            if isinstance(result, HttpResponse):
                return result
            status, payload = result
            return JsonResponse(payload, status=status, json_dumps_params={"ensure_ascii": False})

        return view

    return decorate


@csrf_exempt  # nothing to protect where nothing exists: a 404, not a CSRF 403
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return error_response(404, detail=f"There is no API endpoint at {request.path}.")
