"""The outbox sender: claim due messages, send each once, record the outcome.

A message is written (in the check round's transaction) before anything is sent. The
sender claims due messages with SELECT ... FOR UPDATE SKIP LOCKED and a lease
(`claimed_until`), so two senders never take the same message; if a process dies
mid-send the lease runs out and the message is sent by the next round (at least once:
nothing is lost). Failures are retried with exponential backoff; HTTP 429 waits for
Retry-After; 403/404/410 disable the channel (shown in the UI); other 4xx fail the
message for good.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from dlqadmin.core import clock

from dlqadmin.policies import crypto
from dlqadmin.policies.models import Channel

from .models import OutboxMessage
from .transports import TransportError, transport_for

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)


def backoff(attempts):
    base = settings.DLQADMIN_OUTBOX_BACKOFF_SECONDS
    return timedelta(seconds=min(base * 2 ** max(0, attempts - 1), 3600))


def _claim(now, limit, ids=None, skip=()):
    with transaction.atomic():
        qs = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            Q(state=OutboxMessage.PENDING, next_attempt_at__lte=now)
            | Q(state=OutboxMessage.SENDING, claimed_until__lt=now))
        if ids is not None:
            qs = qs.filter(id__in=ids)
        if skip:
            qs = qs.exclude(id__in=skip)
        rows = list(qs.order_by("id")[:limit])
        if rows:
            OutboxMessage.objects.filter(id__in=[r.id for r in rows]).update(
                state=OutboxMessage.SENDING, claimed_until=now + LEASE)
    return rows


def _disable_channel(channel, reason):
    from dlqadmin.audit import record

    with transaction.atomic():
        updated = Channel.objects.filter(pk=channel.pk, enabled=True).update(
            enabled=False, disabled_reason=reason[:300], disabled_at=clock.now())
        if updated:
            record("channel.disable", target=f"channel:{channel.name}", outcome="failed",
                   reason="permanent delivery error", message=reason[:300])


def send_one(msg, now):
    """Send one claimed message; returns its final state for this attempt."""
    channel = Channel.objects.get(pk=msg.channel_id)
    fields = {"attempts": msg.attempts + 1, "claimed_until": None}
    if not channel.enabled:
        fields.update(state=OutboxMessage.FAILED, last_error=f"channel disabled: {channel.disabled_reason}"[:500])
    else:
        try:
            transport_for(channel).notify(msg.payload)
        except crypto.SecretUnreadable as exc:
            fields.update(state=OutboxMessage.FAILED, last_error=str(exc)[:500])
        except TransportError as exc:
            fields["last_error"] = exc.message[:500]
            if exc.disable_channel:
                _disable_channel(channel, exc.message)
            if exc.permanent or fields["attempts"] >= settings.DLQADMIN_OUTBOX_MAX_ATTEMPTS:
                fields["state"] = OutboxMessage.FAILED
            else:
                wait = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else backoff(fields["attempts"])
                fields.update(state=OutboxMessage.PENDING, next_attempt_at=now + wait)
            log.warning("notification %s to %s failed: %s", msg.id, channel.name, exc.message)
        else:
            fields.update(state=OutboxMessage.SENT, sent_at=clock.now(), last_error="")
    with transaction.atomic():
        # The outbox row is the intent (written before sending); this is the outcome of
        # the attempt, with the row's new state: if the audit row cannot be written, the
        # message stays claimed and is sent again after its lease (at least once).
        if OutboxMessage.objects.filter(pk=msg.pk, state=OutboxMessage.SENDING).update(**fields):
            _audit_attempt(msg, channel, fields)
    return fields["state"]


def _audit_attempt(msg, channel, fields):
    from dlqadmin.audit import record

    p = msg.payload or {}
    state = fields["state"]
    record("notification.send", target=f"channel:{channel.name}",
           queue="" if p.get("kind") == "test" else str(p.get("queue", "")),
           outcome="success" if state == OutboxMessage.SENT else "failed",
           message=fields.get("last_error", "") if state != OutboxMessage.SENT else "",
           detail={"message": msg.pk, "channel_kind": channel.kind, "kind": p.get("kind"),
                   "severity": p.get("severity"), "rule": p.get("rule"), "attempt": fields["attempts"],
                   "state": state})


def deliver(*, now=None, limit=100, ids=None):
    """Send every due message (or only `ids`). Returns {state: count}."""
    now = now or clock.now()
    counts, attempted = {}, set()
    while True:  # each message at most once per call: a retry waits for the next round
        rows = _claim(now, limit, ids, attempted)
        if not rows:
            return counts
        for msg in rows:
            attempted.add(msg.id)
            state = send_one(msg, now)
            counts[state] = counts.get(state, 0) + 1
