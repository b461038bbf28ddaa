"""JSON API v1 of the vault. Same access rule, services, masking and audit as the UI."""

from urllib.parse import urlencode

from django.urls import reverse

from dlqadmin.api import bodies

from dlqadmin.access.checks import queue_view
from dlqadmin.api.auth import admin_scope_refusal, api_view, error
from dlqadmin.api.serializers import rfc3339, task_info
from dlqadmin.asynq import RedisUnavailable
from dlqadmin.core.responses import JsonResponse
from dlqadmin.operations.api_views import operation_json

from . import selectors, services

_MAX_LIMIT = 200


def entry_url(request, e):
    return request.build_absolute_uri(reverse("api:vault_entry", args=[e.queue, e.pk]))


def entry_json(request, e, *, detail=None):
    data = {
        "id": e.pk,
        "url": entry_url(request, e),
        "queue": e.queue,
        "task_id": e.task_id,
        "task_url": request.build_absolute_uri(reverse("api:task", args=[e.queue, e.task_id])),
        "type": e.task_type,
        "status": e.status,
        "left_state": e.left_state or None,
        "archived_at": rfc3339(e.archived_at),
        "captured_at": rfc3339(e.captured_at),
        "status_changed_at": rfc3339(e.status_changed_at),
        "redriven_at": rfc3339(e.redriven_at),
        "retried": e.retried,
        "max_retry": e.max_retry,
        "size": e.size,
        "sha256": e.sha256,
        "damaged": e.damaged or None,
    }
    if detail is None:
        # Lists carry the masked texts search runs over.
        data["last_err"] = {"masked": True, "value": e.error_masked}
        data["payload_preview"] = {"masked": True, "value": e.payload_masked}
    else:
        data["task"] = detail
    return data


def _limit(request):
    raw = request.GET.get("limit") or "50"
    try:
        n = int(raw)
    except ValueError:
        raise selectors.BadFilter("limit must be a whole number") from None
    if not 1 <= n <= _MAX_LIMIT:
        raise selectors.BadFilter(f"limit must be between 1 and {_MAX_LIMIT}")
    return n


@api_view()
@queue_view()
def vault(request, queue):
    """GET <queue url>vault: the task filters (type, type_prefix, error, since, until,
    retried_min, retried_max, q) plus status, task_id, payload; ``before`` pages."""
    try:
        f = selectors.VaultFilter.from_query(request.GET)
        limit = _limit(request)
        before = None
        if request.GET.get("before"):
            score, _, pk = request.GET["before"].partition(":")
            try:
                before = (float(score), int(pk))
            except ValueError:
                raise selectors.BadFilter("before must look like <score>:<id>") from None
    except selectors.BadFilter as exc:
        return error(400, "bad_parameter", str(exc))
    rows, nxt = selectors.page(queue.name, f, before=before, size=limit)
    total, capped = selectors.count(queue.name, f)
    next_url = None
    if nxt is not None:
        query = f.to_query() | {"limit": str(limit), "before": f"{nxt[0]!r}:{nxt[1]}"}
        next_url = request.build_absolute_uri(reverse("api:vault", args=[queue.name]) + "?" + urlencode(query))
    return JsonResponse({
        "entries": [entry_json(request, r.entry) for r in rows],
        "total": total,
        "total_capped": capped,
        "next": next_url,
        "summary": _summary(queue.name),
    })


def _summary(name):
    s = selectors.summary(name)
    return {"captured": s.captured, "lost": s.lost, "lag_seconds": round(s.lag_seconds, 3),
            "last_pass_at": rfc3339(s.last_pass_at), "by_status": selectors.status_counts(name)}


def _entry_or_404(queue, pk):
    return selectors.entry(queue.name, pk)


@api_view()
@queue_view()
def entry(request, queue, pk):
    e = _entry_or_404(queue, pk)
    if e is None:
        return error(404, "not_found", "No such vault entry.")
    reveal = services.active_reveal(request.user, queue, e) is not None
    view = selectors.present(e, reveal=reveal)
    deaths, _ = selectors.history(e)
    data = entry_json(request, e, detail=task_info(request, view))
    data["history"] = [{"id": d.pk, "url": entry_url(request, d), "archived_at": rfc3339(d.archived_at),
                        "status": d.status, "retried": d.retried} for d in deaths]
    return JsonResponse(data)


_RUN_STATUS = {"done": 200, "not_found": 404, "live": 409, "purged": 409, "damaged": 409, "unreadable": 409}


@api_view(methods=("POST",))
@queue_view()
def run(request, queue, pk):
    """POST <vault entry url>run: redrive this death (asynq's enqueue; refused when live)."""
    try:
        results = services.redrive(request, queue, [pk])
    except services.Denied as exc:
        return error(403, "forbidden", str(exc))
    except services.Refused as exc:
        return error(400, "bad_parameter", str(exc))
    except RedisUnavailable:
        return error(503, "redis_unavailable", "Redis is unreachable; nothing was changed.")
    r = results[pk]
    data = {"ok": r.ok, "outcome": r.outcome, "state": r.state or None, "message": r.message}
    if not r.ok:  # the API's error shape too
        data["error"], data["detail"] = r.outcome, r.message
    e = selectors.entry(queue.name, pk)
    if e is not None:
        data["entry"] = entry_json(request, e)
    return JsonResponse(data, status=_RUN_STATUS.get(r.outcome, 409))


@api_view(methods=("POST",))
@queue_view()
def bulk(request, queue):
    """POST <queue url>vault/bulk {"action": "run|purge", "filter": {...}} -> 202 operation."""
    try:
        body = bodies.read_object(request)
    except bodies.BadBody as exc:
        return error(400, exc.code, exc.detail)
    flt = body.get("filter") or {}
    if not isinstance(flt, dict):
        return error(400, "bad_parameter", "filter must be an object of search parameters.")
    if body.get("action") == "purge":  # only admins purge: an operate token of an admin may not
        refusal = admin_scope_refusal(request)
        if refusal is not None:
            return refusal
    try:
        f = selectors.VaultFilter.from_query({str(k): (None if v is None else str(v)) for k, v in flt.items()})
        op = services.start_bulk(request, queue, body.get("action"), f, reason=body.get("reason") or "")
    except selectors.BadFilter as exc:
        return error(400, "bad_parameter", str(exc))
    except services.Denied as exc:
        return error(403, "forbidden", str(exc))
    except services.Refused as exc:
        return error(400, "bad_parameter", str(exc))
    data = operation_json(request, op)
    response = JsonResponse(data, status=202)
    response["Location"] = data["url"]
    return response
