"""Pure rule evaluation and the alert state machine (no I/O, no Django queries).

Rules, each evaluated per queue against the queue's policy:

dlq_size     archived (dead) tasks >= dlq_warning / dlq_critical
dlq_growth   new dead tasks within growth_window_minutes >= growth_threshold (warning)
archive_cap  dead tasks >= archive_cap_warning/critical_percent of asynq's cap (9,999 per
             queue: asynq silently deletes the oldest beyond it)
archive_age  oldest dead task older than archive_age_warning_days (asynq deletes dead
             tasks after 90 days) (warning)
backlog      pending tasks >= pending_threshold (warning)
latency      age of the oldest pending task >= latency_threshold_seconds (warning)
"""

from dataclasses import dataclass
from datetime import timedelta

from dlqadmin.core import humanize

from .models import CRITICAL, OK, RESOLVED, WARNING

ARCHIVE_CAP = 9_999  # asynq keeps at most this many archived tasks per queue
ARCHIVE_MAX_AGE_DAYS = 90

RULES = ("dlq_size", "dlq_growth", "archive_cap", "archive_age", "backlog", "latency")
LABELS = {
    "dlq_size": "DLQ size",
    "dlq_growth": "DLQ growth",
    "archive_cap": "Near asynq's archive cap",
    "archive_age": "Dead tasks near asynq's 90-day limit",
    "backlog": "Pending backlog",
    "latency": "Queue latency",
}
_RANK = {OK: 0, RESOLVED: 0, WARNING: 1, CRITICAL: 2}


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str  # ok / warning / critical
    value: float
    threshold: float | None  # the threshold crossed (or the warning one when ok)


def _level(value, warning, critical=None):
    if critical is not None and value >= critical:
        return CRITICAL, critical
    if warning is not None and value >= warning:
        return WARNING, warning
    return OK, warning


def evaluate(policy, *, archived, pending, latency_seconds, growth=None, oldest_dead_age_days=None):
    """Every rule the policy has switched on, with its level for these numbers."""
    out = []
    level, th = _level(archived, policy.dlq_warning, policy.dlq_critical)
    out.append(Finding("dlq_size", level, archived, th))
    if policy.growth_threshold and growth is not None:
        level, th = _level(growth, policy.growth_threshold)
        out.append(Finding("dlq_growth", level, growth, th))
    if policy.archive_cap_warning_percent or policy.archive_cap_critical_percent:
        pct = archived * 100.0 / ARCHIVE_CAP
        level, th = _level(pct, policy.archive_cap_warning_percent, policy.archive_cap_critical_percent)
        out.append(Finding("archive_cap", level, round(pct, 1), th))
    if policy.archive_age_warning_days and oldest_dead_age_days is not None:
        level, th = _level(oldest_dead_age_days, policy.archive_age_warning_days)
        out.append(Finding("archive_age", level, round(oldest_dead_age_days, 1), th))
    if policy.pending_threshold:
        level, th = _level(pending, policy.pending_threshold)
        out.append(Finding("backlog", level, pending, th))
    if policy.latency_threshold_seconds:
        level, th = _level(latency_seconds, policy.latency_threshold_seconds)
        out.append(Finding("latency", level, round(latency_seconds, 1), th))
    return out


@dataclass(frozen=True)
class Decision:
    status: str
    notify: str | None  # "trigger", "escalate", "deescalate", "repeat", "resolve" or None
    changed: bool


def step(prev, level, *, now, last_notified_at, repeat: timedelta, send_resolved=True):
    """Next status for one policy × queue × rule, and whether to notify.

    OK/RESOLVED → WARNING/CRITICAL notifies once (trigger); a change of severity
    notifies (escalate/deescalate); the same severity is re-sent only after `repeat`
    since the last notification; clearing goes to RESOLVED and notifies if
    `send_resolved` (and something was sent before); RESOLVED then stays quiet.
    """
    firing = _RANK[prev] > 0
    if level == OK:
        if firing:
            return Decision(RESOLVED, "resolve" if send_resolved and last_notified_at else None, True)
        return Decision(prev, None, False)
    if not firing:
        return Decision(level, "trigger", True)
    if level != prev:
        return Decision(level, "escalate" if _RANK[level] > _RANK[prev] else "deescalate", True)
    if last_notified_at is None or now - last_notified_at >= repeat:
        return Decision(level, "repeat", False)
    return Decision(level, None, False)


def shown(rule, value):
    """A rule's value (or threshold) with its unit: latency '9d 2h', age '82.8 days',
    cap '82.8 %'; counts stay bare numbers."""
    if value is None:
        return "–"
    if rule == "latency":
        return humanize.duration(value)
    if rule == "archive_age":
        return f"{value:g} days"
    if rule == "archive_cap":
        return f"{value:g} %"
    return f"{value:g}"
