"""Cross-cutting request handling: request ids and the 'Redis unreachable' state."""

import logging
import re
import uuid

from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render

from dlqadmin.asynq import DamagedData, PermissionRefused, RedisUnavailable

log = logging.getLogger(__name__)

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every request an id (or keep a sane one from a proxy) for logs and audit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def is_api_request(request):
    return request.path.startswith("/api/")


class RejectNulMiddleware:
    """A NUL character in a query or form parameter is refused with a clear 400.

    No search filter, reason, name or cursor needs one, and Postgres cannot store or
    compare it (it raised a DataError deep inside whatever view got it). Path segments
    are left alone: a queue name may hold any byte, and its view decides."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        bad = _nul_parameter(request.GET)
        if bad is None and request.method == "POST" and request.content_type in _FORM_TYPES:
            bad = _nul_parameter(request.POST)
        if bad is not None:
            detail = f"Parameter {bad!r} must not contain NUL characters."
            if is_api_request(request):
                return JsonResponse({"error": "bad_parameter", "detail": detail}, status=400)
            return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _nul_parameter(query):
    for key, values in query.lists():
        if "\x00" in key or any("\x00" in v for v in values if isinstance(v, str)):
            return key.replace("\x00", "\\x00")
    return None


class ApiErrorShapeMiddleware:
    """Under /api/ an error is always the API's JSON shape, whoever produced it (a
    decorator's bare 405, CSRF's HTML 403, a 413...): clients parse one format."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (is_api_request(request) and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")):
            status = response.status_code
            shaped = JsonResponse({"error": _CODES.get(status, "error"),
                                   "detail": response.reason_phrase or "The request failed."}, status=status)
            for header, value in response.items():  # security headers, Allow, Retry-After...
                if header.lower() not in ("content-type", "content-length"):
                    shaped[header] = value
            shaped.cookies = response.cookies
            return shaped
        return response


_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 414: "too_long", 429: "too_many_requests",
          500: "server_error", 503: "unavailable"}


class RedisUnavailableMiddleware:
    """Turn a lost Redis connection into a clear 503 page / JSON body, never a traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionRefused):
            # A deployment with read-only Redis credentials: an action is refused by
            # Redis itself (ACL), cleanly, before anything changed.
            log.warning("redis refused path=%s error=%s", request.path, exception)
            if is_api_request(request):
                return JsonResponse({"error": "redis_read_only", "detail": str(exception)}, status=403)
            return render(request, "core/redis_refused.html", {"detail": exception.detail}, status=403)
        if not isinstance(exception, RedisUnavailable):
            return None
        log.warning("redis unavailable path=%s error=%s", request.path, exception)
        if is_api_request(request):
            return JsonResponse(
                {"error": "redis_unavailable", "detail": "asynq's Redis is unreachable; try again shortly."},
                status=503,
            )
        # htmx polls get just the banner, swapped in place of the stale data.
        template = "core/redis_unavailable.html"
        if getattr(request, "htmx", False):
            template += "#banner"
        return render(request, template, status=503)


class DamagedDataMiddleware:
    """A key of the wrong type in asynq's Redis (any producer can write one) damages that
    queue, not the request: a clear 409 page / JSON body naming it, never a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DamagedData):
            return None
        log.warning("damaged asynq data path=%s error=%s", request.path[:200], exception)
        if is_api_request(request):
            return JsonResponse({"error": "damaged", "detail": f"This queue's data in Redis is damaged: {exception}"},
                                status=409)
        template = "core/damaged.html"
        if getattr(request, "htmx", False):
            template += "#banner"
        return render(request, template, {"problem": str(exception)}, status=409)
