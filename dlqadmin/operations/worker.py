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
search-based run resumes at ``position`` in its stored id list. Each chunk's ids
are written down before the chunk runs (see "Failover" below), so a chunk done in
Redis just before the crash, whose counts were not yet saved, is found by the
reconciliation and counted; none is lost, counted twice or moved twice.

Between chunks the worker saves the counts, re-reads the status (pause / cancel
take effect there) and sleeps as needed to honour ``rate`` (tasks per second).

Failover. Redis replication is asynchronous: in a failover (Sentinel promoting the
replica, a master killed) writes the old master acknowledged can vanish. So a task
counts as done only once it is known to have survived:

- the ids of every chunk are written down (OperationChunk) before the chunk runs,
  and its script call is followed on the same connection by ``WAIT 1`` (when the
  master has a replica); a chunk a replica acknowledged is counted at once;
- after the last chunk a reconciliation pass re-reads every id of the operation
  on the current master: an id found back in its old state lost its move and is
  moved again (WAITed like any chunk); the others of an unacknowledged chunk count
  once the server read is the master every sentinel names and a replica has caught
  up with it (its replication id unchanged since the re-read);
- behind Sentinel, each chunk first asks the sentinels for the master, so writes
  move to a new master as soon as the sentinels name it;
- while Redis is unreachable (a failover in progress) the worker waits in place,
  keeping its lease, for up to ``DLQADMIN_OPERATION_REDIS_WAIT_SECONDS``, then
  reconnects (through Sentinel, to the new master) and continues with what is
  left; only after that does it release the operation for a later claim.

The operation ends ``done`` only after the reconciliation found nothing left to
redo. A Redis Cluster is not asked to WAIT (no key to route it by); its operations
still get the reconciliation pass.
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

from dlqadmin.asynq import AsynqError, Operations, PermissionRefused, RedisUnavailable, TaskFilter
from dlqadmin.asynq.errors import QueueNotFound
from dlqadmin.asynq.operations import IDS_CHUNK
from dlqadmin.access import registry
from dlqadmin.core.asynq_client import client
from dlqadmin.triage.search import visible_ids

from . import services
from .models import Operation, OperationChunk, OperationItem

log = logging.getLogger("dlqadmin.operations")
# Redrive / purge from the dead-task vault (dlqadmin/vault): ids are vault entries.
VAULT_ACTIONS = ("vault_run", "vault_purge")
# Orphaned task hashes (dlqadmin/vault/orphans.py): SCAN steps from the saved cursor.
ORPHAN_ACTIONS = ("orphan_scan", "orphan_capture", "orphan_delete")

LEASE_SECONDS = getattr(settings, "DLQADMIN_OPERATION_LEASE_SECONDS", 30)
# Give up on an operation that keeps failing to reach Redis after this many claims.
MAX_ATTEMPTS = getattr(settings, "DLQADMIN_OPERATION_MAX_ATTEMPTS", 20)
# Longest single sleep while rate-limiting (status and lease are checked in between).
_SLEEP_STEP = 1.0
# How long a worker waits in place for Redis to come back (a failover) before it
# releases the operation; and the reconciliation's patience with replicas.
REDIS_WAIT_SECONDS = getattr(settings, "DLQADMIN_OPERATION_REDIS_WAIT_SECONDS", 30)
_WAIT_MS = 1000  # WAIT timeout after each chunk
_RECONCILE_ROUNDS = 10


def _lease_until(now=None):
    return (now or app_clock.now()) + timedelta(seconds=LEASE_SECONDS)


def _claimable(now):
    return (Q(kind=Operation.BULK) & Q(status__in=[Operation.QUEUED, Operation.RUNNING])
            & (Q(lease_expires__isnull=True) | Q(lease_expires__lt=now)))


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


def _operations(op):
    """Operations that WAIT for a replica after every chunk when the master has one,
    and write each chunk's ids down (unconfirmed) before moving them, so a crash or
    a failover in the middle of a chunk leaves a record the reconciliation checks.
    ``wanted`` (1 behind Sentinel or with a replica, else 0) is what a chunk needs
    to count as done at once; the rest waits for the reconciliation."""
    from dlqadmin.core import clock

    ops = Operations(client(), now=clock.now, track_ids=True)
    online = ops.replicas_online()
    ops.wanted = 1 if ops.behind_sentinel or online else 0
    ops.wait_replicas = min(1, online)
    ops.wait_timeout_ms = _WAIT_MS
    ops.planned = []

    def write_ahead(ids, cutoff):
        ops.planned.append(OperationChunk.objects.create(
            operation=op, ids=ids, confirmed=False, cutoff=cutoff.decode("ascii", "replace")).pk)

    ops.before_chunk = write_ahead
    return ops


def _iterator(op, ops):
    method = getattr(ops, f"iter_{op.action}_all")
    kwargs = {"group": op.group or None}
    if op.rate:
        cap = IDS_CHUNK  # every chunk is moved as given ids (see _operations)
        kwargs["chunk"] = max(1, min(cap, op.rate))
    if op.ids is not None:
        kwargs["ids"] = op.ids[op.position:]
    return method(op.queue, op.state, **kwargs)


def _collect_ids(op, owner):
    """A search-based run: find the matching ids once (bounded chunks), store them.

    Matched as the user who started it may see the tasks (masked unless they may
    reveal on the queue now), exactly like the count they confirmed."""
    f = TaskFilter.from_query(op.filter)

    def renew():
        Operation.objects.filter(pk=op.pk, lease_owner=owner).update(lease_expires=_lease_until())

    ids = visible_ids(op.started_by, registry.ensure(op.queue), op.state, f, op.group or None, on_chunk=renew)
    Operation.objects.filter(pk=op.pk, lease_owner=owner).update(ids=ids, total=len(ids), position=0)
    op.refresh_from_db()


def _live_count(op):
    return services.state_size(op.queue, op.state, op.group or None)


class _LeaseLost(Exception):
    pass


def _save_chunk(op, owner, chunk, ops):
    """Counts, failures and the moved ids of one chunk, in one transaction."""
    wanted = ops.wanted
    confirmed = wanted == 0 or (chunk.replicas or 0) >= wanted or not chunk.ids_done
    with transaction.atomic():
        fields = dict(failed=F("failed") + chunk.failed, lease_expires=_lease_until())
        if confirmed:
            fields["done"] = F("done") + chunk.done
        if op.ids is not None:
            fields["position"] = F("position") + chunk.done + chunk.failed
        if not Operation.objects.filter(pk=op.pk, lease_owner=owner).update(**fields):
            raise _LeaseLost()
        OperationItem.objects.bulk_create([
            OperationItem(operation=op, task_id=i, outcome=r.outcome.value, state=r.state or "")
            for i, r in chunk.failures.items()])
        # The write-ahead row now holds what was moved (the failures have their items).
        planned = ops.planned.pop() if ops.planned else None
        if planned is not None:
            OperationChunk.objects.filter(pk=planned).update(ids=chunk.ids_done, confirmed=confirmed)
        elif chunk.ids_done:
            OperationChunk.objects.create(operation=op, ids=chunk.ids_done, confirmed=confirmed,
                                          cutoff=chunk.cutoff.decode("ascii", "replace"))
    return confirmed


def _run_chunks(op, owner, ops, sleep, clock, began, max_seconds):
    """The chunks still to do. A status to return, or None when all are done."""
    if op.filter and op.ids is None:
        _collect_ids(op, owner)
    elif op.ids is not None:
        # A chunk written down but not counted (its worker died in between) sits
        # right at ``position``: the reconciliation checks it, the run goes past it.
        tracked = {i for ids in OperationChunk.objects.filter(operation=op).values_list("ids", flat=True)
                   for i in ids}
        skip = 0
        while op.position + skip < len(op.ids) and op.ids[op.position + skip] in tracked:
            skip += 1
        if skip:
            Operation.objects.filter(pk=op.pk, lease_owner=owner).update(position=F("position") + skip)
    else:
        # Every task of the state: the total is what was done plus what is left.
        unconfirmed = sum(len(c) for c in OperationChunk.objects.filter(
            operation=op, confirmed=False).values_list("ids", flat=True))
        Operation.objects.filter(pk=op.pk, lease_owner=owner).update(
            total=op.done + op.failed + unconfirmed + _live_count(op))
    op.refresh_from_db()
    handled = 0
    for chunk in _iterator(op, ops):
        handled += chunk.done + chunk.failed
        if not _save_chunk(op, owner, chunk, ops):
            log.warning("operation %s: %d moves not acknowledged by a replica; re-checked later",
                        op.pk, chunk.done)
            # No replica streaming (a failover, or it died): WAIT only once one is back.
            ops.wait_replicas = min(1, ops.replicas_online())
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
    return None


def _reconcile(op, owner, ops, sleep):
    """Re-read every id the operation moved on the current master; move again what a
    failover lost; count the rest once it is safe. True once nothing is unconfirmed."""
    for round_ in range(_RECONCILE_ROUNDS):
        if round_:
            sleep(0.5)
        if not Operation.objects.filter(pk=op.pk, lease_owner=owner).update(lease_expires=_lease_until()):
            raise _LeaseLost()
        chunks = list(OperationChunk.objects.filter(operation=op).values_list("id", "ids", "cutoff", "confirmed"))
        counted = {i for _, ids, _, confirmed in chunks if confirmed for i in ids}
        open_chunks = [(pk, ids) for pk, ids, _, confirmed in chunks if not confirmed]
        every_id = list(dict.fromkeys(i for _, ids, _, _ in chunks for i in ids))
        cutoff = max((c for _, _, c, _ in chunks if c), key=float, default="").encode()
        lost, replid, run_id = ops.lost_moves(op.queue, op.state, every_id, group=op.group or None,
                                              cutoff=cutoff)

        if not ops.sentinels_agree(run_id):
            continue  # read from a server that is not (or no longer) the master
        if lost:
            _redo(op, ops, lost, counted, open_chunks)
            continue  # re-read everything once more after the redo
        if not open_chunks:
            return True
        # Nothing lost on the master: what it holds counts once a replica has it too
        # (if it has none, nothing could be promoted in its place).
        if ops.replicas_online() and ops.wait_replicated(1, 5, sleep=sleep) != replid:
            continue
        with transaction.atomic():
            for pk, ids in open_chunks:
                fresh = [i for i in dict.fromkeys(ids) if i not in counted]
                counted.update(fresh)
                if OperationChunk.objects.filter(pk=pk, confirmed=False).update(confirmed=True):
                    Operation.objects.filter(pk=op.pk).update(done=F("done") + len(fresh))
        return True
    return False


def _redo(op, ops, lost, counted, open_chunks):
    """Move the lost ids again (each re-checked in the script) as a new chunk."""
    log.warning("operation %s: %d moves lost in a failover, redoing them", op.pk, len(lost))
    lost_set = set(lost)
    results = getattr(ops, f"{op.action}_tasks")(op.queue, lost, expected_state=op.state)
    redone = [i for i, r in results.items() if r.ok]
    not_redone = {i: r for i, r in results.items() if not r.ok}
    acked = ops.wanted == 0 or (ops.last_replicas or 0) >= ops.wanted
    with transaction.atomic():
        # A lost id of a confirmed chunk was counted already; of an open chunk, it
        # counts once its redo is confirmed.
        for pk, ids in open_chunks:
            keep = [i for i in ids if i not in lost_set]
            if len(keep) != len(ids):
                OperationChunk.objects.filter(pk=pk).update(ids=keep)
        fresh = [i for i in redone if i not in counted]
        if fresh:
            OperationChunk.objects.create(operation=op, ids=fresh, confirmed=acked)
            if acked:
                Operation.objects.filter(pk=op.pk).update(done=F("done") + len(fresh))
        gone = [i for i in not_redone if i not in counted]
        if gone:
            Operation.objects.filter(pk=op.pk).update(failed=F("failed") + len(gone))
            OperationItem.objects.bulk_create([
                OperationItem(operation=op, task_id=i, outcome=not_redone[i].outcome.value,
                              state=not_redone[i].state or "") for i in gone])


def _vault_iterator(op):
    if op.action in ORPHAN_ACTIONS:
        from dlqadmin.vault.orphans import iter_operation

        return iter_operation(op)
    from dlqadmin.vault.services import iter_bulk

    return iter_bulk(op)


def _process_vault(op, owner, sleep, clock, began, max_seconds):
    """Vault and orphan operations: their chunks report their own outcomes (the vault
    checks what it re-creates itself), so they skip the failover reconciliation."""
    try:
        handled = 0
        for chunk in _vault_iterator(op):
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
                _release(op, owner)
                return Operation.RUNNING
    except QueueNotFound:
        return _fail(op, owner, "The queue no longer exists.")
    except (RedisUnavailable, AsynqError) as exc:
        op.refresh_from_db()
        if op.attempts >= MAX_ATTEMPTS:
            return _fail(op, owner, f"Redis error, gave up after {op.attempts} attempts: {exc}")
        _release(op, owner, last_error=str(exc)[:2000])  # the next claim retries
        return Operation.RUNNING
    except Exception as exc:  # noqa: BLE001 - end clearly, never leave it half-claimed
        log.exception("operation %s failed", op.pk)
        return _fail(op, owner, f"{type(exc).__name__}: {exc}")
    return None


def process(op, owner, *, sleep=time.sleep, clock=time.monotonic, max_seconds=None):
    """Work on a claimed operation until it ends, is paused/cancelled, loses its lease
    or ``max_seconds`` pass. Returns the operation's status afterwards."""
    began = clock()
    if op.action in VAULT_ACTIONS + ORPHAN_ACTIONS:
        stop = _process_vault(op, owner, sleep, clock, began, max_seconds)
        if stop:
            return stop
        return _finish(op, owner)
    unreachable_since = None
    backoff = 0.1
    while True:
        try:
            ops = _operations(op)
            stop = _run_chunks(op, owner, ops, sleep, clock, began, max_seconds)
            if stop:
                return stop
            if not _reconcile(op, owner, ops, sleep):
                raise RedisUnavailable("replicas did not confirm the operation's moves")
            break
        except _LeaseLost:
            log.warning("operation %s: lease lost, stopping", op.pk)
            return Operation.objects.get(pk=op.pk).status
        except RedisUnavailable as exc:
            # A failover takes seconds: wait in place (lease kept), then go on with what is left.
            now = clock()
            unreachable_since = now if unreachable_since is None else unreachable_since
            if now - unreachable_since >= REDIS_WAIT_SECONDS or not Operation.objects.filter(
                    pk=op.pk, lease_owner=owner).update(lease_expires=_lease_until(), last_error=str(exc)[:2000]):
                return _unavailable(op, owner, exc)
            log.warning("operation %s: %s (waiting for Redis)", op.pk, exc)
            sleep(backoff)
            backoff = min(backoff * 2, 2.0)
            continue
        except QueueNotFound:
            return _fail(op, owner, "The queue no longer exists.")
        except PermissionRefused as exc:
            return _fail(op, owner, str(exc))  # retrying cannot help
        except AsynqError as exc:
            return _unavailable(op, owner, exc)
        except Exception as exc:  # noqa: BLE001 - end clearly, never leave it half-claimed
            log.exception("operation %s failed", op.pk)
            return _fail(op, owner, f"{type(exc).__name__}: {exc}")
    if op.ids is None:
        Operation.objects.filter(pk=op.pk, lease_owner=owner).update(total=F("done") + F("failed"))
    return _finish(op, owner)


def _finish(op, owner):
    n = Operation.objects.filter(pk=op.pk, lease_owner=owner, status=Operation.RUNNING).update(
        status=Operation.DONE, finished_at=app_clock.now(), lease_owner="", lease_expires=None, last_error="")
    if n:
        services.finish_record(op)
        return Operation.DONE
    return _should_stop(op, owner) or Operation.objects.get(pk=op.pk).status


def _unavailable(op, owner, exc):
    op.refresh_from_db()
    if op.attempts >= MAX_ATTEMPTS:
        return _fail(op, owner, f"Redis error, gave up after {op.attempts} attempts: {exc}")
    _release(op, owner, last_error=str(exc)[:2000])  # the next claim retries
    log.warning("operation %s: %s (will retry)", op.pk, exc)
    return Operation.RUNNING


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
