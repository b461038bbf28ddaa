"""JSON API v1: servers, scheduler entries, Redis, and a queue's groups and daily history.

The same rules as the pages: names as far as the caller's grants allow (see
access.checks.queue_name_scope), payloads and options masked."""

from dlqadmin.access.checks import global_view, queue_name_scope, queue_view, signed_in_view
from dlqadmin.access.roles import MANAGE_ACCESS
from dlqadmin.asynq import QueueNotFound
from dlqadmin.core.responses import JsonResponse
from dlqadmin.triage import selectors
from dlqadmin.triage.params import BadParameter, parse_page

from . import serializers
from .auth import api_view, error, json_forbidden

MAX_EVENTS_PAGE_SIZE = 100
MAX_HISTORY_DAYS = 90


def _bounded(request, name, *, default, maximum):
    value = parse_page(request.GET, name) if request.GET.get(name) else default
    if value > maximum:
        raise BadParameter(f"{name} must be at most {maximum}, got {value}")
    return value


@api_view()
@signed_in_view
def servers(request):
    rows = selectors.servers(queue_name_scope(request.user))
    return JsonResponse({"servers": [serializers.server(request, row) for row in rows]})


@api_view()
@signed_in_view
def scheduler(request):
    view = selectors.scheduler_entries(queue_name_scope(request.user), recent=0)
    return JsonResponse({"entries": [serializers.scheduler_entry(request, e, kept) for e, _, kept in view.entries],
                         "other_entries": view.other_entries})


@api_view()
@signed_in_view
def scheduler_entry(request, entry_id):
    entry = selectors.scheduler_entry(queue_name_scope(request.user), entry_id)
    if entry is None:
        return error(404, "not_found", "No such scheduler entry.")
    return JsonResponse(serializers.scheduler_entry(request, entry, selectors.scheduler_event_count(entry.id)))


@api_view()
@signed_in_view
def scheduler_events(request, entry_id):
    entry = selectors.scheduler_entry(queue_name_scope(request.user), entry_id)
    if entry is None:
        return error(404, "not_found", "No such scheduler entry.")
    total = selectors.scheduler_event_count(entry.id)
    try:
        page_size = _bounded(request, "page_size", default=20, maximum=MAX_EVENTS_PAGE_SIZE)
        pages = max(1, -(-total // page_size))
        page = _bounded(request, "page", default=1, maximum=pages)
    except BadParameter as exc:
        return error(400, "bad_parameter", str(exc))
    events = selectors.scheduler_events(entry.id, page, page_size)
    return JsonResponse({"events": [serializers.enqueue_event(request, entry.queue, e) for e in events],
                         "total": total, "page": page, "page_size": page_size})


@api_view()
@queue_view()
def groups(request, queue):
    try:
        found = selectors.groups(queue.name)
    except QueueNotFound:
        return error(404, "not_found", "No such queue.")
    return JsonResponse({"groups": [serializers.group(request, queue.name, g) for g in found]})


@api_view()
@queue_view()
def history(request, queue):
    try:
        days = _bounded(request, "days", default=7, maximum=MAX_HISTORY_DAYS)
    except BadParameter as exc:
        return error(400, "bad_parameter", str(exc))
    try:
        found = selectors.history(queue.name, days)
    except QueueNotFound:
        return error(404, "not_found", "No such queue.")
    return JsonResponse({"queue": queue.name, "days": [serializers.daily_stats(d) for d in found]})


@api_view()
@json_forbidden("Only admins may read Redis' own figures.")
@global_view(MANAGE_ACCESS)
def redis(request):
    return JsonResponse(serializers.redis_overview(selectors.redis_overview()))
