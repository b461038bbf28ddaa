"""Triage action views: URL -> access rule -> one service call -> redirect or fragment.

Only POST changes anything. Queue not visible -> 404 (queue_view); visible but
without the operate right -> 403, audited as denied by the service. A task that
changed state meanwhile is a message on the page, never an error page.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dlqadmin.access.checks import get_queue_or_404, has_global, may, queue_name_scope, queue_view, signed_in_view
from dlqadmin.access.roles import MANAGE_ACCESS, OPERATE_QUEUE, REVEAL_QUEUE
from dlqadmin.asynq import QueueNotFound, RedisUnavailable, TASK_STATES
from dlqadmin.triage import selectors as triage_selectors
from dlqadmin.core import names
from dlqadmin.triage import services as triage_services

from . import selectors, services
from .models import Operation

SINGLE = {
    "run": services.run_task,
    "delete": services.delete_task,
    "archive": services.archive_task,
    "retry-fresh": services.retry_fresh,
}


def _task_url(queue, task_id):
    return reverse("triage:task", args=[queue.name, task_id])


def _queue_url(queue, state=None):
    url = reverse("triage:queue", args=[queue.name])
    return f"{url}?state={state}" if state in TASK_STATES else url


def _say(request, result):
    (messages.success if result.ok else messages.warning)(request, result.message)


def _unavailable(request, back):
    messages.error(request, "Redis is unreachable: nothing was changed. Try again in a moment.")
    return redirect(back)


@require_POST
@queue_view()
def task_action(request, queue, task_id, action):
    state = request.POST.get("state") or None
    try:
        result = SINGLE[action](request, queue, task_id, state)
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except RedisUnavailable:
        return _unavailable(request, _task_url(queue, task_id))
    _say(request, result)
    if action == "delete" and result.ok or result.outcome == "not_found":
        return redirect(_queue_url(queue, state))
    return redirect(_task_url(queue, task_id))


@require_POST
@queue_view()
def cancel_task(request, queue, task_id):
    try:
        result = services.cancel_task(request, queue, task_id)
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except RedisUnavailable:
        return _unavailable(request, _task_url(queue, task_id))
    _say(request, result)
    return redirect(_task_url(queue, task_id))


@require_POST
@queue_view()
def queue_action(request, queue, action):
    service = services.pause if action == "pause" else services.resume
    try:
        result = service(request, queue)
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except RedisUnavailable:
        return _unavailable(request, _queue_url(queue))
    _say(request, result)
    return redirect(_queue_url(queue, request.POST.get("state")))


@queue_view()
def delete_queue(request, queue):
    """GET: what the queue holds and a typed confirmation (admins). POST: delete it."""
    if not has_global(request.user, MANAGE_ACCESS):
        if request.method == "POST":
            try:
                services.delete_queue(request, queue)  # records the denial, then refuses
            except services.Denied:
                pass
        raise PermissionDenied("Only admins may delete a queue.")
    try:
        info = triage_selectors.queue_info(queue.name)
    except RedisUnavailable:
        return _unavailable(request, _queue_url(queue))
    except QueueNotFound:
        raise Http404("No such queue.") from None
    context = {"queue": info, "back": _queue_url(queue), "force": request.POST.get("force") == "1"}
    if request.method != "POST":
        return render(request, "operations/delete_queue.html", context)
    if request.POST.get("confirm_name", "") != queue.name:
        context["error"] = "Type the queue name exactly to confirm."
        return render(request, "operations/delete_queue.html", context, status=400)
    try:
        result = services.delete_queue(request, queue, force=context["force"])
    except RedisUnavailable:
        return _unavailable(request, _queue_url(queue))
    if not result.ok:
        context["error"] = result.message
        return render(request, "operations/delete_queue.html", context, status=409)
    messages.success(request, result.message)
    return redirect(reverse("triage:overview"))


# --- edit payload, then run --------------------------------------------------------------

def _editor_context(request, queue, task_id, *, text=None, version=None, error=None):
    raw, msg = services.read_for_edit(queue.name, task_id)
    if raw is None or msg is None:
        raise Http404("No such task.")
    is_json = services._is_json(msg.payload)
    if text is None:
        text = services.editable_payload(msg.payload)
    return {"queue_name": queue.name, "task_id": task_id, "task_type": msg.type, "text": text,
            "version": version or services.msg_version(raw), "is_json": is_json,
            "retried": msg.retried, "max_retry": msg.retry, "fresh": request.POST.get("fresh") == "1",
            "error": error, "min_reason": settings.DLQADMIN_REVEAL_MIN_REASON}


@queue_view()
def edit(request, queue, task_id):
    """GET: the editor (raw payload: needs operate + reveal and a live reveal of this task).
    POST: write it and run the task (compare-and-set)."""
    user = request.user
    if not (may(user, OPERATE_QUEUE, queue) and may(user, REVEAL_QUEUE, queue)):
        if request.method == "POST":
            try:
                services.edit_and_run(request, queue, task_id, "", "")  # records the denial
            except services.Denied as exc:
                raise PermissionDenied(str(exc)) from None
        raise PermissionDenied("Editing a payload needs the operator and payload_viewer roles on this queue.")
    if request.method != "POST":
        if triage_services.active_reveal(user, queue, task_id) is None:
            messages.info(request, "Reveal the task's raw data first (with a reason); then you can edit its payload.")
            return redirect(_task_url(queue, task_id))
        return render(request, "operations/edit.html", _editor_context(request, queue, task_id))
    text = request.POST.get("payload", "")
    version = request.POST.get("version", "")
    try:
        result = services.edit_and_run(request, queue, task_id, text, request.POST.get("reason"), version or None,
                                       fresh=request.POST.get("fresh") == "1")
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except services.Refused as exc:
        context = _editor_context(request, queue, task_id, text=text, version=version, error=str(exc))
        return render(request, "operations/edit.html", context, status=400)
    except RedisUnavailable:
        return _unavailable(request, _task_url(queue, task_id))
    _say(request, result)
    if result.ok or result.outcome == "not_found":
        return redirect(_task_url(queue, task_id) if result.ok else _queue_url(queue))
    context = _editor_context(request, queue, task_id, text=text, version=version, error=result.message)
    return render(request, "operations/edit.html", context, status=409)


# --- selected tasks ---------------------------------------------------------------------

def _fragment(request, template, context, status=200):
    name = f"{template}#body" if request.htmx and not request.htmx.boosted else template
    return render(request, name, context, status=status)


@require_POST
@queue_view()
def batch(request, queue):
    action = "cancel" if request.POST.get("all_active") else request.POST.get("action", "")
    state = request.POST.get("state") or None
    ids = request.POST.getlist("ids")
    if request.POST.get("all_page"):
        ids = request.POST.getlist("page_ids")
    ids = list(dict.fromkeys(names.from_form_value(i) for i in ids if i))
    context = {"queue_name": queue.name, "action": action, "state": state, "ids": ids,
               "back": _queue_url(queue, state)}
    if action not in services.BATCH_ALLOWED:
        context["error"] = "Choose run, delete, archive or cancel."
        return _fragment(request, "operations/batch.html", context, status=400)
    if action == "cancel" and request.POST.get("all_active") and request.POST.get("confirmed") != "1":
        # "Cancel all active": the ids active now; the confirmation lists what it sends.
        try:
            ids = context["ids"] = services.active_ids(queue)
            context["all_active"] = True
        except RedisUnavailable:
            context["error"] = "Redis is unreachable: nothing was changed."
            return _fragment(request, "operations/batch.html", context, status=503)
        if not ids:
            context["error"] = "No task of this queue is active now: there is nothing to cancel."
            return _fragment(request, "operations/batch.html", context, status=409)
    if not ids:
        context["error"] = "Select at least one task first."
        return _fragment(request, "operations/batch.html", context, status=400)
    if not may(request.user, OPERATE_QUEUE, queue):
        try:
            services.batch(request, queue, action, ids, state)
        except services.Denied as exc:
            raise PermissionDenied(str(exc)) from None
    try:
        services.check_batch(action, ids, state)
    except services.Refused as exc:
        return _fragment(request, "operations/batch.html", context | {"error": str(exc)}, status=400)
    if request.POST.get("confirmed") != "1":
        return _fragment(request, "operations/batch.html", context | {"confirm": True})
    try:
        op, results = services.batch(request, queue, action, ids, state)
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except services.Refused as exc:
        return _fragment(request, "operations/batch.html", context | {"error": str(exc)}, status=400)
    except RedisUnavailable:
        context["error"] = "Redis is unreachable: nothing was changed."
        return _fragment(request, "operations/batch.html", context, status=503)
    return _fragment(request, "operations/batch.html", context | {"op": op, "results": list(results.items())})


# --- bulk ----------------------------------------------------------------------------------

_FILTER_KEYS = ("type", "type_prefix", "error", "since", "until", "group", "retried_min", "retried_max", "q",
                "reason", "id")


@require_POST
@queue_view()
def bulk(request, queue):
    """First POST: a confirmation with the exact count. Confirmed POST: start it."""
    action = request.POST.get("action", "")
    state = request.POST.get("state", "")
    group = names.from_form_value(request.POST.get("agg_group") or "") or None
    rate = request.POST.get("rate") or None
    query = {k: request.POST[k] for k in _FILTER_KEYS if request.POST.get(k, "") != ""}
    context = {"queue_name": queue.name, "action": action, "state": state, "agg_group": group, "rate": rate,
               "filter": query, "back": _queue_url(queue, state), "verb": services.IMPERATIVES.get(action, action)}
    try:
        if request.POST.get("confirmed") != "1":
            count = services.preview_bulk(request, queue, action, state, query, rate, group)
            return _fragment(request, "operations/bulk_confirm.html", context | {"count": count})
        if action == "delete" and request.POST.get("confirm_name", "").strip() != queue.name:
            count = services.preview_bulk(request, queue, action, state, query, rate, group)
            context |= {"count": count, "error": "Type the queue name exactly to confirm deleting these tasks."}
            return _fragment(request, "operations/bulk_confirm.html", context, status=400)
        op = services.start_bulk(request, queue, action, state, query, rate, group, request.POST.get("note", ""))
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    except services.Refused as exc:
        return _fragment(request, "operations/bulk_confirm.html", context | {"error": str(exc)}, status=400)
    except RedisUnavailable:
        return _fragment(request, "operations/bulk_confirm.html",
                         context | {"error": "Redis is unreachable: nothing was started."}, status=503)
    url = reverse("operations:detail", args=[op.pk])
    if request.htmx:
        response = render(request, "operations/bulk_confirm.html#body", context | {"started": op})
        response["HX-Redirect"] = url
        return response
    return redirect(url)


# --- an operation ---------------------------------------------------------------------------

def _operation(request, op_id):
    """The operation if the user may see its queue (404 otherwise) and its Queue."""
    op = get_object_or_404(Operation, pk=op_id)
    queue = get_queue_or_404(request.user, op.queue, request=request)
    return op, queue


def _op_context(request, op, queue):
    return {"op": op, "shown_filter": services.shown_filter(op),
            "may_operate": may(request.user, OPERATE_QUEUE, queue),
            "failures": op.items.all()[:200], "poll_seconds": 1}


LIST_PAGE_SIZE = 50


@signed_in_view
def operation_list(request):
    """Tracked operations on the queues the user may view, newest first, filtered by
    queue, status and who started them."""
    query = {k: request.GET.get(k, "") for k in ("queue", "status", "started_by", "before")}
    query["limit"] = str(LIST_PAGE_SIZE)
    context = {"query": query, "statuses": [s for s, _ in Operation.STATUSES], "error": None}
    try:
        rows, before = selectors.operations(queue_name_scope(request.user), query)
    except selectors.BadFilter as exc:
        context |= {"error": str(exc), "rows": [], "before": None}
        return render(request, "operations/list.html", context, status=400)
    following = None
    if before is not None:
        following = "?" + urlencode({**{k: v for k, v in query.items() if v and k != "limit"}, "before": before})
    return render(request, "operations/list.html", context | {"rows": rows, "following": following})


@signed_in_view
def operation(request, op_id):
    op, queue = _operation(request, op_id)
    name = "operations/operation.html"
    if request.htmx and not request.htmx.boosted:
        name += "#progress"
    return render(request, name, _op_context(request, op, queue))


@require_POST
@signed_in_view
def operation_action(request, op_id, action):
    op, queue = _operation(request, op_id)
    service = {"cancel": services.cancel_bulk, "pause": services.pause_bulk, "resume": services.resume_bulk}[action]
    try:
        op, changed = service(request, op, queue)
    except services.Denied as exc:
        raise PermissionDenied(str(exc)) from None
    if changed:
        messages.success(request, {"cancel": "Operation cancelled; tasks already handled stay as they are.",
                                   "pause": "Operation paused after its current chunk.",
                                   "resume": "Operation resumed."}[action])
    else:
        messages.warning(request, f"The operation is {op.status}; nothing changed.")
    return redirect("operations:detail", op.pk)
