"""Reads for the dashboard and the API. Callers pass queue names already resolved
through dlqadmin.access, so nothing here decides who may see what."""

from dataclasses import dataclass

from dlqadmin.asynq import TASK_STATES
from dlqadmin.core.asynq_client import inspector

from dlqadmin.masking.selectors import masker_for, masker_lookup

from .presenters import DETAIL_LIMIT, LIST_LIMIT, field_page, present_task

DLQ_STATE = "archived"


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


def task_page(name, state, page, page_size, group=None):
    """One page of tasks in asynq's order, presented masked (short previews)."""
    result = inspector().list_tasks(name, state, page=page, page_size=page_size, group=group)
    lookup = masker_lookup(name)
    return result, [present_task(t, lookup(getattr(t, "type", "")), limit=LIST_LIMIT) for t in result.tasks]


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


def servers():
    return inspector().servers()


def scheduler_entries():
    ins = inspector()
    return [(entry, ins.scheduler_enqueue_events(entry.id, page=1, page_size=10))
            for entry in ins.scheduler_entries()]


__all__ = ["TASK_STATES", "DLQ_STATE", "queue_infos", "totals", "queue_info", "groups", "history",
           "task_page", "task", "raw_task", "task_field", "servers", "scheduler_entries"]
