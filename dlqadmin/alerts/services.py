"""Writes started from the UI: the "send test notification" button."""

from django.db import transaction
from dlqadmin.core import clock

from . import notifications, outbox
from .models import OutboxMessage


def _audit(action, **kwargs):
    from dlqadmin.audit import record

    return record(action, **kwargs)


def send_test_notification(channel, *, request=None, actor=None):
    """Queue a test message for `channel` through the outbox and send it now.
    Returns (state, last_error)."""
    now = clock.now()
    with transaction.atomic():
        msg = OutboxMessage.objects.create(channel=channel, payload=notifications.test_payload(channel, now),
                                           dedup_key=f"test:{channel.pk}:{now.timestamp()}", next_attempt_at=now)
        _audit("channel.test", request=request, actor=actor, target=f"channel:{channel.name}", outcome="intent")
    outbox.deliver(now=now, ids=[msg.pk])
    msg.refresh_from_db()
    outcome = "success" if msg.state == OutboxMessage.SENT else "failed"
    _audit("channel.test", request=request, actor=actor, target=f"channel:{channel.name}", outcome=outcome,
           message=msg.last_error)
    return msg.state, msg.last_error
