"""Orphaned task hashes (asynq #847): hashes marked archived that are in no archived
set, left by older asynq versions' trims and by asynq's ArchiveAll*. Some installs
have millions.

A scan walks the queue's task keys with SCAN (bounded COUNT per step, paced by a short
sleep between steps, resumable from the saved cursor) and counts the orphans
(``OrphanScan``). Two tracked operations act on them, with the same bounded steps:
"capture into the vault" (each orphan becomes a ``trimmed`` death, its archive time
taken from the msg's last failure) and "delete" (each is re-checked inside the script
before it is deleted).
"""

from __future__ import annotations

import time

from django.db import transaction

from dlqadmin.asynq import keys
from dlqadmin.asynq.operations import ChunkResult
from dlqadmin.core import clock

from .models import TRIMMED, OrphanScan, VaultEntry

PACE_SECONDS = 0.005
ACTIONS = {"scan": "orphan_scan", "capture": "orphan_capture", "delete": "orphan_delete"}


def _vc():
    from .capture import vault_client

    return vault_client()


def scan_step(queue, *, vc=None, delete=False):
    """One bounded step of the queue's scan, saved. Returns (scan row, orphans found)."""
    vc = vc or _vc()
    with transaction.atomic():
        scan, _ = OrphanScan.objects.select_for_update().get_or_create(queue=queue)
        if scan.done or scan.started_at is None:  # start afresh
            scan.cursor, scan.scanned, scan.orphans, scan.done = 0, 0, 0, False
            scan.started_at, scan.finished_at = clock.now(), None
        cursor, looked, found = vc.orphan_step(queue, scan.cursor, delete=delete)
        scan.cursor, scan.scanned, scan.orphans = cursor, scan.scanned + looked, scan.orphans + len(found)
        if cursor == 0:
            scan.done, scan.finished_at = True, clock.now()
        scan.save()
    return scan, found


def scan(queue, *, vc=None, pace=PACE_SECONDS, max_seconds=None):
    """Scan (or resume scanning) a queue to the end or for ``max_seconds``."""
    began = time.monotonic()
    while True:
        row, _ = scan_step(queue, vc=vc)
        if row.done or (max_seconds is not None and time.monotonic() - began >= max_seconds):
            return row
        time.sleep(pace)


def capture(queue, members, *, vc=None):
    """Capture orphans into the vault as trimmed deaths. Returns the rows inserted."""
    from dlqadmin.asynq import messages
    from dlqadmin.asynq.errors import MessageDecodeError
    from dlqadmin.masking.selectors import masker_lookup

    from .capture import _insert

    vc = vc or _vc()
    read = vc.read(queue, members)
    tasks = []
    for member, (msg, state) in zip(members, read):
        if msg is None or state != "archived":
            continue
        try:
            score = float(messages.parse_task_message(msg).last_failed_at or 0)
        except MessageDecodeError:
            score = 0.0
        tasks.append((member, score, msg, state))
    with transaction.atomic():
        n = _insert(queue, tasks, masker_lookup(queue), clock.now())
        VaultEntry.objects.filter(queue=queue, status="in_asynq", task_member__in=[t[0] for t in tasks],
                                  archived_score__in=[t[1] for t in tasks]).update(
            status=TRIMMED, status_changed_at=clock.now(), left_state="orphan")
    return n


def start(request, queue, what, reason=""):
    """An admin starts a tracked operation: scan, capture or delete the orphans."""
    from dlqadmin.operations.models import Operation
    from dlqadmin.operations.services import BULK, Refused

    from dlqadmin.audit import record

    from .services import _require_admin

    if what not in ACTIONS:
        raise Refused("Choose scan, capture or delete.")
    _require_admin(request, queue, BULK)
    last = OrphanScan.objects.filter(queue=queue.name).first()
    total = last.orphans if last and what != "scan" else 0
    with transaction.atomic():
        op = Operation.objects.create(action=ACTIONS[what], queue=queue.name, state="orphans", total=total,
                                      started_by=request.user, started_by_name=request.user.get_username(),
                                      reason=(reason or "")[:2000])
        intent = record(BULK, request=request, queue=queue.name, reason=reason, outcome="intent",
                        detail={"operation": op.pk, "action": op.action, "state": "orphans", "total": total})
        Operation.objects.filter(pk=op.pk).update(intent_seq=intent.seq)
    op.refresh_from_db()
    return op


def iter_operation(op, *, vc=None, pace=PACE_SECONDS):
    """The operations worker's iterator for an orphan operation: one ChunkResult per
    SCAN step, resuming at the cursor saved in ``op.position``."""
    from dlqadmin.operations.models import Operation

    vc = vc or _vc()
    cursor = op.position
    first = True
    while first or cursor != 0:
        first = False
        if op.action == "orphan_scan":
            row, found = scan_step(op.queue, vc=vc)
            cursor, done = row.cursor, len(found)
        else:
            cursor, _, found = vc.orphan_step(op.queue, cursor, delete=op.action == "orphan_delete")
            done = capture(op.queue, found, vc=vc) if op.action == "orphan_capture" else len(found)
        Operation.objects.filter(pk=op.pk).update(position=cursor)
        yield ChunkResult(done, 0, [], {})
        time.sleep(pace)


def report():
    """The latest scan of every queue scanned, by queue name."""
    return list(OrphanScan.objects.order_by("queue"))


__all__ = ["scan", "scan_step", "capture", "start", "iter_operation", "report", "keys"]
