"""JSON shapes of the API. Field names are a public contract: never rename."""

from datetime import UTC
from urllib.parse import urlencode

from django.urls import reverse

from dlqadmin.core.links import absolute, row_url
from dlqadmin.core.names import display


def rfc3339(dt):
    """RFC 3339 in UTC with second precision (asynq stores Unix seconds), or None. The
    year always has four digits (strftime's %Y writes year 999 as "999": a producer can
    store any timestamp)."""
    if dt is None:
        return None
    return dt.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def queue_url(request, name):
    return absolute(request, reverse("api:queue", args=[name]))


def task_url(request, queue, task_id):
    return row_url(request, "api:task", queue, task_id)


def queue_info(request, qi):
    return {
        "queue": display(qi.queue),
        "url": queue_url(request, qi.queue),
        "size": qi.size,
        "pending": qi.pending,
        "active": qi.active,
        "scheduled": qi.scheduled,
        "retry": qi.retry,
        "archived": qi.archived,
        "completed": qi.completed,
        "aggregating": qi.aggregating,
        "groups": qi.groups,
        "processed": qi.processed,
        "failed": qi.failed,
        "processed_total": qi.processed_total,
        "failed_total": qi.failed_total,
        "paused": qi.paused,
        "latency_seconds": round(qi.latency_seconds, 6),
        "memory_usage": qi.memory_usage,
        # A key of the queue has the wrong Redis type: the counts above are 0 and mean nothing.
        "damaged": qi.damaged,
        "problem": qi.problem or None,
    }


def _sensitive(value):
    return None if value is None else value.as_json()


def task_info(request, tv):
    """A presented task (dlqadmin.triage.presenters.TaskView) as API JSON."""
    return {
        "id": display(tv.id),
        "queue": display(tv.queue),
        "url": task_url(request, tv.queue, tv.id),
        "type": display(tv.type),
        "state": tv.state,
        "max_retry": tv.max_retry,
        "retried": tv.retried,
        "last_err": _sensitive(tv.last_err),
        "last_failed_at": rfc3339(tv.last_failed_at),
        "next_process_at": rfc3339(tv.next_process_at),
        "timeout_seconds": tv.timeout_seconds,
        "deadline": rfc3339(tv.deadline),
        "group": tv.group or None,
        "is_orphaned": tv.is_orphaned,
        "retention_seconds": tv.retention_seconds,
        "completed_at": rfc3339(tv.completed_at),
        "headers": _sensitive(tv.headers),
        "payload": _sensitive(tv.payload),
        "result": _sensitive(tv.result),
        "broken": tv.broken,
        "problem": tv.problem or None,
    }


def failure_group(request, queue, row, state="archived"):
    """A failure group (dlqadmin.triage.search.FailureRow): reason and example masked."""
    return {
        "type": row.type,
        "reason": row.reason,
        "example_error": _sensitive(row.example),
        "count": row.count,
        "first_seen": rfc3339(row.first_seen),
        "last_seen": rfc3339(row.last_seen),
        "url": request.build_absolute_uri(reverse("api:tasks", args=[queue]) + "?" + urlencode(row.query(state))),
    }


# --- Servers, scheduler, Redis, groups, history (dlqadmin.api.infra_views) ---------------------


def server(request, row):
    """A triage.selectors.ServerView: queue names as the caller's grants allow."""
    s = row.server
    return {
        "id": s.id, "host": s.host, "pid": s.pid, "concurrency": s.concurrency,
        "strict_priority": s.strict_priority, "status": s.status, "started": rfc3339(s.started),
        "queues": [{"queue": q, "priority": p} for q, p in row.queues],
        "other_queues": row.other_queues,
        "active_workers": [{
            "task_id": w.task_id, "task_type": w.task_type, "queue": w.queue,
            "task_url": task_url(request, w.queue, w.task_id),
            "started": rfc3339(w.started), "deadline": rfc3339(w.deadline), "payload": _sensitive(w.payload),
        } for w in row.workers],
    }


def scheduler_entry_url(request, entry_id):
    return request.build_absolute_uri(reverse("api:scheduler_entry", args=[entry_id]))


def scheduler_entry(request, entry, kept=None):
    data = {
        "id": entry.id, "url": scheduler_entry_url(request, entry.id),
        "events_url": scheduler_entry_url(request, entry.id) + "events",
        "spec": entry.spec, "task_type": entry.task_type, "queue": entry.queue, "opts": entry.opts,
        "payload": _sensitive(entry.payload), "next": rfc3339(entry.next), "prev": rfc3339(entry.prev),
    }
    if kept is not None:
        data["events_kept"] = kept
    return data


def enqueue_event(request, queue, event):
    return {"task_id": event.task_id, "task_url": task_url(request, queue, event.task_id),
            "enqueued_at": rfc3339(event.enqueued_at)}


def group(request, queue, g):
    query = urlencode({"state": "aggregating", "group": g.group})
    return {"group": g.group, "size": g.size,
            "tasks_url": request.build_absolute_uri(reverse("api:tasks", args=[queue]) + "?" + query)}


def daily_stats(day):
    return {"date": day.date.isoformat(), "processed": day.processed, "failed": day.failed}


def redis_overview(o):
    return {
        "mode": o.mode, "version": o.version, "used_memory": o.used_memory, "connected_clients": o.connected_clients,
        "nodes": [{"address": n.address or None, "role": n.role, "version": n.version, "used_memory": n.used_memory,
                   "connected_clients": n.connected_clients, "uptime_seconds": n.uptime_seconds} for n in o.nodes],
    }
