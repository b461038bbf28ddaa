"""Keep the Queue registry in step with asynq's set of queues (additions only)."""

from .models import Queue


def sync(names):
    """Register any of `names` not yet known; return the names as a list."""
    names = list(names)
    known = set(Queue.objects.filter(name__in=names).values_list("name", flat=True))
    missing = [n for n in names if n not in known]
    if missing:
        # New queues are granted to nobody: only all-queue roles see them at once.
        Queue.objects.bulk_create([Queue(name=n) for n in missing], ignore_conflicts=True)
    return names


def ensure(name):
    queue, _ = Queue.objects.get_or_create(name=name)
    return queue
