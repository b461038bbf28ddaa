"""Keep the Queue registry in step with asynq's set of queues (additions only)."""

from django.db import connection

from dlqadmin.core import names as qnames

from dlqadmin.core.prepared import Prepared, server_cursor

from .models import Queue

# The registry row of one queue key, compiled once per process (asked on every queue page).
_BY_KEY = Prepared(lambda key: Queue.objects.filter(key=key).order_by()[:1], "prepared:queue-key")


def sync(names):
    """Register any of `names` not yet known; return the names as a list."""
    names = list(names)
    by_key = {qnames.key(n): n for n in names}
    known = _known_keys(list(by_key))
    missing = [Queue.for_name(n) for k, n in by_key.items() if k not in known]
    if missing:
        # New queues are granted to nobody: only all-queue roles see them at once.
        Queue.objects.bulk_create(missing, ignore_conflicts=True)
    return names


def _known_keys(keys):
    """Which of `keys` the registry holds: one array parameter, so the SQL is the same for
    any number of queues (asked by every overview and queue list; compiling `key__in`
    anew each time cost more than the query)."""
    if not keys:
        return set()
    with server_cursor() as cursor:
        cursor.execute(f'SELECT "key" FROM {connection.ops.quote_name(Queue._meta.db_table)} '
                       'WHERE "key" = ANY(%s)', [keys])
        return {row[0] for row in cursor.fetchall()}


def ensure(name):
    new = Queue.for_name(name)
    queue, _ = Queue.objects.get_or_create(key=new.key, defaults={"raw": new.raw, "label": new.label})
    return queue


def find(name):
    """The registry row of `name`, or None."""
    return _BY_KEY.first(qnames.key(name))


def name_for_key(key):
    """The name registered under `key` (sha256 hex of its bytes), or None. A queue asynq
    has but the registry has not met yet is registered first (one SMEMBERS)."""
    raw = Queue.objects.filter(key=key).values_list("raw", flat=True).first()
    if raw is None:
        from dlqadmin.core.asynq_client import inspector

        found = [n for n in sync(inspector().queues()) if qnames.key(n) == key]
        return found[0] if found else None
    return qnames.from_raw(raw)
