"""Reads of tracked operations. Callers pass the user's access.checks.NameScope, so
a user lists only operations on queues they may view."""

from dlqadmin.core import names as qnames

from .models import Operation

MAX_LIMIT = 200


class BadFilter(ValueError):
    """A filter value we cannot use; the message says which and why."""


def _whole(raw, name, *, maximum=None):
    if not raw.isdigit() or len(raw) > 18 or int(raw) < 1 or (maximum and int(raw) > maximum):
        bound = f" from 1 to {maximum}" if maximum else " of 1 or more"
        raise BadFilter(f"{name}: a whole number{bound}.")
    return int(raw)


def operations(scope, query, *, default_limit=50):
    """(operations newest first, the id to continue before or None) for a query dict with
    optional queue, status, started_by (a user name), before (an id) and limit."""
    rows = Operation.objects.all()
    if not scope.every_queue:
        rows = rows.filter(queue_key__in=[qnames.key(n) for n in scope.granted])
    if query.get("queue"):
        rows = rows.filter(queue_key=qnames.key(query["queue"]))
    status = query.get("status") or ""
    if status:
        if status not in dict(Operation.STATUSES):
            raise BadFilter(f"status: one of {', '.join(dict(Operation.STATUSES))}.")
        rows = rows.filter(status=status)
    if query.get("started_by"):
        rows = rows.filter(started_by_name=query["started_by"])
    if query.get("before"):
        rows = rows.filter(pk__lt=_whole(query["before"], "before"))
    limit = _whole(query["limit"], "limit", maximum=MAX_LIMIT) if query.get("limit") else default_limit
    page = list(rows.order_by("-id")[: limit + 1])
    return page[:limit], (page[limit - 1].pk if len(page) > limit else None)
