"""JSON API v1 (triage actions). Same services, rights and audit as the UI."""

from urllib.parse import urlencode

from django.shortcuts import get_object_or_404
from django.urls import reverse

from dlqadmin.access.checks import get_queue_or_404, queue_name_scope, queue_view, signed_in_view
from dlqadmin.api import bodies
from dlqadmin.api.auth import api_view, error
from dlqadmin.asynq import RedisUnavailable
from dlqadmin.core import names as qnames
from dlqadmin.core.responses import JsonResponse

from . import selectors, services
from .models import Operation

_STATUS = {"done": 200, "not_found": 404, "queue_not_found": 404}
_TRUE, _FALSE = ("true", "1", "yes"), ("", "false", "0", "no")


def _body(request):
    """(the body as a dict with well-typed members, None) or (None, a 400 answer)."""
    try:
        return bodies.read_object(request), None
    except bodies.BadBody as exc:
        return None, error(400, exc.code, exc.detail)


def _result(result, **extra):
    data = {"ok": result.ok, "outcome": result.outcome, "state": result.state, "message": result.message, **extra}
    status = 200 if result.ok else _STATUS.get(result.outcome, 409)
    if not result.ok:  # the API's error shape too, alongside the action's own fields
        data["error"] = result.outcome
        data["detail"] = result.message
    return JsonResponse(data, status=status)


def _call(fn):
    """Map the services' exceptions to API errors."""
    try:
        return fn()
    except services.Denied as exc:
        return error(403, "forbidden", str(exc))
    except services.Refused as exc:
        return error(400, "bad_parameter", str(exc))
    except RedisUnavailable:
        return error(503, "redis_unavailable", "Redis is unreachable; nothing was changed.")


def operation_json(request, op):
    return {
        "id": op.pk,
        "url": request.build_absolute_uri(reverse("api:operation", args=[op.pk])),
        "status": op.status,
        "action": op.action,
        "queue": qnames.display(op.queue),
        "state": op.state or None,
        "filter": services.shown_filter(op),
        "rate": op.rate,
        "total": op.total,
        "done": op.done,
        "failed": op.failed,
        "started_by": op.started_by_name,
        "created_at": _ts(op.created_at),
        "started_at": _ts(op.started_at),
        "finished_at": _ts(op.finished_at),
        "last_error": op.last_error or None,
        "failures": [{"id": i.task_id, "outcome": i.outcome, "state": i.state or None}
                     for i in op.items.all()[:1000]],
    }


def _ts(dt):
    from dlqadmin.api.serializers import rfc3339

    return rfc3339(dt)


def _task_action(service):
    @api_view(methods=("POST",))
    @queue_view()
    def view(request, queue, task_id):
        body, refused = _body(request)
        if refused:
            return refused
        return _call(lambda: _result(service(request, queue, task_id, body.get("state")), id=task_id,
                                     queue=queue.name))

    return view


run = _task_action(services.run_task)
delete = _task_action(services.delete_task)
archive = _task_action(services.archive_task)
retry_fresh = _task_action(services.retry_fresh)


@api_view(methods=("POST",))
@queue_view()
def cancel(request, queue, task_id):
    return _call(lambda: _result(services.cancel_task(request, queue, task_id), id=task_id, queue=queue.name))


@api_view(methods=("POST",))
@queue_view()
def edit(request, queue, task_id):
    body, refused = _body(request)
    if refused:
        return refused
    if "payload" not in body:
        return error(400, "bad_parameter", "Send {\"payload\": ..., \"reason\": \"...\"}.")
    return _call(lambda: _result(
        services.edit_and_run(request, queue, task_id, body["payload"], body.get("reason"), body.get("version")),
        id=task_id, queue=queue.name))


def delete_queue(request, queue):
    """DELETE <queue url>[?force=true] (answered by the queue view, which owns the URL)."""
    force = request.GET.get("force", "").lower()
    if force not in _TRUE + _FALSE:
        return error(400, "bad_parameter", "force must be true or false.")
    return _call(lambda: _result(services.delete_queue(request, queue, force=force in _TRUE), queue=queue.name))


@api_view(methods=("POST",))
@queue_view()
def pause(request, queue):
    return _call(lambda: _result(services.pause(request, queue), queue=queue.name))


@api_view(methods=("POST",))
@queue_view()
def resume(request, queue):
    return _call(lambda: _result(services.resume(request, queue), queue=queue.name))


@api_view(methods=("POST",))
@queue_view()
def batch(request, queue):
    body, refused = _body(request)
    if refused:
        return refused

    def go():
        op, results = services.batch(request, queue, body.get("action"), body.get("ids"), body.get("state"))
        return JsonResponse({
            "operation": operation_json(request, op)["url"],
            "done": op.done,
            "failed": op.failed,
            "results": [{"id": i, "ok": r.ok, "outcome": r.outcome, "state": r.state, "message": r.message}
                        for i, r in results.items()],
        })

    return _call(go)


@api_view(methods=("POST",))
@queue_view()
def bulk(request, queue):
    body, refused = _body(request)
    if refused:
        return refused

    def go():
        op = services.start_bulk(request, queue, body.get("action"), body.get("state"), body.get("filter"),
                                 body.get("rate"), body.get("group"), body.get("reason") or "")
        response = JsonResponse(operation_json(request, op), status=202)
        response["Location"] = operation_json(request, op)["url"]
        return response

    return _call(go)


def _operation(request, op_id):
    op = get_object_or_404(Operation, pk=op_id)
    return op, get_queue_or_404(request.user, op.queue, request=request)


def operation_summary(request, op):
    """An operation in a list: operation_json without the per-task failures."""
    data = operation_json(request, op)
    del data["failures"]
    return data


@api_view()
@signed_in_view
def operations(request):
    try:
        rows, before = selectors.operations(queue_name_scope(request.user), request.GET)
    except selectors.BadFilter as exc:
        return error(400, "bad_parameter", str(exc))
    following = None
    if before is not None:
        following = request.build_absolute_uri(f"{request.path}?{urlencode({**request.GET.dict(), 'before': before})}")
    return JsonResponse({"operations": [operation_summary(request, op) for op in rows], "next": following})


@api_view()
@signed_in_view
def operation(request, op_id):
    op, _ = _operation(request, op_id)
    return JsonResponse(operation_json(request, op))


@api_view(methods=("POST",))
@signed_in_view
def operation_cancel(request, op_id):
    op, queue = _operation(request, op_id)

    def go():
        current, changed = services.cancel_bulk(request, op, queue)
        if not changed:
            return JsonResponse(operation_json(request, current) | {"error": "not_active",
                                "detail": f"The operation is already {current.status}."}, status=409)
        return JsonResponse(operation_json(request, current))

    return _call(go)
