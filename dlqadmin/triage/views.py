"""Dashboard views: URL -> access check -> selector -> template. No logic here."""

import math
from dataclasses import replace

from django.conf import settings
from django.http import Http404
from django.shortcuts import render

from dlqadmin.access.checks import queue_view, signed_in_view, visible_queue_names
from dlqadmin.asynq import TASK_STATES, QueueNotFound, TaskNotFound

from . import selectors
from .params import BadParameter, parse_listing


def _fragment_or_page(request, template, fragment, context, status=200):
    name = f"{template}#{fragment}" if request.htmx and not request.htmx.boosted else template
    return render(request, name, context, status=status)


@signed_in_view
def overview(request):
    infos = selectors.queue_infos(visible_queue_names(request.user), memory_usage=False)
    context = {
        "infos": infos,
        "totals": selectors.totals(infos),
        "poll_seconds": settings.DLQADMIN_POLL_SECONDS,
    }
    return _fragment_or_page(request, "triage/overview.html", "queue_table", context)


@queue_view()
def queue_detail(request, queue):
    name = queue.name
    error = None
    sizes = settings.DLQADMIN_PAGE_SIZES
    options = dict(default_state=selectors.DLQ_STATE, default_page_size=settings.DLQADMIN_DEFAULT_PAGE_SIZE,
                   max_page_size=max(sizes), allowed_sizes=sizes, require_group=False)
    try:
        listing = parse_listing(request.GET, **options)
    except BadParameter as exc:
        error = str(exc)
        listing = parse_listing({}, **options)
    try:
        info = selectors.queue_info(name)
    except QueueNotFound:
        raise Http404("No such queue.") from None
    groups = selectors.groups(name)
    if listing.state == "aggregating" and listing.group is None and groups:
        # The aggregating tab opens on the first group.
        listing = replace(listing, group=groups[0].group)
    page, tasks = (None, [])
    if listing.state != "aggregating" or listing.group:
        page, tasks = selectors.task_page(name, listing.state, listing.page, listing.page_size, listing.group)
    pages = max(1, math.ceil(page.total / listing.page_size)) if page else 1
    context = {
        "queue": info,
        "listing": listing,
        "states": [(s, getattr(info, s)) for s in TASK_STATES],
        "groups": groups,
        "page": page,
        "tasks": tasks,
        "pages": pages,
        "page_sizes": settings.DLQADMIN_PAGE_SIZES,
        "error": error,
    }
    return _fragment_or_page(request, "triage/queue.html", "task_list", context, status=400 if error else 200)


@queue_view()
def task_detail(request, queue, task_id):
    name = queue.name
    try:
        task = selectors.task(name, task_id)
    except (QueueNotFound, TaskNotFound):
        raise Http404("No such task.") from None
    return render(request, "triage/task.html", {"queue_name": name, "task": task})


@signed_in_view
def servers(request):
    visible = set(visible_queue_names(request.user))
    rows = selectors.servers()
    # Workers of queues the user may not see are not shown.
    return render(request, "triage/servers.html", {"servers": rows, "visible": visible})


@signed_in_view
def scheduler(request):
    visible = set(visible_queue_names(request.user))
    return render(request, "triage/scheduler.html",
                  {"entries": selectors.scheduler_entries(), "visible": visible})
