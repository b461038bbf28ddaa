"""Liveness and readiness probes for load balancers, compose and Kubernetes.

``/healthz``: the process answers (touches nothing else). ``/readyz``: Postgres answers
``SELECT 1`` and asynq's Redis answers PING, each within a short timeout; 503 names
what failed. Neither needs a sign-in nor reveals anything beyond "ok" / "unreachable".
"""

import logging

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dlqadmin.access.checks import public_view
from dlqadmin.core.asynq_client import client

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2


@public_view
@never_cache
@require_GET
def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")


def _check_postgres() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = %s", [TIMEOUT_SECONDS * 1000])
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_redis() -> None:
    # The shared client already has 2 s connect and socket timeouts (asynq.connection).
    client().ping()


@public_view
@never_cache
@require_GET
def readyz(request):
    checks = {}
    for name, check in (("postgres", _check_postgres), ("redis", _check_redis)):
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            log.warning("readiness check failed: %s: %s", name, type(exc).__name__)
            checks[name] = "unreachable"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)
