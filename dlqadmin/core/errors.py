"""The project's error handlers (handler400/403/404/500 in dlqadmin/urls.py).

Under /api/ every error is the API's JSON shape, `{"error": <code>, "detail": <text>}`,
never an HTML page. A lost Postgres connection answers 503, like a lost Redis one
(RedisUnavailableMiddleware): Django closes the broken connection at the end of the
request and the next request connects afresh, so service resumes by itself.

The 503 page is rendered without the request: the context processors would read the
session and the user, from the database that is down.
"""

import logging
import sys

from django.db import DataError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from dlqadmin.asynq import RedisUnavailable

log = logging.getLogger(__name__)

try:  # what the driver raises before Django wraps it (a connection made outside the ORM)
    from psycopg import OperationalError as _DriverOperationalError
except ImportError:  # pragma: no cover
    _DriverOperationalError = OperationalError

_DB_DOWN = (OperationalError, InterfaceError, _DriverOperationalError)


def is_api(request):
    return request.path.startswith("/api/")


def api_error(status, code, detail):
    return JsonResponse({"error": code, "detail": detail}, status=status)


def _causes(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def database_unavailable(exc):
    """True if `exc` (or what caused it, e.g. an AuditWriteError) is a lost connection."""
    return any(isinstance(e, _DB_DOWN) for e in _causes(exc))


def unavailable_response(request, what):
    """503 for a dependency that is down: JSON on /api/, a plain page elsewhere."""
    if what == "postgres":
        code, detail = "database_unavailable", "The database is unreachable; try again shortly."
    else:
        code, detail = "redis_unavailable", "asynq's Redis is unreachable; try again shortly."
    if is_api(request):
        response = api_error(503, code, detail)
    else:
        html = render_to_string("core/unavailable.html", {"what": what, "detail": detail})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = "5"
    return response


def _htmx_fragment(request):
    """True for an htmx request that swaps a fragment: an error answers with a message
    for that spot (base.html lets htmx swap 4xx), not a whole page inside the page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


def _error_fragment(request, status, title, detail):
    back = request.htmx.current_url_abs_path or "/"
    html = render_to_string("core/_error_fragment.html", {"title": title, "detail": detail, "back": back},
                            request=request)
    return HttpResponse(html, status=status)


def bad_request(request, exception, template_name="400.html"):
    if is_api(request):
        return api_error(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception, template_name="403.html"):
    if is_api(request):
        return api_error(403, "forbidden", "You may not do this.")
    if _htmx_fragment(request):
        return _error_fragment(request, 403, "You may not do this",
                               str(exception) or "Your roles do not allow this action.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception, template_name="404.html"):
    if is_api(request):
        return api_error(404, "not_found", "No such API path, queue or task.")
    if _htmx_fragment(request):
        return _error_fragment(request, 404, "Not found",
                               "It is gone, or you may not see it: the queue or task may have changed meanwhile.")
    return defaults.page_not_found(request, exception)


def server_error(request, template_name="500.html"):
    exc = sys.exc_info()[1]
    if exc is not None and database_unavailable(exc):
        log.warning("database unavailable path=%s error=%s", request.path, exc)
        return unavailable_response(request, "postgres")
    if exc is not None and any(isinstance(e, RedisUnavailable) for e in _causes(exc)):
        return unavailable_response(request, "redis")
    if exc is not None and any(isinstance(e, DataError) for e in _causes(exc)):
        # A value from the request Postgres cannot hold (a number out of range, a NUL in a
        # path segment...): the client's to fix, and nothing was written.
        log.warning("value refused by the database path=%s error=%s", request.path, exc)
        detail = "A value in the request is out of range or contains characters that cannot be stored."
        if is_api(request):
            return api_error(400, "bad_parameter", detail)
        return HttpResponse(detail, status=400, content_type="text/plain; charset=utf-8")
    if is_api(request):
        return api_error(500, "server_error", "Something went wrong on our side; it has been logged.")
    return defaults.server_error(request)
