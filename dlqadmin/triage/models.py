from django.conf import settings
from django.db import models

from dlqadmin.core.fields import ClockDateTimeField


class RevealGrant(models.Model):
    """A user may see one task's raw data until `expires_at` (time-boxed, one task only).

    Created only by triage.services.reveal_task, which checks the right, the reason
    and writes the audit record first.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # Queue and task id are any bytes (core/names.py): display forms, and sha256 keys of the
    # exact bytes that the lookup uses (a NUL or a 10 KB id fits neither text nor an index).
    queue = models.TextField()
    task_id = models.TextField()
    queue_key = models.CharField(max_length=64, default="")
    task_key = models.CharField(max_length=64, default="")
    reason = models.TextField()
    ticket = models.CharField(max_length=200, blank=True)
    created_at = ClockDateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "queue_key", "task_key", "expires_at"], name="reveal_lookup")]
