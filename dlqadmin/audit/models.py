"""The audit log: one append-only, hash-chained table, and the head of its chain.

Rows are only ever INSERTed, by `services.record`. Postgres triggers (django-pgtrigger)
reject UPDATE and DELETE on `audit_auditevent`, and each row carries the hash of its
canonical content plus the previous row's hash (see `chain.py`), so a row altered,
removed or reordered by someone who disabled the trigger is found by
`manage.py verify_audit_log`.

The actor is stored as plain values (user id and user name, frozen at the time), not
as a foreign key: deleting or renaming a user must neither touch nor block audit rows.
"""

import pgtrigger
from django.db import models
from django.db.models.functions import Cast, Concat, Lower

SUCCESS, DENIED, FAILED, INTENT = "success", "denied", "failed", "intent"
OUTCOMES = (SUCCESS, DENIED, FAILED, INTENT)


def _search_expression():
    """Lower-cased text of every column free-text search covers (detail included)."""
    sep = models.Value(" ")
    parts = ["actor_name", "action", "queue", "task_id", "target", "reason", "message", "request_id", "ip"]
    pieces = []
    for name in parts:
        pieces += [models.F(name), sep]
    pieces.append(Cast("detail", models.TextField()))
    return Lower(Concat(*pieces, output_field=models.TextField()))


class AuditEvent(models.Model):
    """Who did what, when, from where and why; and whether it worked."""

    # Position in the hash chain: 1, 2, 3... without gaps. Also the primary key and
    # the order of the log (keyset pagination walks it).
    seq = models.BigIntegerField(primary_key=True)
    # UTC; never earlier than the previous row's (the writer enforces it under the
    # chain lock), so a date range is a seq range.
    created_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    queue = models.TextField(blank=True, default="")
    task_id = models.TextField(blank=True, default="")
    target = models.TextField(blank=True, default="")
    reason = models.TextField(blank=True, default="")
    outcome = models.CharField(max_length=16, choices=[(o, o) for o in OUTCOMES])
    message = models.TextField(blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    ip = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=512, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Derived, not chained: what the free-text filter searches (trigram-indexed).
    search = models.GeneratedField(expression=_search_expression(), output_field=models.TextField(),
                                   db_persist=True)

    class Meta:
        ordering = ["-seq"]
        default_permissions = ()
        indexes = [
            # Each filter is an equality plus "seq < cursor ORDER BY seq DESC".
            models.Index(fields=["actor_name", "-seq"], name="audit_actor_seq"),
            models.Index(fields=["action", "-seq"], name="audit_action_seq"),
            models.Index(fields=["queue", "-seq"], name="audit_queue_seq"),
            models.Index(fields=["task_id", "-seq"], name="audit_task_seq"),
            models.Index(fields=["outcome", "-seq"], name="audit_outcome_seq"),
            # Date range -> seq range (created_at never decreases along seq).
            models.Index(fields=["created_at", "seq"], name="audit_created_seq"),
            # Free text: a trigram GIN index on `search` (pg_trgm), created in migration
            # 0001 with SQL, since Django's GinIndex needs django.contrib.postgres.
        ]
        triggers = [
            pgtrigger.Protect(name="append_only_update", operation=pgtrigger.Update),
            pgtrigger.Protect(name="append_only_delete", operation=pgtrigger.Delete),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action} by {self.actor_name} ({self.outcome})"


class ChainHead(models.Model):
    """The single row holding the chain's last seq and hash.

    Writers lock it (SELECT ... FOR UPDATE) to append, so concurrent writers queue up
    instead of forking the chain; verify checks the last row against it, which catches
    rows cut off the end of the log. It can only move forward and cannot be deleted.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(null=True)

    class Meta:
        default_permissions = ()
        triggers = [
            pgtrigger.Protect(name="head_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(name="head_only_forward", operation=pgtrigger.Update,
                              condition=pgtrigger.Q(new__seq__lte=pgtrigger.F("old__seq"))),
        ]
