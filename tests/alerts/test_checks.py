"""The Proof cases: a check round against a fake Slack on 127.0.0.1."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from dlqadmin.alerts import outbox
from dlqadmin.alerts.checks import run_round
from dlqadmin.alerts.models import AlertEvent, AlertState, OutboxMessage, QueueSample
from dlqadmin.policies.models import Channel
from tests.alerts.conftest import info
from tests.conftest import ON_EVERY_REDIS

pytestmark = pytest.mark.django_db
# A fixed moment two minutes before a leap day ends: rounds cross midnight and a month end.
T0 = datetime(2028, 2, 29, 23, 58, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock.set(T0)  # what the code reads when a test passes no `now`


def at(minutes=0, seconds=0):
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def test_first_breach_sends_once(slack):
    run_round(now=at(0), infos=[info("payments", archived=3)])
    assert slack.requests == []
    run_round(now=at(1), infos=[info("payments", archived=7)])
    assert len(slack.requests) == 1
    body = slack.bodies()[0]
    assert body["text"] == "[WARNING] payments: DLQ size 7 (threshold 5)"
    fields = " ".join(f["text"] for b in body["blocks"] if b["type"] == "section" for f in b.get("fields", []))
    assert "payments" in fields and "7 (threshold 5)" in fields
    assert "/queues/payments/" in str(body["blocks"])
    run_round(now=at(2), infos=[info("payments", archived=8)])
    assert len(slack.requests) == 1
    assert AlertState.objects.get(queue="payments", rule="dlq_size").status == "warning"
    assert QueueSample.objects.filter(queue="payments").count() == 3


def test_no_repeat_before_the_interval_then_repeat(slack):
    run_round(now=at(0), infos=[info("payments", archived=7)])
    run_round(now=at(59), infos=[info("payments", archived=7)])
    assert len(slack.requests) == 1
    run_round(now=at(61), infos=[info("payments", archived=7)])
    assert len(slack.requests) == 2
    run_round(now=at(62), infos=[info("payments", archived=7)])
    assert len(slack.requests) == 2


def test_escalation_to_critical_then_resolved(slack):
    run_round(now=at(0), infos=[info("payments", archived=7)])
    run_round(now=at(1), infos=[info("payments", archived=70)])
    assert slack.texts() == ["[WARNING] payments: DLQ size 7 (threshold 5)",
                             "[CRITICAL] payments: DLQ size 70 (threshold 50)"]
    run_round(now=at(2), infos=[info("payments", archived=0)])
    assert len(slack.requests) == 3
    assert slack.texts()[2].startswith("[RESOLVED] payments: DLQ size 0")
    assert AlertState.objects.get(queue="payments", rule="dlq_size").status == "resolved"
    run_round(now=at(3), infos=[info("payments", archived=0)])
    assert len(slack.requests) == 3
    history = list(AlertEvent.objects.filter(queue="payments").order_by("at").values_list("from_status", "to_status"))
    assert history == [("ok", "warning"), ("warning", "critical"), ("critical", "resolved")]


def test_no_resolved_message_when_switched_off(slack):
    from dlqadmin.policies.services import save_policy

    save_policy({"name": "quiet", "pattern": "pay*", "dlq_warning": 5, "dlq_critical": 50,
                 "send_resolved": False, "channels": ["ops"]})
    run_round(now=at(0), infos=[info("payments", archived=7)])
    run_round(now=at(1), infos=[info("payments", archived=0)])
    assert len(slack.requests) == 1


def test_429_is_retried_after_retry_after(slack):
    slack.respond(429, headers={"Retry-After": "30"}, body="rate_limited")
    run_round(now=at(0), infos=[info("payments", archived=7)])
    msg = OutboxMessage.objects.get()
    assert len(slack.requests) == 1 and msg.state == "pending" and msg.attempts == 1
    assert msg.next_attempt_at == at(0, 30)
    outbox.deliver(now=at(0, 20))
    assert len(slack.requests) == 1
    outbox.deliver(now=at(0, 31))
    assert len(slack.requests) == 2
    msg.refresh_from_db()
    assert msg.state == "sent" and msg.attempts == 2
    assert slack.bodies()[0] == slack.bodies()[1]


def test_500_is_retried_with_backoff(slack, settings):
    settings.DLQADMIN_OUTBOX_BACKOFF_SECONDS = 10
    slack.respond(500, body="oops", times=2)
    run_round(now=at(0), infos=[info("payments", archived=7)])
    msg = OutboxMessage.objects.get()
    assert msg.next_attempt_at == at(0, 10) and msg.last_error.startswith("HTTP 500")
    outbox.deliver(now=at(0, 11))
    msg.refresh_from_db()
    assert msg.attempts == 2 and msg.next_attempt_at == at(0, 31)  # 11 s + 20 s
    outbox.deliver(now=at(0, 32))
    msg.refresh_from_db()
    assert msg.state == "sent" and len(slack.requests) == 3


def test_404_disables_the_channel(slack):
    slack.respond(404, body="no_service")
    run_round(now=at(0), infos=[info("payments", archived=7)])
    channel = Channel.objects.get(name="ops")
    assert not channel.enabled and "404" in channel.disabled_reason
    assert OutboxMessage.objects.get().state == "failed"
    run_round(now=at(1), infos=[info("payments", archived=70)])
    assert len(slack.requests) == 1  # no messages for a disabled channel


def test_a_message_claimed_by_a_dead_sender_is_sent_after_its_lease(slack):
    run_round(now=at(0), infos=[info("payments", archived=7)], deliver=False)
    claimed = outbox._claim(at(0), 10)  # a sender claims it, then dies before sending
    assert len(claimed) == 1
    assert outbox.deliver(now=at(1)) == {}  # still leased to the dead sender
    assert outbox.deliver(now=at(3)) == {"sent": 1}
    assert len(slack.requests) == 1


def test_most_specific_policy_wins_and_states_are_per_policy(slack):
    from dlqadmin.policies.services import save_policy

    save_policy({"name": "payments-strict", "pattern": "payments", "dlq_warning": 1, "dlq_critical": 2,
                 "channels": ["ops"]})
    run_round(now=at(0), infos=[info("payments", archived=3), info("emails", archived=3)])
    assert slack.texts() == ["[CRITICAL] payments: DLQ size 3 (threshold 2)"]
    assert AlertState.objects.get().policy_name == "payments-strict"


def test_growth_rule(slack):
    from dlqadmin.policies.services import save_policy

    save_policy({"name": "default", "pattern": "*", "dlq_warning": 1000, "dlq_critical": 2000,
                 "growth_threshold": 10, "growth_window_minutes": 15, "channels": ["ops"]})
    run_round(now=at(0), infos=[info("payments", archived=100)])
    run_round(now=at(5), infos=[info("payments", archived=105)])
    assert slack.requests == []
    run_round(now=at(10), infos=[info("payments", archived=112)])
    assert slack.texts() == ["[WARNING] payments: DLQ growth 12 (threshold 10)"]


def test_top_failure_reasons_are_masked(slack):
    from types import SimpleNamespace

    class FakeInspector:
        def list_tasks(self, queue, state, page, page_size):
            errs = ["charge failed for card 4111 1111 1111 1111 (bob@example.com)"] * 3 + ["timeout"]
            return SimpleNamespace(tasks=[SimpleNamespace(last_err=e) for e in errs])

    run_round(now=at(0), infos=[info("payments", archived=7)], inspector=FakeInspector())
    raw = json.dumps(slack.bodies()[0], ensure_ascii=False)
    assert "4111" not in raw and "bob@example.com" not in raw
    assert "Top failure reasons" in raw and "3×" in raw


@ON_EVERY_REDIS
def test_check_dlq_once_reads_redis(slack, golden, golden_clock, monkeypatch):
    """A round on the golden data, on one Redis and on a cluster (each queue in its own
    slot there): the same samples, states and notifications."""
    from django.core.management import call_command

    from dlqadmin.alerts import checks

    monkeypatch.setattr(checks, "_oldest_score_cache", {})  # read from this Redis, not a cache
    call_command("check_dlq", "--once")
    assert set(AlertState.objects.values_list("queue", "rule", "status")) == {
        ("default", "dlq_size", "warning"), ("payments", "dlq_size", "warning")}
    assert len(slack.requests) == 2
    assert {q: (a, p) for q, a, p in QueueSample.objects.values_list("queue", "archived", "pending")} == {
        "critical": (3, 2), "default": (5, 6), "emails": (4, 2), "payments": (5, 3), "reports": (3, 3)}
    # The top failure reasons were read from the queue's own dead tasks.
    texts = {b["text"].split()[1].rstrip(":"): json.dumps(b) for b in slack.bodies()}
    assert "502 Bad Gateway" in texts["default"] and "do_not_honor" in texts["payments"]
    # 81 days on, every queue's oldest dead task passes the policy's 80 days: one
    # pipelined read over all queues (over every slot that holds one in a cluster).
    golden_clock.advance(days=81)
    call_command("check_dlq", "--once")
    assert set(AlertState.objects.filter(rule="archive_age").values_list("queue", "status")) == {
        (q, "warning") for q in ("critical", "default", "emails", "payments", "reports")}


def test_slack_webhook_url_is_the_default_channel(db, fake_slack, settings):
    settings.SLACK_WEBHOOK_URL = fake_slack.url("/services/ENV")
    from dlqadmin.policies.services import save_policy

    save_policy({"name": "default", "pattern": "*", "dlq_warning": 5, "dlq_critical": 50})
    run_round(now=at(0), infos=[info("payments", archived=7)])
    assert [r.path for r in fake_slack.requests] == ["/services/ENV"]


def test_built_in_default_policy_works_without_any_setup(db, fake_slack, settings):
    settings.SLACK_WEBHOOK_URL = fake_slack.url("/services/ENV")
    run_round(now=at(0), infos=[info("payments", archived=10)])  # default warning: 10
    assert fake_slack.texts() == ["[WARNING] payments: DLQ size 10 (threshold 10)"]


def test_email_and_pagerduty_shaped_webhook(db, fake_slack, mailoutbox):
    from dlqadmin.policies.services import save_channel, save_policy

    save_channel(name="mail", kind="email", target="ops@example.org, oncall@example.org")
    save_channel(name="pd", kind="webhook", target=fake_slack.url("/v2/enqueue"), routing_key="R0UTINGKEY1234")
    save_policy({"name": "default", "pattern": "*", "dlq_warning": 5, "dlq_critical": 50, "channels": ["mail", "pd"]})
    run_round(now=at(0), infos=[info("payments", archived=7)])
    run_round(now=at(1), infos=[info("payments", archived=0)])
    assert [m.subject for m in mailoutbox] == ["[WARNING] payments: DLQ size 7 (threshold 5)",
                                               "[RESOLVED] payments: DLQ size 0 (threshold 5)"]
    assert mailoutbox[0].to == ["ops@example.org", "oncall@example.org"]
    trigger, resolve = fake_slack.bodies()
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == "R0UTINGKEY1234"
    assert trigger["payload"]["severity"] == "warning" and trigger["payload"]["component"] == "payments"
    assert resolve == {"routing_key": "R0UTINGKEY1234", "event_action": "resolve",
                       "dedup_key": "dlqadmin:default:payments:dlq_size"}
    assert trigger["dedup_key"] == resolve["dedup_key"]
