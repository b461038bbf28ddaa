"""The dead-task vault: every death captured from asynq's archived sets, and where
the capture loop of each queue stands.

Business rules (capture, statuses, redrive, purge, retention) live in services.py and
capture.py; these are data.
"""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models

IN_ASYNQ, TRIMMED, LEFT, REDRIVEN, PURGED = "in_asynq", "trimmed", "left", "redriven", "purged"
STATUSES = [(IN_ASYNQ, "in asynq"), (TRIMMED, "trimmed by asynq"), (LEFT, "left asynq's archive"),
            (REDRIVEN, "redriven"), (PURGED, "purged")]


class VaultEntry(models.Model):
    """One death: a task as it entered a queue's archived set (a task that dies again
    after a retry is a new row with the same queue and task id)."""

    queue = models.TextField()
    task_id = models.TextField()  # for display and search; task_member is exact
    task_member = models.BinaryField()  # the id's bytes as asynq stores them
    task_type = models.TextField(blank=True, default="")
    archived_score = models.FloatField()  # the zset score (asynq: Unix seconds it died)
    archived_at = models.DateTimeField()
    retried = models.IntegerField(default=0)
    max_retry = models.IntegerField(default=0)
    # Masked for everyone (search runs over these): see dlqadmin/masking.
    error_masked = models.TextField(blank=True, default="")
    payload_masked = models.TextField(blank=True, default="")  # a bounded preview
    payload_json = models.JSONField(null=True, blank=True)  # masked JSON payload (small ones), for field=value
    size = models.IntegerField(default=0)  # bytes of the msg
    sha256 = models.CharField(max_length=64)
    msg_encrypted = models.BinaryField()  # Fernet token of the raw msg (empty once purged)
    damaged = models.CharField(max_length=200, blank=True, default="")  # why the msg is unreadable, if it is
    status = models.CharField(max_length=16, choices=STATUSES, default=IN_ASYNQ)
    status_changed_at = models.DateTimeField()
    left_state = models.CharField(max_length=32, blank=True, default="")  # asynq state seen when it left
    captured_at = models.DateTimeField()
    redriven_at = models.DateTimeField(null=True, blank=True)
    redriven_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["-archived_score", "-id"]
        constraints = [
            # One row per death: the same task archived at the same second with the same msg is one death.
            # Its index, led by (queue, task_id), also serves a task's history.
            models.UniqueConstraint(fields=["queue", "task_id", "archived_score", "sha256"], name="vault_one_death"),
        ]
        indexes = [
            models.Index(fields=["queue", "-archived_score", "-id"], name="vault_queue_time"),
            models.Index(fields=["queue", "status", "archived_score"], name="vault_queue_status"),
            models.Index(fields=["queue", "task_type", "-archived_score"], name="vault_queue_type"),
            # Error text search (ILIKE). Every index costs capture time (1,000 deaths/s in
            # bench/bench_vault.py): the payload preview's substring search has none.
            GinIndex(fields=["error_masked"], opclasses=["gin_trgm_ops"], name="vault_error_trgm"),
        ]

    def __str__(self):
        return f"{self.queue}/{self.task_id} @{self.archived_score:g} ({self.status})"


class VaultCursor(models.Model):
    """Where the capture of one queue stands: the last (score, member) captured, and
    what the last scan saw, for loss accounting and lag."""

    queue = models.TextField(unique=True)
    score = models.FloatField(null=True)  # None: nothing captured yet
    member = models.BinaryField(null=True)
    tail_score = models.FloatField(null=True)  # the set's last member at the last scan
    tail_member = models.BinaryField(null=True)
    behind = models.BigIntegerField(default=0)  # members after the cursor at the last scan
    captured_total = models.BigIntegerField(default=0)
    lost_total = models.BigIntegerField(default=0)
    lag_seconds = models.FloatField(default=0)  # age of the oldest member not yet captured
    sweep_after = models.BigIntegerField(default=0)  # status sweep: next row id to look at
    last_pass_at = models.DateTimeField(null=True)
    last_loss_at = models.DateTimeField(null=True)

    def __str__(self):
        return f"vault cursor {self.queue}"


class VaultLoss(models.Model):
    """Deaths asynq trimmed before the vault captured them (capture fell behind)."""

    queue = models.TextField()
    at = models.DateTimeField()
    count = models.BigIntegerField()
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["queue", "-at"], name="vault_loss_queue")]


class OrphanScan(models.Model):
    """The latest orphan scan of a queue (asynq #847: task hashes marked archived that
    are in no archived set). Resumable: ``cursor`` is the SCAN cursor reached."""

    queue = models.TextField(unique=True)
    cursor = models.BigIntegerField(default=0)
    scanned = models.BigIntegerField(default=0)  # keys looked at
    orphans = models.BigIntegerField(default=0)
    done = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
