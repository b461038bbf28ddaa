"""The operations worker: claims queued/running bulk operations and carries them out.

It runs inside ``python manage.py run_scheduler`` (a job every second, on every
scheduler instance: claims make it safe to run several) and in the foreground with
``python manage.py run_operations [--once]``.

Claiming is a compare-and-set on the row (``filter(id=..., status=..., lease
free).update(status=running, lease_owner=me, lease_expires=now+lease)``), so one
operation is worked on by one worker at a time. The lease is renewed after every
chunk; a worker that dies stops renewing it, and once it expires the next worker
claims the row and continues with what is left: each chunk is one atomic Redis
script, so every task is either moved or untouched (never half-moved), and a
search-based run resumes at ``position`` in its stored id list (a chunk done in
Redis just before the crash, whose counts were not yet saved, is redone: its tasks
then count as "changed"/"not found" rather than "done"; none is lost or moved twice).

Between chunks the worker saves the counts, re-reads the status (pause / cancel
take effect there) and sleeps as needed to honour ``rate`` (tasks per second).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from dlqadmin.core import clock as app_clock

from dlqadmin.asynq import AsynqError, RedisUnavailable, TaskFilter
from dlqadmin.asynq.errors import QueueNotFound
from dlqadmin.asynq.operations import DEFAULT_CHUNK, IDS_CHUNK
from dlqadmin.asynq.search import search
from dlqadmin.core.asynq_client import client, operations

from . import services
from .models import Operation, OperationItem

log = logging.getLogger("dlqadmin.operations")

LEASE_SECONDS = getattr(settings, "DLQADMIN_OPERATION_LEASE_SECONDS", 30)
# Give up on an operation that keeps failing to reach Redis after this many claims.
MAX_ATTEMPTS = getattr(settings, "DLQADMIN_OPERATION_MAX_ATTEMPTS", 20)
# Longest single sleep while rate-limiting (status and lease are checked in between).
_SLEEP_STEP = 1.0


def _lease_until(now=None):
    return (now or app_clock.now()) + timedelta(seconds=LEASE_SECONDS)


def _claimable(now):
    return Q(status__in=[Operation.QUEUED, Operation.RUNNING]) & (Q(lease_expires__isnull=True) | Q(lease_expires__lt=now))


def claim(owner, op_id=None):
    """Claim the oldest claimable operation (or ``op_id``); None if there is none."""
    now = app_clock.now()
    candidates = Operation.objects.filter(_claimable(now))
    if op_id is not None:
        candidates = candidates.filter(pk=op_id)
    for pk, status in candidates.order_by("id").values_list("id", "status")[:20]:
        won = Operation.objects.filter(_claimable(now), pk=pk, status=status).update(
            status=Operation.RUNNING, lease_owner=owner, lease_expires=_lease_until(now),
            started_at=Coalesce(F("started_at"), now), attempts=F("attempts") + 1)
        if won:
            return Operation.objects.get(pk=pk)
    return None


def _release(op, owner, **fields):
    return Operation.objects.filter(pk=op.pk, lease_owner=owner).update(lease_owner="", lease_expires=None, **fields)


def _iterator(op):
    ops = operations()
    method = getattr(ops, f"iter_{op.action}_all")
    kwargs = {"group": op.group or None}
    if op.rate:
        cap = IDS_CHUNK if op.ids is not None else DEFAULT_CHUNK
        kwargs["chunk"] = max(1, min(cap, op.rate))
    if op.ids is not None:
        kwargs["ids"] = op.ids[op.position:]
    return method(op.queue, op.state, **kwargs)


def _collect_ids(op, owner):
    """A search-based run: find the matching ids once (bounded chunks), store them."""
    f = TaskFilter.from_query(op.filter)
    ids = []
    for progress in search(client(), op.queue, op.state, f, group=op.group or None):
        ids.extend(t.id for t in progress.matches)
        Operation.objects.filter(pk=op.pk, lease_owner=owner).update(lease_expires=_lease_until())
    ids = list(dict.fromkeys(ids))
    Operation.objects.filter(pk=op.pk, lease_owner=owner).update(ids=ids, total=len(ids), position=0)
    op.refresh_from_db()


def _live_count(op):
    return services.count_matching(op.queue, op.state, TaskFilter(), op.group or None)


def process(op, owner, *, sleep=time.sleep, clock=time.monotonic, max_seconds=None):
    """Work on a claimed operation until it ends, is paused/cancelled, loses its lease
    or ``max_seconds`` pass. Returns the operation's status afterwards."""
    began = clock()
    try:
        if op.filter and op.ids is None:
            _collect_ids(op, owner)
        elif op.ids is None:
            # Every task of the state: the total is what was done plus what is left.
            Operation.objects.filter(pk=op.pk, lease_owner=owner).update(
                total=op.done + op.failed + _live_count(op))
        iterator = _iterator(op)
        handled = 0
        for chunk in iterator:
            handled += chunk.done + chunk.failed
            with transaction.atomic():
                # A chunk went through: an earlier pass's error is no longer current.
                fields = dict(done=F("done") + chunk.done, failed=F("failed") + chunk.failed,
                              lease_expires=_lease_until(), last_error="")
                if op.ids is not None:
                    fields["position"] = F("position") + chunk.done + chunk.failed
                if not Operation.objects.filter(pk=op.pk, lease_owner=owner).update(**fields):
                    log.warning("operation %s: lease lost, stopping", op.pk)
                    return Operation.objects.get(pk=op.pk).status
                OperationItem.objects.bulk_create([
                    OperationItem(operation=op, task_id=i, outcome=r.outcome.value, state=r.state or "")
                    for i, r in chunk.failures.items()])
            stop = _should_stop(op, owner)
            if stop:
                return stop
            if op.rate:
                stop = _throttle(op, owner, handled, began, sleep, clock)
                if stop:
                    return stop
            if max_seconds is not None and clock() - began >= max_seconds:
                # Give others a turn: the row stays running, free to claim.
                _release(op, owner)
                return Operation.RUNNING
    except QueueNotFound:
        return _fail(op, owner, "The queue no longer exists.")
    except (RedisUnavailable, AsynqError) as exc:
        op.refresh_from_db()
        if op.attempts >= MAX_ATTEMPTS:
            return _fail(op, owner, f"Redis error, gave up after {op.attempts} attempts: {exc}")
        _release(op, owner, last_error=str(exc)[:2000])  # the next claim retries
        log.warning("operation %s: %s (will retry)", op.pk, exc)
        return Operation.RUNNING
    except Exception as exc:  # noqa: BLE001 - end clearly, never leave it half-claimed
        log.exception("operation %s failed", op.pk)
        return _fail(op, owner, f"{type(exc).__name__}: {exc}")
    n = Operation.objects.filter(pk=op.pk, lease_owner=owner, status=Operation.RUNNING).update(
        status=Operation.DONE, finished_at=app_clock.now(), lease_owner="", lease_expires=None, last_error="")
    if n:
        services.finish_record(op)
        return Operation.DONE
    return _should_stop(op, owner) or Operation.objects.get(pk=op.pk).status


def _fail(op, owner, message):
    n = Operation.objects.filter(pk=op.pk, lease_owner=owner).update(
        status=Operation.FAILED, finished_at=app_clock.now(), lease_owner="", lease_expires=None,
        last_error=message[:2000])
    if n:
        services.finish_record(op, outcome="failed", message=message)
    return Operation.FAILED


def _should_stop(op, owner):
    """After a chunk: the status a user may have changed. None to go on."""
    status = Operation.objects.values_list("status", flat=True).get(pk=op.pk)
    if status == Operation.RUNNING:
        return None
    if _release(op, owner) and status == Operation.CANCELLED:
        services.finish_record(op, message=f"cancelled after {Operation.objects.get(pk=op.pk).done} done")
    return status


def _throttle(op, owner, handled, began, sleep, clock):
    """Sleep until ``handled`` tasks fit the rate; checks status and renews the lease."""
    while True:
        wait = handled / op.rate - (clock() - began)
        if wait <= 0:
            return None
        sleep(min(wait, _SLEEP_STEP))
        if not Operation.objects.filter(pk=op.pk, lease_owner=owner).update(lease_expires=_lease_until()):
            return Operation.objects.get(pk=op.pk).status
        stop = _should_stop(op, owner)
        if stop:
            return stop


def run_pending(owner, *, sleep=time.sleep, clock=time.monotonic, max_seconds=None, limit=None):
    """Claim and process operations until none is claimable (or ``limit`` claims /
    ``max_seconds`` pass). Returns the operations processed, with their status."""
    began = clock()
    handled = []
    while limit is None or len(handled) < limit:
        remaining = None if max_seconds is None else max_seconds - (clock() - began)
        if remaining is not None and remaining <= 0:
            break
        op = claim(owner)
        if op is None:
            break
        status = process(op, owner, sleep=sleep, clock=clock, max_seconds=remaining)
        handled.append((op.pk, status))
        if status == Operation.RUNNING:
            break  # released (time budget used, or Redis unreachable): next pass continues it
    return handled
