"""Reads for the dashboard and the API. Callers pass queue names already resolved
through dlqadmin.access, so nothing here decides who may see what."""

from dataclasses import dataclass

from dlqadmin.asynq import TASK_STATES, DamagedData
from dlqadmin.asynq.inspector import ServerInfo
from dlqadmin.core.asynq_client import inspector
from dlqadmin.masking.selectors import masker_for, masker_lookup

from .presenters import DETAIL_LIMIT, LIST_LIMIT, field_page, present_payload, present_task

DLQ_STATE = "archived"
# Enqueue events shown per entry on the scheduler page (its own page lists them all).
SCHEDULER_RECENT_EVENTS = 5


@dataclass(frozen=True)
class Totals:
    queues: int
    size: int
    pending: int
    active: int
    scheduled: int
    retry: int
    archived: int
    completed: int
    aggregating: int
    processed: int
    failed: int
    damaged: int = 0  # queues with a key of the wrong type: listed, not summed


def queue_infos(names, *, memory_usage=True):
    """QueueInfo for the given queue names, in name order (one Redis pass).

    memory_usage=False skips asynq's MEMORY USAGE sampling (up to ~130 keys per
    queue): the polled overview does not show it, so it does not pay for it.
    """
    # Only the visible queues are computed: a viewer of one queue out of a
    # thousand costs one script call, not a thousand.
    return inspector().all_queue_info(memory_usage=memory_usage, names=names)


def totals(infos):
    fields = ("size", "pending", "active", "scheduled", "retry", "archived", "completed", "aggregating",
              "processed", "failed")
    readable = [qi for qi in infos if not qi.damaged]
    sums = {f: sum(getattr(qi, f) for qi in readable) for f in fields}
    return Totals(queues=len(infos), damaged=len(infos) - len(readable), **sums)


def queue_info(name):
    return inspector().queue_info(name)


def groups(name):
    return inspector().groups(name)


def history(name, days=7):
    return inspector().history(name, days)


def task_page(name, state, page, page_size, group=None, order="asc"):
    """One page of tasks in asynq's order (or its reverse, order="desc"), presented
    masked (short previews)."""
    result = inspector().list_tasks(name, state, page=page, page_size=page_size, group=group, order=order)
    lookup = masker_lookup(name)
    return result, [present_task(t, lookup(getattr(t, "type", "")), limit=LIST_LIMIT) for t in result.tasks]


@dataclass(frozen=True)
class Showing:
    """"Showing 21–40 of 1,400" of one page of a list."""

    first: int
    last: int
    total: int


def showing(page, page_size, shown, total):
    first = (page - 1) * page_size + 1 if shown else 0
    return Showing(first=first, last=first + shown - 1 if shown else 0, total=total)


def neighbours(name, state, task_id, order="asc", group=None):
    """(previous id, next id) of a task in its list's order, or (None, None) when it
    has left that state or the state cannot be read."""
    try:
        found = inspector().neighbours(name, state, task_id, order=order, group=group or None)
    except DamagedData:
        return None, None
    return found or (None, None)


def raw_task(name, task_id):
    return inspector().get_task(name, task_id)


def task(name, task_id, *, reveal=False, limit=DETAIL_LIMIT):
    """One task: masked, or raw when the caller holds a live reveal for it."""
    info = raw_task(name, task_id)
    masker = None if reveal else masker_for(name, getattr(info, "type", ""))
    return present_task(info, masker, reveal=reveal, limit=limit)


def task_field(name, task_id, field, *, reveal, offset):
    """The next page of one sensitive field ("load more")."""
    info = raw_task(name, task_id)
    masker = None if reveal else masker_for(name, getattr(info, "type", ""))
    return field_page(info, field, masker, reveal=reveal, offset=offset)


@dataclass(frozen=True)
class WorkerView:
    task_id: str
    task_type: str
    queue: str
    started: object
    deadline: object
    payload: object  # presenters.Sensitive, masked


@dataclass(frozen=True)
class ServerView:
    server: ServerInfo
    queues: list  # (name, priority) the user may read, highest priority first
    other_queues: int  # how many more this server serves (names withheld)
    workers: list  # WorkerView: active workers on queues the user may view


def servers(scope):
    """Running servers with every queue each serves (as far as `scope` lets the user
    read the names) and the active workers on queues the user may view, masked."""
    rows = []
    for s in inspector().servers():
        ordered = sorted(s.queues.items(), key=lambda qp: (-qp[1], qp[0]))
        names, others = scope.split([q for q, _ in ordered])
        workers = [WorkerView(w.task_id, w.task_type, w.queue, w.started, w.deadline,
                              present_payload(masker_for(w.queue, w.task_type), w.task_payload))
                   for w in s.active_workers if scope.may_view(w.queue)]
        rows.append(ServerView(server=s, queues=[(q, s.queues[q]) for q in names], other_queues=others,
                               workers=workers))
    return rows


@dataclass(frozen=True)
class EntryView:
    id: str
    spec: str
    task_type: str
    queue: str
    opts: list  # masked
    payload: object  # presenters.Sensitive, masked
    next: object
    prev: object


def present_entry(entry):
    masker = masker_for(entry.queue, entry.task_type)
    return EntryView(entry.id, entry.spec, entry.task_type, entry.queue, [masker.mask_fragment(o) for o in entry.opts],
                     present_payload(masker, entry.task_payload), entry.next, entry.prev)


@dataclass(frozen=True)
class SchedulerView:
    entries: list  # (EntryView, newest events, events kept) the user may see
    other_entries: int  # entries for queues whose names the user may not read


def scheduler_entries(scope, *, recent=SCHEDULER_RECENT_EVENTS):
    ins = inspector()
    entries = ins.scheduler_entries()
    shown = [e for e in entries if scope.shows(e.queue)]
    return SchedulerView(
        entries=[(present_entry(e), ins.scheduler_enqueue_events(e.id, page=1, page_size=recent) if recent else [],
                  ins.scheduler_enqueue_event_count(e.id)) for e in shown],
        other_entries=len(entries) - len(shown))


def scheduler_entry(scope, entry_id):
    """The live entry with this id if the user may see it (masked), else None."""
    for e in inspector().scheduler_entries():
        if e.id == entry_id and scope.shows(e.queue):
            return present_entry(e)
    return None


def redis_overview():
    return inspector().redis_overview()


def scheduler_event_count(entry_id):
    """How many enqueue events asynq keeps for the entry."""
    return inspector().scheduler_enqueue_event_count(entry_id)


def scheduler_events(entry_id, page, page_size):
    """One page of the entry's enqueue events, newest first."""
    return inspector().scheduler_enqueue_events(entry_id, page=page, page_size=page_size)


__all__ = ["TASK_STATES", "DLQ_STATE", "queue_infos", "totals", "queue_info", "groups", "history",
           "task_page", "showing", "neighbours", "task", "raw_task", "task_field", "servers", "scheduler_entries", "scheduler_entry",
           "scheduler_event_count", "scheduler_events", "redis_overview"]
