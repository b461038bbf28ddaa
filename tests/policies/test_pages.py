"""Policy and alert pages: who may see them, CSRF-protected writes, preview, test button."""

from datetime import timedelta

import pytest

from dlqadmin.alerts.models import AlertState, QueueSample
from dlqadmin.policies.models import Channel, Policy
from dlqadmin.core.names import key
from tests.conftest import make_user, sign_in
from tests.support.fake_slack import fake_slack  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def pa_client(client, roles):
    return sign_in(client, make_user("pa", ("policy_admin",)))


def test_only_policy_admins_reach_the_policy_pages(client, roles, golden):
    sign_in(client, make_user("v", ("viewer",)))
    assert client.get("/policies/").status_code == 403
    assert client.get("/policies/channels/").status_code == 403
    assert 'href="/policies/"' not in client.get("/alerts/").content.decode()
    client.logout()
    sign_in(client, make_user("pa", ("policy_admin",)))
    page = client.get("/policies/").content.decode()
    assert 'data-policy="default"' in page and "built-in" in page
    assert 'href="/policies/"' in client.get("/alerts/").content.decode()


def test_edit_create_history_diff_restore(pa_client, golden):
    page = pa_client.get("/policies/default/")
    assert page.status_code == 200
    form = {"name": "pay", "pattern": "payments", "enabled": "on", "dlq_warning": "2", "dlq_critical": "20",
            "growth_window_minutes": "15", "check_interval_seconds": "60", "repeat_interval_minutes": "60",
            "send_resolved": "on", "comment": "tighter"}
    assert pa_client.post("/policies/new/", form).status_code == 302
    bad = pa_client.post("/policies/pay/", {**form, "dlq_critical": "1"})
    assert bad.status_code == 400 and "greater than the warning" in bad.content.decode()
    assert pa_client.post("/policies/pay/", {**form, "dlq_critical": "30"}).status_code == 302
    assert Policy.objects.get(name="pay").version == 2
    diff = pa_client.get("/policies/pay/history/2/").content.decode()
    assert 'data-field="dlq_critical"' in diff and "<del>20</del>" in diff and "<ins>30</ins>" in diff
    assert pa_client.get("/policies/pay/history/1/restore/").status_code == 405  # no GET writes
    assert pa_client.post("/policies/pay/history/1/restore/").status_code == 302
    assert Policy.objects.get(name="pay").dlq_critical == 20


def test_writes_need_the_csrf_token(roles, golden):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    sign_in(c, make_user("pa", ("policy_admin",)))
    assert c.post("/policies/new/", {"name": "x", "pattern": "y"}).status_code == 403


def test_preview_shows_matches_and_what_would_fire(pa_client, golden):
    body = pa_client.get("/policies/preview/", {"name": "pay", "pattern": "pay*", "enabled": "on",
                                                 "dlq_warning": "1", "dlq_critical": "3",
                                                 "growth_window_minutes": "15", "check_interval_seconds": "60",
                                                 "repeat_interval_minutes": "60"}).content.decode()
    assert 'data-queue="payments"' in body and 'data-queue="emails"' not in body
    assert "critical: DLQ size" in body
    bad = pa_client.get("/policies/preview/", {"name": "pay", "pattern": "re:(", "dlq_warning": "1",
                                                "dlq_critical": "3"}).content.decode()
    assert "Invalid regular expression" in bad


def test_channels_page_masks_secrets_and_the_test_button_sends(pa_client, fake_slack, golden):
    url = fake_slack.url("/services/T1/B1/secretsecretsecret")
    r = pa_client.post("/policies/channels/", {"name": "ops", "kind": "slack", "target": url})
    assert r.status_code == 302
    page = pa_client.get("/policies/channels/").content.decode()
    assert "secretsecretsecret" not in page and "…cret" in page
    ch = Channel.objects.get(name="ops")
    assert pa_client.post(f"/policies/channels/{ch.pk}/test/").status_code == 302
    assert fake_slack.texts() == ["[TEST] dlqadmin test notification: this channel works."]
    refused = pa_client.post("/policies/channels/", {"name": "evil", "kind": "webhook",
                                                     "target": "https://evil.example.com/x"})
    assert refused.status_code == 400 and "not allowed" in refused.content.decode()


def test_alert_pages_show_only_visible_queues(client, roles, golden, clock):
    now = clock.now()
    for q in ("payments", "emails"):
        AlertState.objects.create(policy_name="default", queue=q, queue_key=key(q), rule="dlq_size",
                                  status="critical", since=now, value=60, threshold=50, last_checked_at=now)
        for i in range(5):
            QueueSample.objects.create(queue=q, queue_key=key(q), at=now - timedelta(minutes=10 * i), pending=0, active=0, scheduled=0,
                                       retry=0, archived=10 + i, completed=0, latency_seconds=0)
    sign_in(client, make_user("v", ("viewer", ["payments"])))
    page = client.get("/alerts/").content.decode()
    assert 'data-queue="payments"' in page and 'data-queue="emails"' not in page
    chart = client.get("/alerts/queues/payments/chart/")
    assert chart.status_code == 200 and "<polyline" in chart.content.decode()
    assert client.get("/alerts/queues/emails/chart/").status_code == 404
    assert client.get("/alerts/history/").status_code == 200


def test_preview_shows_growth_and_age_alerts_as_the_alerts_page_would(pa_client, golden):
    from dlqadmin.alerts import checks
    from dlqadmin.core import clock

    checks._oldest_score_cache.clear()  # a process-wide cache of oldest scores
    golden.zadd(b"asynq:{payments}:archived", {b"an-old-one": clock.now().timestamp() - 3.5 * 86400})
    QueueSample.objects.create(queue="payments", queue_key=key("payments"), at=clock.now() - timedelta(minutes=10),
                               pending=0, active=0, scheduled=0, retry=0, archived=1, completed=0, latency_seconds=0)
    body = pa_client.get("/policies/preview/", {"name": "pay", "pattern": "payments", "enabled": "on",
                                                 "dlq_warning": "100", "dlq_critical": "200", "growth_threshold": "2",
                                                 "growth_window_minutes": "15", "archive_age_warning_days": "1",
                                                 "check_interval_seconds": "60", "repeat_interval_minutes": "60"}
                       ).content.decode()
    row = body[body.index('data-queue="payments"'):].split("</tr>")[0]
    assert "warning: DLQ growth 5 ≥ 2" in row  # 6 dead now, 1 ten minutes ago
    assert "warning: Dead tasks near asynq&#x27;s 90-day limit 3.5 days ≥ 1 days" in row


def test_policy_form_is_in_sections_with_a_way_to_create_a_channel(pa_client, golden):
    page = pa_client.get("/policies/new/").content.decode()
    legends = [p.split("</legend>")[0] for p in page.split("<legend>")[1:]]
    assert legends == ["Which queues", "When to alert", "How to notify", "Dead-task vault", "This change"]
    assert 'href="/policies/channels/#new-channel">Create a channel</a>' in page
    assert 'id="new-channel"' in pa_client.get("/policies/channels/").content.decode()
