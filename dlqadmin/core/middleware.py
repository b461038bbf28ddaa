"""Cross-cutting request handling: request ids and the 'Redis unreachable' state."""

import logging
import re
import uuid

from django.http import JsonResponse
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
