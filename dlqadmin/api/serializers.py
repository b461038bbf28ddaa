"""JSON shapes of the API. Field names are a public contract: never rename."""

from datetime import UTC
from urllib.parse import urlencode

from django.urls import reverse

from dlqadmin.core.names import display


def rfc3339(dt):
    """RFC 3339 in UTC with second precision (asynq stores Unix seconds), or None."""
    return None if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def queue_url(request, name):
    return request.build_absolute_uri(reverse("api:queue", args=[name]))


def task_url(request, queue, task_id):
    return request.build_absolute_uri(reverse("api:task", args=[queue, task_id]))


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
