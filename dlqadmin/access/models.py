from django.conf import settings
from django.db import models
from dlqadmin.core import clock
from dlqadmin.core import names as qnames

from .roles import QUEUE_ROLES


class Queue(models.Model):
    """Registry mirroring asynq's queues, so grants have an object to point at.

    Rows are added automatically when a queue shows up in asynq (granted to nobody)
    and kept when it disappears, so grants survive a queue being emptied and removed.

    asynq's names are any bytes: `raw` holds them exactly, `key` (sha256 of `raw`) is
    the identity, `label` the display form (see core/names.py). `name` is the name as
    the asynq reader takes it.
    """

    raw = models.BinaryField()
    key = models.CharField(max_length=64, unique=True)
    label = models.TextField()
    first_seen_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["label", "key"]
        default_permissions = ("view",)
        permissions = [
            ("operate_queue", "Retry, discard, archive, pause/resume and cancel tasks"),
            ("reveal_queue", "Reveal raw payloads and error messages"),
        ]

    def __str__(self):
        return self.label

    @property
    def name(self):
        return qnames.from_raw(self.raw)

    @classmethod
    def for_name(cls, name):
        return cls(raw=qnames.raw(name), key=qnames.key(name), label=qnames.display(name))


MANUAL = "manual"
SSO = "sso"
GRANT_SOURCES = [(MANUAL, "given by hand"), (SSO, "from the identity provider's groups")]


class QueueGrant(models.Model):
    """User U holds per-queue role R on queue Q. Guardian permissions derive from these.

    `source` keeps grants given by hand apart from those derived from the identity
    provider's groups at sign-in: each sign-in rewrites only the SSO ones."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_grants")
    role = models.CharField(max_length=32, choices=[(r, r) for r in QUEUE_ROLES])
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="grants")
    source = models.CharField(max_length=8, choices=GRANT_SOURCES, default=MANUAL)
    granted_at = models.DateTimeField(default=clock.now)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["user__username", "queue__label", "role"]
        default_permissions = ()
        # Global permissions live here only because Django needs a model to hang them on.
        permissions = [
            ("manage_policies", "Edit policies, masking rules and notification channels"),
            ("view_audit", "Read and export the audit log"),
            ("manage_access", "Manage users, roles and grants"),
        ]
        constraints = [models.UniqueConstraint(fields=["user", "role", "queue", "source"],
                                               name="one_grant_per_role_queue_source")]

    def __str__(self):
        return f"{self.user} {self.role} on {self.queue}"


class SessionEpoch(models.Model):
    """Bumping a user's epoch ends every session they have (checked on each request)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_epoch")
    epoch = models.PositiveIntegerField(default=0)


class GroupRoleRule(models.Model):
    """Members of the identity provider's group `group` get `role`: on `queue`, or on every
    queue (per-queue roles) / globally (global roles) when `queue` is empty. Applied at
    each single sign-on; edited on the Users page."""

    group = models.CharField(max_length=256)
    role = models.CharField(max_length=32)
    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.CASCADE, related_name="group_rules")
    created_at = models.DateTimeField(default=clock.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["group", "role", "queue__label"]
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["group", "role", "queue"], nulls_distinct=False,
                                               name="one_rule_per_group_role_queue")]

    def __str__(self):
        return f"{self.group} -> {self.role} on {self.queue or '*'}"
