"""Tracked bulk operations ("retry all archived", "delete all matching a search").

An Operation row is the whole state of one bulk run: what to do (action, queue,
state, filter, rate), how far it got (total / done / failed, ``position`` in the id
list of a search-based run), who started it, and which worker holds it (``lease_owner``
until ``lease_expires``). Workers claim rows with a compare-and-set update and renew
the lease after every chunk; a row whose lease expired is claimed by the next worker,
which continues with what is left (each chunk is atomic in Redis, so a task is
either moved or untouched, never half-moved).
"""

from django.conf import settings
from django.db import models

from dlqadmin.core import names as qnames
from dlqadmin.core.fields import ClockDateTimeField, NameField, NameListField


class Operation(models.Model):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    STATUSES = [(s, s) for s in (QUEUED, RUNNING, PAUSED, DONE, CANCELLED, FAILED)]
    ACTIVE = (QUEUED, RUNNING, PAUSED)
    FINISHED = (DONE, CANCELLED, FAILED)

    ACTIONS = [("run", "run"), ("delete", "delete"), ("archive", "archive"), ("cancel", "cancel"),
               ("vault_run", "redrive from the vault"), ("vault_purge", "purge from the vault"),
               ("orphan_scan", "scan for orphaned task hashes"),
               ("orphan_capture", "capture orphaned task hashes into the vault"),
               ("orphan_delete", "delete orphaned task hashes")]
    # A bulk operation is carried out by the worker; a batch (selected tasks) is done
    # within its request and only keeps its per-id results here: never claimed.
    BULK = "bulk"
    BATCH = "batch"
    KINDS = [(BULK, BULK), (BATCH, BATCH)]

    kind = models.CharField(max_length=8, choices=KINDS, default=BULK)
    action = models.CharField(max_length=16, choices=ACTIONS)
    # The queue is any bytes (core/names.py): exact bytes, sha256 key, display label.
    # `queue` (a property, also accepted by the constructor) is the name as asynq holds it.
    queue_raw = models.BinaryField(default=b"")
    queue_key = models.CharField(max_length=64, db_index=True, default="")
    queue_label = models.TextField(default="")
    state = models.CharField(max_length=16)
    group = models.CharField(max_length=500, blank=True, default="")
    filter = models.JSONField(default=dict, blank=True)  # TaskFilter.to_query(); {} = every task
    rate = models.PositiveIntegerField(null=True, blank=True)  # tasks per second; None = unlimited
    status = models.CharField(max_length=16, choices=STATUSES, default=QUEUED, db_index=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # A search-based run: the matching ids (collected once, in bounded chunks) and
    # how many of them have been handed to Redis.
    ids = NameListField(null=True, blank=True)  # any bytes: odd ids stored as {"b64": ...}
    position = models.PositiveIntegerField(default=0)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    started_by_name = models.CharField(max_length=150, blank=True, default="")
    reason = models.CharField(max_length=2000, blank=True, default="")
    created_at = ClockDateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = ClockDateTimeField(auto_now=True)
    lease_owner = models.CharField(max_length=200, blank=True, default="")
    lease_expires = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # claims (more than 1: resumed after a worker died)
    intent_seq = models.BigIntegerField(null=True, blank=True)  # the audit intent row
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "lease_expires"])]

    def __str__(self):
        return f"{self.action} {self.queue_label}/{self.state} #{self.pk} ({self.status})"

    @property
    def queue(self):
        return qnames.from_raw(self.queue_raw)

    @queue.setter
    def queue(self, name):
        self.queue_raw, self.queue_key, self.queue_label = qnames.raw(name), qnames.key(name), qnames.display(name)

    @property
    def finished(self):
        return self.status in self.FINISHED

    @property
    def percent(self):
        if not self.total:
            return 100 if self.finished else 0
        return min(100, round(100 * (self.done + self.failed) / self.total))


class OperationItem(models.Model):
    """Per-id detail of a bulk operation: every id that was not done, and why."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="items")
    task_id = NameField()  # the exact bytes, any length
    outcome = models.CharField(max_length=32)  # OpOutcome value: not_found, changed, wrong_state, broken
    state = models.CharField(max_length=32, blank=True, default="")
    created_at = ClockDateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class OperationChunk(models.Model):
    """The ids one chunk of a bulk operation moved, kept until they are known to
    have survived a failover: a replica acknowledged the chunk (WAIT), or the
    worker's reconciliation pass found them moved on the current master and a
    replica then caught up with it. Only confirmed ids count as done."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="chunks")
    ids = models.JSONField(default=list)
    # "all" runs over a zset: the highest score the run takes (see asynq.ChunkResult.cutoff).
    cutoff = models.CharField(max_length=64, blank=True, default="")
    confirmed = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["operation", "confirmed"])]
