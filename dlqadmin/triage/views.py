"""Dashboard views: URL -> access check -> selector -> template. No logic here."""

import math
from dataclasses import replace

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dlqadmin.access.checks import (has_global, holds_queue_grants, may, queue_name_scope, queue_view, signed_in_view,
                                    visible_queue_names)
from dlqadmin.access.roles import MANAGE_ACCESS, OPERATE_QUEUE, REVEAL_QUEUE
from dlqadmin.asynq import TASK_STATES, DamagedData, QueueNotFound, TaskNotFound

from dlqadmin.accounts.middleware import POLL_HEADER
from dlqadmin.alerts import selectors as alert_selectors
from dlqadmin.vault import selectors as vault_selectors

from . import search, selectors, services
from .params import ORDERS, BadParameter, default_order, parse_listing, parse_page


# The queue page's tabs: the dead-letter queue first, then asynq's order.
TAB_ORDER = ("archived", *(s for s in TASK_STATES if s != "archived"))
# The queue page's search form starts blank.
BLANK_SEARCH = search.form_values({})


def _fragment_or_page(request, template, fragment, context, status=200):
    name = f"{template}#{fragment}" if request.htmx and not request.htmx.boosted else template
    return render(request, name, context, status=status)


HISTORY_DAYS = (7, 30, 90)  # asynq keeps its daily counters for 90 days


@signed_in_view
def overview(request):
    names = visible_queue_names(request.user)
    days, error = request.GET.get("days", "7"), None
    if days not in {str(d) for d in HISTORY_DAYS}:
        days, error = "7", "The history covers 7, 30 or 90 days."
    infos = selectors.queue_infos(names, memory_usage=False)
    # A live-refresh poll takes only the counts (static/js/app.js): the charts are not redrawn.
    poll = bool(request.headers.get(POLL_HEADER))
    context = {
        "infos": infos,
        "totals": selectors.totals(infos),
        "sparklines": {} if poll else alert_selectors.sparklines(names),
        "history": None if poll else alert_selectors.daily_history([i.queue for i in infos if not i.damaged],
                                                                   int(days)),
        "history_days": HISTORY_DAYS,
        "error": error,
        "no_queue_grants": not names and not holds_queue_grants(request.user),
    }
    return _fragment_or_page(request, "triage/overview.html", "queue_table", context, status=400 if error else 200)


@queue_view()
def queue_detail(request, queue):
    name = queue.name
    if search.wants_search(request.GET):
        # A filtered queue URL is a search: shown as one (with its actions), never as
        # the whole unfiltered list.
        return redirect(f"{reverse('triage:search', args=[name])}?{request.GET.urlencode()}")
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
    # A key of the wrong type damages the queue (or one state of it): shown, not a 500.
    damage = [info.problem] if info.damaged else []
    try:
        groups = selectors.groups(name)
    except DamagedData as exc:
        groups, damage = [], [*damage, f"groups: {exc}"]
    if listing.state == "aggregating" and listing.group is None and groups:
        # The aggregating tab opens on the first group.
        listing = replace(listing, group=groups[0].group)
    page, tasks = (None, [])
    if listing.state != "aggregating" or listing.group:
        try:
            page, tasks = selectors.task_page(name, listing.state, listing.page, listing.page_size, listing.group,
                                              listing.reader_order)
        except DamagedData as exc:
            damage.append(f"{listing.state}: {exc}")
    pages = max(1, math.ceil(page.total / listing.page_size)) if page else 1
    context = {
        "queue": info,
        "listing": listing,
        "states": [(s, getattr(info, s)) for s in TAB_ORDER],
        # Task links carry a chosen order, so the task page's previous / next follow the list.
        "task_query": "" if listing.order == default_order(listing.state) else f"?order={listing.order}",
        "showing": selectors.showing(listing.page, listing.page_size, len(tasks), page.total if page else 0),
        "groups": groups,
        "page": page,
        "tasks": tasks,
        "pages": pages,
        "page_sizes": settings.DLQADMIN_PAGE_SIZES,
        "error": error,
        "damage": damage,
        "may_operate": may(request.user, OPERATE_QUEUE, queue),
        "may_delete_queue": has_global(request.user, MANAGE_ACCESS),
        "vault_summary": vault_selectors.summary(name),
        "form_values": BLANK_SEARCH,
    }
    return _fragment_or_page(request, "triage/queue.html", "task_list", context, status=400 if error else 200)


def _task_context(request, queue, task_id, *, reveal_error=None):
    reveal = services.active_reveal(request.user, queue, task_id)
    try:
        task = selectors.task(queue.name, task_id, reveal=reveal is not None)
    except (QueueNotFound, TaskNotFound):
        raise Http404("No such task.") from None
    order = request.GET.get("order") or default_order(task.state)
    order = order if order in ORDERS else default_order(task.state)
    before, after = (None, None) if task.broken else selectors.neighbours(
        queue.name, task.state, task_id, "desc" if order == "newest" else "asc", task.group)
    return {
        "queue_name": queue.name,
        "task": task,
        "order": order,
        "previous_id": before,
        "next_id": after,
        "reveal": reveal,
        "may_reveal": may(request.user, REVEAL_QUEUE, queue),
        "may_operate": may(request.user, OPERATE_QUEUE, queue),
        "reveal_error": reveal_error,
        "reveal_minutes": max(1, settings.DLQADMIN_REVEAL_SECONDS // 60),
        "min_reason": settings.DLQADMIN_REVEAL_MIN_REASON,
    }


@queue_view()
def task_detail(request, queue, task_id):
    return render(request, "triage/task.html", _task_context(request, queue, task_id))


@require_POST
@queue_view()
def reveal(request, queue, task_id):
    try:
        services.reveal_task(request, queue, task_id, request.POST.get("reason"), request.POST.get("ticket"))
    except (QueueNotFound, TaskNotFound):
        raise Http404("No such task.") from None
    except services.RevealRefused as exc:
        context = _task_context(request, queue, task_id, reveal_error=str(exc))
        return render(request, "triage/task.html", context, status=exc.status)
    return redirect("triage:task", queue.name, task_id)


@queue_view()
def task_field(request, queue, task_id, field):
    """The next chunk of a long value ("Load more"), masked unless revealed."""
    if field not in ("payload", "last_err", "headers", "result"):
        raise Http404()
    try:
        offset = max(0, int(request.GET.get("offset", 0)))
    except ValueError:
        offset = 0
    reveal = services.active_reveal(request.user, queue, task_id) is not None
    try:
        value = selectors.task_field(queue.name, task_id, field, reveal=reveal, offset=offset)
    except (QueueNotFound, TaskNotFound):
        raise Http404("No such task.") from None
    task = {"queue": queue.name, "id": task_id}
    return render(request, "triage/_sensitive_chunk.html", {"value": value, "task": task, "field": field})


@signed_in_view
def servers(request):
    scope = queue_name_scope(request.user)
    return render(request, "triage/servers.html", {"servers": selectors.servers(scope)})


@signed_in_view
def scheduler(request):
    scope = queue_name_scope(request.user)
    return render(request, "triage/scheduler.html", {"view": selectors.scheduler_entries(scope)})


SCHEDULER_EVENTS_PAGE_SIZE = 50


@signed_in_view
def scheduler_entry(request, entry_id):
    entry = selectors.scheduler_entry(queue_name_scope(request.user), entry_id)
    if entry is None:
        raise Http404("No such scheduler entry.")
    kept = selectors.scheduler_event_count(entry.id)
    pages = max(1, math.ceil(kept / SCHEDULER_EVENTS_PAGE_SIZE))
    try:
        number = parse_page(request.GET)
        if number > pages:
            raise BadParameter(f"page must be at most {pages}")
        error = None
    except BadParameter as exc:
        number, error = 1, str(exc)
    events = selectors.scheduler_events(entry.id, number, SCHEDULER_EVENTS_PAGE_SIZE)
    first = (number - 1) * SCHEDULER_EVENTS_PAGE_SIZE + 1
    context = {"entry": entry, "events": events, "kept": kept, "page": number, "pages": pages,
               "first": first, "last": first + len(events) - 1, "error": error}
    return render(request, "triage/scheduler_entry.html", context, status=400 if error else 200)
