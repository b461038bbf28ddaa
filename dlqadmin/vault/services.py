"""Writes of the vault: redrive, purge, retention, key rotation, reveal, export.

Every function that acts for a user checks the right on the queue itself and is
audited (intent before the Redis change, outcome after; see dlqadmin/audit). Rights:
redrive needs ``operate_queue`` on the queue; purge needs the ``admin`` role; a raw
export or a reveal needs ``reveal_queue`` and a reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction

from dlqadmin.access.checks import has_global, may
from dlqadmin.access.roles import MANAGE_ACCESS, OPERATE_QUEUE
from dlqadmin.asynq.vault import MAX_BATCH
from dlqadmin.audit import record
from dlqadmin.core import clock
from dlqadmin.operations.services import Denied, Refused

from . import crypto
from .models import IN_ASYNQ, PURGED, REDRIVEN, VaultCursor, VaultEntry

log = logging.getLogger("dlqadmin.vault")

REDRIVE = "vault.redrive"
PURGE = "vault.purge"
RETENTION = "vault.retention"
ROTATE = "vault.rotate_keys"
EXPORT = "vault.export"
REDRIVE_CHUNK = 100  # tasks per enqueue script call (250 reached 70 ms on a starved host)
PURGE_CHUNK = 1000
RETENTION_CHUNK = 1000
# Audit detail keeps at most this many per-entry notes.
_AUDIT_IDS = 200


@dataclass(frozen=True)
class EntryResult:
    ok: bool
    outcome: str  # done | live | purged | damaged | not_found | unreadable
    message: str
    state: str = ""


def _require_operate(request, queue, action, actor=None):
    user = actor if actor is not None else request.user
    if not may(user, OPERATE_QUEUE, queue):
        record(action, request=request, actor=actor, queue=queue.name, outcome="denied",
               message="no operate_queue right on this queue", detail={"permission": OPERATE_QUEUE})
        raise Denied(f"You may not do this on queue {queue.name} (needs operate).")


def _require_admin(request, queue, action, actor=None):
    user = actor if actor is not None else request.user
    if not has_global(user, MANAGE_ACCESS):
        record(action, request=request, actor=actor, queue=queue.name, outcome="denied",
               message="purging the vault needs the admin role", detail={"permission": MANAGE_ACCESS})
        raise Denied("Purging the vault needs the admin role.")


def _clean_ids(ids):
    if not isinstance(ids, (list, tuple)) or not ids:
        raise Refused("Select at least one vault entry (ids: a non-empty list).")
    out = []
    for i in ids:
        try:
            out.append(int(i))
        except (TypeError, ValueError):
            raise Refused("Vault entry ids are whole numbers.") from None
    out = list(dict.fromkeys(out))
    if len(out) > 1000:
        raise Refused("At most 1000 entries at once; use a bulk operation for more.")
    return out


# --- redrive ----------------------------------------------------------------------------

def _now_ns():
    return int(clock.now().timestamp() * 1_000_000_000)


def redrive_entries(queue_name, entries, *, vc=None, actor=None):
    """Put ``entries`` (VaultEntry rows of one queue) back into asynq as asynq's Enqueue
    does, oldest first. No audit here (callers record). Returns {pk: EntryResult}."""
    from .capture import vault_client

    vc = vc or vault_client()
    results = {}
    todo = []
    for e in sorted(entries, key=lambda e: (e.archived_score, e.pk)):
        if e.status == PURGED or not bytes(e.msg_encrypted):
            results[e.pk] = EntryResult(False, "purged", "This death was purged from the vault; nothing to redrive.")
            continue
        if e.damaged:
            results[e.pk] = EntryResult(False, "damaged", f"The vaulted message is damaged ({e.damaged}).")
            continue
        try:
            msg = crypto.decrypt(e.msg_encrypted)
        except crypto.Unreadable as exc:
            results[e.pk] = EntryResult(False, "unreadable", str(exc))
            continue
        todo.append((e, msg))
    for start in range(0, len(todo), min(REDRIVE_CHUNK, MAX_BATCH)):
        batch = todo[start:start + REDRIVE_CHUNK]
        now = clock.now()
        replies = vc.enqueue(queue_name, [(bytes(e.task_member), msg) for e, msg in batch], _now_ns())
        done = []
        for (e, _), r in zip(batch, replies):
            if r.enqueued:
                done.append(e.pk)
                results[e.pk] = EntryResult(True, "done", "Put back into asynq's pending list.")
            else:
                state = r.state or "unknown"
                results[e.pk] = EntryResult(
                    False, "live", f"A task with this id is live in asynq already (it is {state}); "
                    "nothing was done. Act on it from the queue's task list.", state)
        if done:
            VaultEntry.objects.filter(pk__in=done).update(status=REDRIVEN, status_changed_at=now, redriven_at=now,
                                                          redriven_by=actor)
    return results


def redrive(request, queue, ids):
    """Redrive selected vault entries now; returns {pk: EntryResult}."""
    _require_operate(request, queue, REDRIVE)
    ids = _clean_ids(ids)
    entries = list(VaultEntry.objects.filter(queue=queue.name, pk__in=ids))
    found = {e.pk for e in entries}
    intent = record(REDRIVE, request=request, queue=queue.name, outcome="intent",
                    detail={"count": len(ids), "entries": ids[:_AUDIT_IDS]})
    try:
        results = redrive_entries(queue.name, entries, actor=request.user)
    except Exception as exc:
        record(REDRIVE, request=request, queue=queue.name, outcome="failed", message=str(exc)[:500],
               detail={"intent": intent.seq})
        raise
    for pk in ids:
        if pk not in found:
            results[pk] = EntryResult(False, "not_found", "No such vault entry in this queue.")
    done = sum(1 for r in results.values() if r.ok)
    not_done = [f"{pk} {r.outcome}" for pk, r in results.items() if not r.ok]
    record(REDRIVE, request=request, queue=queue.name, outcome="success" if not not_done else "failed",
           message=f"{done} redriven, {len(not_done)} not", task_id=entries[0].task_id if len(entries) == 1 else "",
           detail={"intent": intent.seq, "done": done, "not_done": not_done[:_AUDIT_IDS]})
    return results


# --- purge ------------------------------------------------------------------------------

_WIPE = dict(status=PURGED, msg_encrypted=b"", payload_masked="", payload_json=None, error_masked="")


def purge_ids(ids, now=None):
    """Wipe the data of these entries (the row stays as a tombstone in the task's history)."""
    now = now or clock.now()
    n = 0
    for start in range(0, len(ids), PURGE_CHUNK):
        n += VaultEntry.objects.filter(pk__in=ids[start:start + PURGE_CHUNK]).exclude(status=PURGED).update(
            status_changed_at=now, **_WIPE)
    return n


def purge(request, queue, ids):
    """Admins: purge selected vault entries (Postgres only). Returns how many."""
    _require_admin(request, queue, PURGE)
    ids = _clean_ids(ids)
    ids = list(VaultEntry.objects.filter(queue=queue.name, pk__in=ids).values_list("pk", flat=True))
    with transaction.atomic():
        n = purge_ids(ids)
        record(PURGE, request=request, queue=queue.name, message=f"{n} purged",
               detail={"count": n, "entries": ids[:_AUDIT_IDS]})
    return n


# --- retention --------------------------------------------------------------------------

def retention_pass(*, now=None, max_chunks=20):
    """Delete rows older than their queue's policy's vault retention, in chunks; one
    audit record per queue that lost rows. Returns the rows deleted."""
    from dlqadmin.policies.selectors import Resolver

    now = now or clock.now()
    queues = list(VaultCursor.objects.values_list("queue", flat=True))
    if not queues:
        return 0
    policy_of = Resolver.load().resolve_all(queues)
    total = 0
    for queue in queues:
        days = policy_of[queue].vault_retention_days
        cutoff = (now - timedelta(days=days)).timestamp()
        deleted = 0
        for _ in range(max_chunks):
            with connection.cursor() as cur:
                cur.execute(
                    "DELETE FROM vault_vaultentry WHERE id IN (SELECT id FROM vault_vaultentry "
                    "WHERE queue = %s AND archived_score < %s ORDER BY archived_score LIMIT %s)",
                    [queue, cutoff, RETENTION_CHUNK])
                n = cur.rowcount
            deleted += n
            if n < RETENTION_CHUNK:
                break
        if deleted:
            record(RETENTION, queue=queue, message=f"{deleted} vaulted deaths older than {days} days deleted",
                   detail={"count": deleted, "retention_days": days})
            total += deleted
    return total


# --- key rotation -----------------------------------------------------------------------

def rotate_keys(*, chunk=500):
    """Re-encrypt every stored message under the first key. Returns (done, unreadable)."""
    intent = record(ROTATE, outcome="intent", detail={"chunk": chunk})
    done = unreadable = 0
    after = 0
    while True:
        rows = list(VaultEntry.objects.filter(pk__gt=after).order_by("pk").values_list("pk", "msg_encrypted")[:chunk])
        if not rows:
            break
        updates = []
        for pk, token in rows:
            token = bytes(token)
            if not token:
                continue
            try:
                updates.append((crypto.rotate(token), pk))
            except crypto.Unreadable:
                unreadable += 1
        if updates:
            with connection.cursor() as cur:
                cur.executemany("UPDATE vault_vaultentry SET msg_encrypted = %s WHERE id = %s", updates)
        done += len(updates)
        after = rows[-1][0]
    record(ROTATE, outcome="success" if not unreadable else "failed",
           message=f"{done} re-encrypted, {unreadable} unreadable", detail={"intent": intent.seq})
    return done, unreadable


def in_asynq_count(queue_name):
    return VaultEntry.objects.filter(queue=queue_name, status=IN_ASYNQ).count()


# --- reveal and export ------------------------------------------------------------------

def reveal_key(entry):
    """What a reveal grant of one vaulted death is keyed by (never a live task's id)."""
    return f"vault:{entry.pk}"


def reveal(request, queue, entry, reason, ticket=""):
    """The triage reveal rule, grant and audit record, for one vaulted death."""
    from dlqadmin.triage.services import reveal_task

    from . import selectors

    return reveal_task(request, queue, reveal_key(entry), reason, ticket, load=lambda: selectors.raw_task(entry),
                       detail={"vault_entry": entry.pk, "vault_task_id": entry.task_id[:500]})


def active_reveal(user, queue, entry):
    from dlqadmin.triage.services import active_reveal as live

    return live(user, queue, reveal_key(entry))


# --- bulk: every entry matching a search, as a tracked operation -------------------------

BULK_ACTIONS = {"run": "vault_run", "purge": "vault_purge"}
MAX_BULK = 1_000_000


def start_bulk(request, queue, action, f, *, confirm=True, reason=""):
    """Queue a tracked operation (dlqadmin.operations) that redrives (``run``) or
    purges every entry matching ``f``; the operations worker carries it out in
    chunks. With ``confirm=False`` only the rights and input are checked (None)."""
    from dlqadmin.operations.models import Operation
    from dlqadmin.operations.services import BULK

    from . import selectors

    if action not in BULK_ACTIONS:
        raise Refused("action must be run or purge.")
    if action == "purge":
        _require_admin(request, queue, BULK)
    else:
        _require_operate(request, queue, BULK)
    if not confirm:
        return None
    qs = selectors.matching(queue.name, f)
    if action == "run":
        qs = qs.exclude(status=PURGED)
    ids = list(qs.order_by("archived_score", "id").values_list("id", flat=True)[:MAX_BULK + 1])
    if len(ids) > MAX_BULK:
        raise Refused(f"At most {MAX_BULK} entries per operation; narrow the search.")
    query = f.to_query()
    with transaction.atomic():
        op = Operation.objects.create(action=BULK_ACTIONS[action], queue=queue.name, state="vault", filter=query,
                                      ids=ids, total=len(ids), started_by=request.user,
                                      started_by_name=request.user.get_username(), reason=(reason or "")[:2000])
        intent = record(BULK, request=request, queue=queue.name, reason=reason or "", outcome="intent",
                        detail={"operation": op.pk, "action": op.action, "state": "vault", "filter": query,
                                "total": len(ids)})
        Operation.objects.filter(pk=op.pk).update(intent_seq=intent.seq)
    op.refresh_from_db()
    return op


@dataclass(frozen=True)
class _Outcome:
    value: str


@dataclass(frozen=True)
class _Failure:
    outcome: _Outcome
    state: str | None


def iter_bulk(op, *, chunk=500):
    """The operations worker's iterator for a vault operation: one ChunkResult per
    chunk of the stored entry ids (from ``op.position``)."""
    from dlqadmin.asynq.operations import ChunkResult

    ids = op.ids[op.position:]
    actor = op.started_by
    for start in range(0, len(ids), chunk):
        batch = ids[start:start + chunk]
        entries = list(VaultEntry.objects.filter(queue=op.queue, pk__in=batch))
        found = {e.pk for e in entries}
        failures = {str(pk): _Failure(_Outcome("not_found"), None) for pk in batch if pk not in found}
        if op.action == "vault_run":
            results = redrive_entries(op.queue, entries, actor=actor)
            for pk, r in results.items():
                if not r.ok:
                    failures[str(pk)] = _Failure(_Outcome(r.outcome), r.state or None)
        else:
            purge_ids([e.pk for e in entries])
        yield ChunkResult(len(batch) - len(failures), len(failures), list(failures), failures)
