"""JSON API v1 (read part). Same access rule and same withheld fields as the UI."""

from django.conf import settings
from django.views.decorators.http import require_safe

from dlqadmin.access.checks import public_view, queue_view, signed_in_view, visible_queue_names
from dlqadmin.asynq import DamagedData, QueueNotFound, TaskNotFound
from dlqadmin.core.responses import JsonResponse
from dlqadmin.operations import api_views as queue_actions
from dlqadmin.triage import search as task_search
from dlqadmin.triage import selectors, services
from dlqadmin.triage.presenters import present_task
from dlqadmin.triage.params import BadParameter, parse_listing

from . import bodies, serializers
from .auth import api_view, error
from .openapi import schema


@api_view()
@signed_in_view
def queues(request):
    infos = selectors.queue_infos(visible_queue_names(request.user))
    return JsonResponse({"queues": [serializers.queue_info(request, qi) for qi in infos]})


@api_view(methods=("GET", "DELETE"), admin_methods=("DELETE",))
@queue_view()
def queue(request, queue):
    if request.method == "DELETE":
        return queue_actions.delete_queue(request, queue)
    name = queue.name
    try:
        info = selectors.queue_info(name)
    except QueueNotFound:
        return error(404, "not_found", "No such queue.")
    return JsonResponse(serializers.queue_info(request, info))


@api_view()
@queue_view()
def tasks(request, queue):
    name = queue.name
    try:
        listing = parse_listing(
            request.GET,
            default_state=selectors.DLQ_STATE,
            default_page_size=settings.DLQADMIN_DEFAULT_PAGE_SIZE,
            max_page_size=settings.DLQADMIN_API_MAX_PAGE_SIZE,
        )
    except BadParameter as exc:
        return error(400, "bad_parameter", str(exc))
    if task_search.wants_search(request.GET):
        return _search_tasks(request, queue, listing)
    try:
        # The API keeps asynq's order unless asked (the dashboard opens the DLQ newest first).
        order = listing.reader_order if request.GET.get("order") else "asc"
        page, views = selectors.task_page(name, listing.state, listing.page, listing.page_size, listing.group, order)
    except QueueNotFound:
        return error(404, "not_found", "No such queue.")
    except DamagedData as exc:
        return error(409, "damaged", f"The {listing.state} tasks of this queue cannot be read: {exc}")
    return JsonResponse({
        "tasks": [serializers.task_info(request, tv) for tv in views],
        "total": page.total,
        "page": listing.page,
        "page_size": listing.page_size,
    })


def _search_tasks(request, queue, listing):
    """tasks?...&type=&error=&since=&until=&q=...: a search (see dlqadmin.triage.search for
    the masking rule); `total` counts the matches, `scanned` the tasks looked at."""
    try:
        sq = task_search.parse_query(request.GET)
        result = task_search.search_page(request, queue, sq, page=listing.page, page_size=listing.page_size)
    except BadParameter as exc:
        return error(400, "bad_parameter", str(exc))
    except QueueNotFound:
        return error(404, "not_found", "No such queue.")
    return JsonResponse({
        "tasks": [serializers.task_info(request, tv) for tv in result.tasks],
        "total": result.total,
        "page": listing.page,
        "page_size": listing.page_size,
        "scanned": result.scanned,
        "complete": result.complete,
    })


@api_view()
@queue_view()
def failures(request, queue):
    """The dead tasks grouped by type and masked, normalised error (see dlqadmin.triage.search)."""
    # Absent means the default; present but empty is not a state (schemathesis: `state=`).
    state = request.GET.get("state", task_search.DEFAULT_STATE)
    if state not in task_search.FAILURE_STATES:
        return error(400, "bad_parameter", f"state must be one of {', '.join(task_search.FAILURE_STATES)}; "
                                           f"got {state[:40]!r}")
    try:
        rows = task_search.failure_rows(queue.name, state)
    except QueueNotFound:
        return error(404, "not_found", "No such queue.")
    return JsonResponse({"state": state, "groups": [serializers.failure_group(request, queue.name, row, state)
                                                    for row in rows]})


@api_view()
@queue_view()
def task(request, queue, task_id):
    name = queue.name
    try:
        tv = selectors.task(name, task_id)
    except (QueueNotFound, TaskNotFound):
        return error(404, "not_found", "No such task.")
    return JsonResponse(serializers.task_info(request, tv))


@api_view(methods=("POST",))
@queue_view()
def reveal(request, queue, task_id):
    try:
        body = bodies.read_object(request)
    except bodies.BadBody as exc:
        return error(400, exc.code, exc.detail)
    try:
        task, grant = services.reveal_task(request, queue, task_id, body.get("reason"), body.get("ticket"))
    except (QueueNotFound, TaskNotFound):
        return error(404, "not_found", "No such task.")
    except services.RevealRefused as exc:
        return error(exc.status, "forbidden" if exc.status == 403 else "bad_parameter", str(exc))
    view = present_task(task, None, reveal=True, limit=None)
    return JsonResponse(serializers.task_info(request, view) | {"expires_at": serializers.rfc3339(grant.expires_at)})


@public_view
@require_safe
def openapi(request):
    # The schema describes the API; it reveals no data, so it needs no sign-in.
    return JsonResponse(schema(request.build_absolute_uri("/api/v1/")))
