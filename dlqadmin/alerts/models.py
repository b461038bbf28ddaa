"""Samples of queue state, the alert state machine's rows, its history, and the outbox.

A queue is any bytes (see core/names.py): rows hold its display form in `queue` (text,
unbounded) and its identity in `queue_key` (sha256 of the bytes), which the indexes and
unique constraints use, so a 10 KB name or a NUL byte never fails a check round.
"""

from django.db import models

from dlqadmin.core.fields import ClockDateTimeField

OK, WARNING, CRITICAL, RESOLVED = "ok", "warning", "critical", "resolved"
DEDUP_QUEUE_MAX = 160
STATUSES = [(OK, "OK"), (WARNING, "Warning"), (CRITICAL, "Critical"), (RESOLVED, "Resolved")]


class QueueSample(models.Model):
    """One queue's state counts at one check round (history charts, growth rate)."""

    queue = models.TextField()
    queue_key = models.CharField(max_length=64)
    at = models.DateTimeField()
    pending = models.PositiveIntegerField()
    active = models.PositiveIntegerField()
    scheduled = models.PositiveIntegerField()
    retry = models.PositiveIntegerField()
    archived = models.PositiveIntegerField()
    completed = models.PositiveIntegerField()
    latency_seconds = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["queue_key", "at"]), models.Index(fields=["at"])]


class AlertState(models.Model):
    """Where one policy × queue × rule stands: OK → WARNING → CRITICAL → RESOLVED."""

    policy_name = models.CharField(max_length=64)
    queue = models.TextField()
    queue_key = models.CharField(max_length=64)
    rule = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=STATUSES, default=OK)
    since = models.DateTimeField()
    value = models.FloatField(default=0)
    threshold = models.FloatField(null=True)
    last_checked_at = models.DateTimeField()
    last_notified_at = models.DateTimeField(null=True)
    last_notified_status = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["policy_name", "queue_key", "rule"],
                                               name="alert_state_unique")]
        indexes = [models.Index(fields=["status"])]

    @property
    def dedup_key(self):
        # Receivers cap dedup keys (PagerDuty: 255): a long name is named by its key.
        queue = self.queue if len(self.queue) <= DEDUP_QUEUE_MAX else f"sha256:{self.queue_key}"
        return f"dlqadmin:{self.policy_name}:{queue}:{self.rule}"


class AlertEvent(models.Model):
    """A status change of an AlertState (alert history)."""

    policy_name = models.CharField(max_length=64)
    queue = models.TextField()
    queue_key = models.CharField(max_length=64)
    rule = models.CharField(max_length=32)
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    value = models.FloatField()
    threshold = models.FloatField(null=True)
    at = models.DateTimeField()
    notified = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["queue_key", "at"]), models.Index(fields=["at"])]


class OutboxMessage(models.Model):
    """A notification written before it is sent; the sender claims, sends, and records."""

    PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
    STATES = [(PENDING, "pending"), (SENDING, "sending"), (SENT, "sent"), (FAILED, "failed")]

    channel = models.ForeignKey("policies.Channel", on_delete=models.CASCADE, related_name="outbox")
    # The notification's facts (already masked): see alerts/notifications.py.
    payload = models.JSONField()
    dedup_key = models.CharField(max_length=700)
    state = models.CharField(max_length=16, choices=STATES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = ClockDateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]
