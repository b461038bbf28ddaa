"""Structured logs: a JSON formatter (one object per line) and a request-log middleware.

``LOG_FORMAT=json`` (the default unless DEBUG) makes every log record one JSON line:
``ts``, ``level``, ``logger``, ``msg`` and any extra fields given with ``extra={...}``.
The middleware writes one line per request on logger ``dlqadmin.request`` with method,
path (never the query string: it can hold search terms), status, duration in ms,
request id, user id and the CPU time the request's thread spent (``cpu_ms``). With
``DLQADMIN_SERVER_TIMING`` on (off by default; benchmarks use it) each response also carries
``Server-Timing: app;dur=<wall ms>, cpu;dur=<cpu ms>``. Audit actions are in the audit log; this is for operators.
"""

import datetime as _dt
import json
import logging
import time

from django.conf import settings
from django.utils.functional import empty

# Attributes every LogRecord has; anything else on a record came in through `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}

request_log = logging.getLogger("dlqadmin.request")


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "ts": _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _user_id(request):
    """The signed-in user's id if this request already loaded its user (no extra query)."""
    user = getattr(request, "user", None)
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)  # SimpleLazyObject until first used
    if wrapped is empty or not getattr(wrapped, "is_authenticated", False):
        return None
    return wrapped.pk


class RequestLogMiddleware:
    """One log line per request; sits right after RequestIdMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start, cpu_start = time.perf_counter(), time.thread_time()
        status = 500
        response = None
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            duration_ms = round((time.perf_counter() - start) * 1000, 1)
            cpu_ms = round((time.thread_time() - cpu_start) * 1000, 2)
            if response is not None and settings.DLQADMIN_SERVER_TIMING:
                response["Server-Timing"] = f"app;dur={duration_ms}, cpu;dur={cpu_ms}"
            level = logging.ERROR if status >= 500 else logging.INFO
            if request_log.isEnabledFor(level):  # building the record costs; skip it when filtered
                request_log.log(
                    level, "%s %s %s %sms", request.method, request.path, status, duration_ms,
                    extra={"method": request.method, "path": request.path, "status": status,
                           "duration_ms": duration_ms, "cpu_ms": cpu_ms,
                           "request_id": getattr(request, "request_id", ""), "user_id": _user_id(request)})
