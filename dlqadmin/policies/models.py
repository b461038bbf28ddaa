"""Alert policies, their versions, and notification channels.

Business rules (validation, versioning, audit) live in services.py; these are data.
"""

from django.conf import settings
from django.db import models

from dlqadmin.core.fields import ClockDateTimeField


class Channel(models.Model):
    SLACK, EMAIL, WEBHOOK = "slack", "email", "webhook"
    KINDS = [(SLACK, "Slack (incoming webhook)"), (EMAIL, "E-mail"),
             (WEBHOOK, "JSON webhook (PagerDuty Events v2 shaped)")]

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=KINDS)
    # Webhook URL (slack/webhook, encrypted) or comma-separated addresses (email, plain).
    target_encrypted = models.TextField(blank=True, default="")
    routing_key_encrypted = models.TextField(blank=True, default="")  # webhook: PagerDuty routing key
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    # "env": SLACK_WEBHOOK_URL from the environment, managed by the scheduler, not editable.
    system = models.CharField(max_length=16, blank=True, default="")
    created_at = ClockDateTimeField(auto_now_add=True)
    updated_at = ClockDateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Policy(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    # A queue name, a glob (fnmatch: * ? [..]) or "re:<regex>" (full match).
    pattern = models.CharField(max_length=300)
    description = models.CharField(max_length=300, blank=True, default="")
    is_default = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)  # off: matching queues raise no alerts (mute)

    dlq_warning = models.PositiveIntegerField(default=10)
    dlq_critical = models.PositiveIntegerField(default=100)
    growth_threshold = models.PositiveIntegerField(null=True, blank=True, default=10)
    growth_window_minutes = models.PositiveIntegerField(default=15)
    archive_cap_warning_percent = models.PositiveSmallIntegerField(null=True, blank=True, default=80)
    archive_cap_critical_percent = models.PositiveSmallIntegerField(null=True, blank=True, default=95)
    archive_age_warning_days = models.PositiveSmallIntegerField(null=True, blank=True, default=80)
    pending_threshold = models.PositiveIntegerField(null=True, blank=True, default=10000)
    latency_threshold_seconds = models.PositiveIntegerField(null=True, blank=True, default=600)

    check_interval_seconds = models.PositiveIntegerField(default=60)
    repeat_interval_minutes = models.PositiveIntegerField(default=60)
    send_resolved = models.BooleanField(default=True)
    channels = models.ManyToManyField(Channel, blank=True, related_name="policies")
    runbook_url = models.URLField(max_length=500, blank=True, default="")
    # The dead-task vault (dlqadmin/vault): capture this policy's queues' dead tasks into
    # Postgres before asynq trims them, and keep them this many days.
    vault_enabled = models.BooleanField(default=True)
    vault_retention_days = models.PositiveIntegerField(default=30)

    version = models.PositiveIntegerField(default=0)
    created_at = ClockDateTimeField(auto_now_add=True)
    updated_at = ClockDateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"

    def __str__(self):
        return self.name


class PolicyVersion(models.Model):
    """A snapshot of a policy after each save (no secrets: channels by name)."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    data = models.JSONField()
    created_at = ClockDateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    comment = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["policy", "number"], name="policy_version_unique")]
