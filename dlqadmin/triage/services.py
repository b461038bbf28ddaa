"""Writes of the triage area. Each checks its right itself and is audited."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from dlqadmin.core import clock

from dlqadmin.access.checks import may
from dlqadmin.access.roles import REVEAL_QUEUE
from dlqadmin.audit import record
from dlqadmin.core import names
from dlqadmin.core.asynq_client import inspector

from .models import RevealGrant

REVEAL = "payload.reveal"


class RevealRefused(Exception):
    """The reveal is not allowed (status 403) or the request is incomplete (400)."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


def _digest(raw):
    return hashlib.sha256(raw).hexdigest() if raw else None


def reveal_task(request, queue, task_id, reason, ticket="", *, load=None, detail=None):
    """Let request.user see one task's raw data for a short time; returns (task, grant).

    Needs the reveal right on the queue (payload_viewer or admin) and a stated reason.
    ``load`` (default: the live task from asynq) returns the task being revealed; the
    vault passes its own, with a ``task_id`` naming one vaulted death, so both share
    this one rule, grant and audit record (``detail`` adds to the record).
    The audit record is written in the same transaction as the grant: if it cannot
    be written, nothing is revealed. Raw values are never audited, only their hashes.
    """
    reason = (reason or "").strip()
    ticket = (ticket or "").strip()[:200]
    if not may(request.user, REVEAL_QUEUE, queue):
        record(REVEAL, request=request, queue=queue.name, task_id=task_id, reason=reason, outcome="denied",
               message="no payload_viewer right on this queue")
        raise RevealRefused("You may not reveal raw data on this queue.", 403)
    minimum = settings.DLQADMIN_REVEAL_MIN_REASON
    if len(reason) < minimum:
        raise RevealRefused(f"Say why you need the raw data (at least {minimum} characters).", 400)
    if load is None:
        task = inspector().get_task(queue.name, task_id)  # TaskNotFound / QueueNotFound propagate
    else:
        task = load()
    seconds = settings.DLQADMIN_REVEAL_SECONDS
    with transaction.atomic():
        record(REVEAL, request=request, queue=queue.name, task_id=task_id, reason=reason,
               detail={"ticket": ticket, "seconds": seconds, "task_type": getattr(task, "type", ""),
                       "payload_sha256": _digest(getattr(task, "payload", None)), **(detail or {})})
        grant = RevealGrant.objects.create(
            user=request.user, queue=names.display(queue.name), task_id=names.display(task_id),
            queue_key=names.key(queue.name), task_key=names.key(task_id), reason=reason, ticket=ticket,
            expires_at=clock.now() + timedelta(seconds=seconds))
    return task, grant


def active_reveal(user, queue, task_id):
    """The user's live reveal of this task, if any (and only while they still hold the right)."""
    if not may(user, REVEAL_QUEUE, queue):
        return None
    return (RevealGrant.objects.filter(user=user, queue_key=names.key(queue.name), task_key=names.key(task_id),
                                       expires_at__gt=clock.now()).order_by("-expires_at").first())
