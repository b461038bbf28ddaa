"""What a notification says: plain, already-masked facts every transport formats.

Anything derived from tasks (error messages) goes through the masking engine here,
before it is stored in the outbox or leaves the process.
"""

from collections import Counter

from django.conf import settings
from django.urls import reverse

from dlqadmin.masking.engine import Masker

from .models import RESOLVED
from .rules import LABELS, shown

TOP_REASONS = 3
REASON_SAMPLE = 50
REASON_MAX_CHARS = 200


def queue_url(queue):
    return settings.DLQADMIN_BASE_URL + reverse("triage:queue", args=[queue])


def top_failure_reasons(inspector, queue, archived):
    """The most frequent (masked) errors among the newest dead tasks of `queue`."""
    if not archived:
        return []
    page = max(1, -(-archived // REASON_SAMPLE))
    try:
        tasks = inspector.list_tasks(queue, "archived", page=page, page_size=REASON_SAMPLE).tasks
    except Exception:  # noqa: BLE001 - reasons are a nicety; never fail an alert for them
        return []
    masker = Masker()
    counts = Counter()
    for task in tasks:
        err = getattr(task, "last_err", "") or ""
        if not err:
            continue
        masked = masker.mask_text(err, limit=REASON_MAX_CHARS)
        text = masked.text if masked is not None else ""
        counts[text[:REASON_MAX_CHARS]] += 1
    return [{"text": text, "count": n} for text, n in counts.most_common(TOP_REASONS)]


def build(*, policy, state, decision_notify, sample, growth, reasons, now, queue_name=None):
    """`queue_name`: the name as asynq holds it (for the link); `state.queue` is its display form."""
    severity = RESOLVED if decision_notify == "resolve" else state.status
    return {
        "event": "resolve" if decision_notify == "resolve" else "trigger",
        "kind": decision_notify,
        "severity": severity,
        "policy": policy.name,
        "queue": state.queue,
        "rule": state.rule,
        "rule_label": LABELS.get(state.rule, state.rule),
        "value": state.value,
        "threshold": state.threshold,
        "dlq_size": sample["archived"],
        "dlq_warning": policy.dlq_warning,
        "dlq_critical": policy.dlq_critical,
        "growth": growth,
        "growth_window_minutes": policy.growth_window_minutes,
        "pending": sample["pending"],
        "top_reasons": reasons,
        "queue_url": queue_url(state.queue if queue_name is None else queue_name),
        "runbook_url": policy.runbook_url,
        "dedup_key": state.dedup_key,
        "at": now.isoformat(),
    }


def test_payload(channel, now):
    return {
        "event": "trigger", "kind": "test", "severity": "test", "policy": "-", "queue": "(test)",
        "rule": "test", "rule_label": "Test notification", "value": 0, "threshold": None,
        "dlq_size": 0, "dlq_warning": None, "dlq_critical": None, "growth": None,
        "growth_window_minutes": None, "pending": 0, "top_reasons": [],
        "queue_url": settings.DLQADMIN_BASE_URL + "/", "runbook_url": "",
        "dedup_key": f"dlqadmin:test:{channel.name}:{now.timestamp():.0f}", "at": now.isoformat(),
    }


def summary(p):
    """One line: '[CRITICAL] payments: DLQ size 120 (threshold 100)'."""
    if p["kind"] == "test":
        return "[TEST] dlqadmin test notification: this channel works."
    th = "" if p["threshold"] is None else f" (threshold {shown(p['rule'], p['threshold'])})"
    return f"[{p['severity'].upper()}] {p['queue']}: {p['rule_label']} {shown(p['rule'], p['value'])}{th}"
