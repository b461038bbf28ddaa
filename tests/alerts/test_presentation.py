"""How alerts read: units on values, critical alerts first, Slack fields said once."""

from datetime import UTC, datetime

import pytest

from dlqadmin.alerts import selectors
from dlqadmin.alerts.models import AlertState
from dlqadmin.alerts.notifications import summary
from dlqadmin.alerts.rules import shown
from dlqadmin.alerts.transports.slack import blocks
from dlqadmin.core import names as qnames

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


def test_values_carry_their_unit():
    assert shown("latency", 787415) == "9d 2h"
    assert shown("archive_age", 82.8) == "82.8 days"
    assert shown("archive_cap", 82.8) == "82.8 %"
    assert shown("dlq_size", 120.0) == "120" and shown("backlog", None) == "–"


@pytest.mark.django_db
def test_current_alerts_list_criticals_first():
    for queue, rule, status in [("a", "dlq_size", "warning"), ("b", "latency", "critical"),
                                ("c", "archive_age", "warning"), ("d", "dlq_size", "critical")]:
        AlertState.objects.create(policy_name="p", queue=queue, queue_key=qnames.key(queue), rule=rule, status=status,
                                  since=T0, value=787415 if rule == "latency" else 82.8, threshold=60,
                                  last_checked_at=T0)
    rows = selectors.current_alerts(["a", "b", "c", "d"])
    assert [(s.queue, s.status) for s, _ in rows] == [("b", "critical"), ("d", "critical"), ("a", "warning"),
                                                       ("c", "warning")]
    assert rows[0][0].shown_value == "9d 2h" and rows[0][0].shown_threshold == "1m 0s"
    assert rows[3][0].shown_value == "82.8 days"


def payload(rule, value, threshold):
    return {"kind": "trigger", "severity": "warning", "rule": rule, "rule_label": rule.title(), "queue": "payments",
            "value": value, "threshold": threshold, "dlq_size": 40, "dlq_warning": 10, "dlq_critical": 100,
            "growth": None, "policy": "pay", "top_reasons": [], "queue_url": "https://dlq.example/queues/payments/",
            "runbook_url": ""}


def fields_of(p):
    return [f["text"] for b in blocks(p) if b["type"] == "section" for f in b.get("fields", [])]


def test_slack_says_latency_in_days_and_no_field_twice():
    p = payload("latency", 787415, 3600)
    fields = fields_of(p)
    assert "*Latency*\n9d 2h (threshold 1h 0m)" in fields
    assert summary(p) == "[WARNING] payments: Latency 9d 2h (threshold 1h 0m)"
    titles = [f.split("\n")[0] for f in fields]
    assert len(titles) == len(set(titles)) and "*Severity*" not in titles  # the header says it
    size = fields_of(payload("dlq_size", 40, 10))
    assert [f.split("\n")[0] for f in size].count("*Dlq_Size*") == 1 and not any("*DLQ size*" in f for f in size)
