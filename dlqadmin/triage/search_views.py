"""Search page (results stream in over htmx) and the "Top failure reasons" fragment.

URL -> access check -> dlqadmin.triage.search -> template. The masking rule of a
search (what this user may find) and its audit row live in that module.

Streaming: the page renders the first bounded batch; the last row is a sentinel
(`hx-trigger="load"`) that asks for the next batch with the returned cursor and is
replaced by it, until the scan is done. The running count is swapped out of band.
The Stop button asks the server for a "stopped" row that replaces the sentinel
(and cancels its request in flight, `hx-sync`), with a Continue button that resumes
at the same cursor. No script of ours runs in the page.
"""

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import redirect, render

from dlqadmin.access.checks import may, queue_view
from dlqadmin.access.roles import OPERATE_QUEUE
from dlqadmin.asynq import QueueNotFound, TaskNotFound
from dlqadmin.core import names

from . import search as svc
from . import selectors
from .params import BadParameter


# Failure reasons shown open on the queue page; the rest behind "all N reasons".
TOP_FAILURES = 5


def _count(request, name):
    raw = request.GET.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else 0


@queue_view()
def search(request, queue):
    name = queue.name
    context = {
        "queue_name": name,
        "form_values": svc.form_values(request.GET),
        "search_state": request.GET.get("state") or svc.DEFAULT_STATE,
        "error": None,
        "batch": None,
        "stopped": False,
        "more_query": "",
        "stop_query": "",
        "found": 0,
        "scanned": 0,
        "total": 0,
    }
    context["may_operate"] = may(request.user, OPERATE_QUEUE, queue)
    task_id = request.GET.get("id", "")
    if task_id:
        # An exact task id jumps to the task (any state), or says plainly it is not here.
        try:
            selectors.raw_task(name, names.from_form_value(task_id))
        except (QueueNotFound, TaskNotFound):
            context["error"] = f"No task with id {task_id[:200]!r} in this queue."
            return render(request, "triage/search.html", context, status=404)
        return redirect("triage:task", name, names.from_form_value(task_id))
    try:
        sq = svc.parse_query(request.GET)
    except BadParameter as exc:
        context["error"] = str(exc)
        return render(request, "triage/search.html", context, status=400)
    base = sq.to_query()
    cursor = request.GET.get("cursor") or None
    given = request.GET.dict()
    if not request.htmx and cursor is None and any(v == "" and k != "reason" for k, v in given.items()):
        # The form sends every field; the URL keeps only those filled in, so the
        # address bar is a clean link to this search.
        kept = {k: v for k, v in given.items() if v != "" or k == "reason"}
        return redirect(f"{request.path}?{urlencode(kept)}")
    found_before = _count(request, "found") if cursor else 0
    context.update(base_query=urlencode(base), state=sq.state)

    if request.GET.get("stop") and request.htmx:
        # Stopped by the user: no Redis work, just the row that offers to continue.
        context.update(stopped=True, found=found_before, scanned=_count(request, "scanned"),
                       total=_count(request, "total"), more_query=urlencode({**base, "cursor": cursor or "",
                                                                             "found": found_before}))
        return render(request, "triage/_search_rows.html", context | {"oob": True})

    try:
        batch = svc.search_batch(request, queue, sq, cursor=cursor, seconds=svc.BATCH_SECONDS,
                                 max_rows=svc.BATCH_ROWS, chunk=svc.BATCH_CHUNK)
    except QueueNotFound:
        raise Http404("No such queue.") from None
    except BadParameter as exc:
        context["error"] = str(exc)
        return render(request, "triage/search.html", context, status=400)
    found = found_before + len(batch.tasks)
    context.update(batch=batch, found=found, scanned=batch.scanned, total=batch.total, stopped=False)
    if not batch.done:
        context["more_query"] = urlencode({**base, "cursor": batch.cursor, "found": found})
        context["stop_query"] = urlencode({**base, "cursor": batch.cursor, "found": found, "scanned": batch.scanned,
                                           "total": batch.total, "stop": 1})
    if request.htmx and cursor:
        return render(request, "triage/_search_rows.html", context | {"oob": True})
    return render(request, "triage/search.html", context)


@queue_view()
def failures(request, queue):
    try:
        rows = svc.failure_rows(queue.name)
    except QueueNotFound:
        raise Http404("No such queue.") from None
    links = [(row, urlencode(row.query()), row.query()) for row in rows]
    context = {"queue_name": queue.name, "top": links[:TOP_FAILURES], "rest": links[TOP_FAILURES:],
               "groups": len(links), "may_operate": may(request.user, OPERATE_QUEUE, queue)}
    return render(request, "triage/_failures.html", context)
