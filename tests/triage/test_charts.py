"""The overview's DLQ sparklines and processed / failed history, the queue's DLQ chart with
its policy's thresholds, and the no-grants message (app clock pinned; no wall clock)."""

from datetime import timedelta

import pytest
from django.test import Client

from dlqadmin.alerts.models import QueueSample
from dlqadmin.core import clock as app_clock
from dlqadmin.core import names as qnames
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db


def samples(queue, values, step=timedelta(minutes=30)):
    now = app_clock.now()
    QueueSample.objects.bulk_create(
        QueueSample(queue=queue, queue_key=qnames.key(queue), at=now - (len(values) - 1 - i) * step, pending=0,
                    active=0, scheduled=0, retry=0, archived=v, completed=0, latency_seconds=0)
        for i, v in enumerate(values))


def test_overview_has_a_sparkline_per_queue_from_the_check_rounds(staff_client, golden):
    samples("payments", [999, 1, 2, 3, 5], step=timedelta(hours=7))  # the first is 28 h old: not drawn
    html = staff_client.get("/").content.decode()
    assert 'aria-label="Dead tasks in payments over 24 hours: latest 5, peak 5"' in html
    assert html.count('<svg class="spark"') == 1 and "no samples" in html  # the others have none yet


def test_overview_history_chart_over_7_30_90_days(staff_client, golden):
    html = staff_client.get("/").content.decode()
    assert "Processed and failed per day, last 7 days" in html and 'class="series processed"' in html
    assert 'aria-current="page">7 days' in html
    html = staff_client.get("/?days=90").content.decode()
    assert "last 90 days" in html and 'aria-current="page">90 days' in html
    bad = staff_client.get("/?days=13")
    assert bad.status_code == 400 and "7, 30 or 90 days" in bad.content.decode()


def test_queue_chart_has_axes_and_the_policy_thresholds(golden, roles):
    from dlqadmin.policies.services import save_policy

    save_policy({"name": "pay", "pattern": "payments", "dlq_warning": 5, "dlq_critical": 50})
    samples("payments", [0, 4, 6, 9, 60])
    client = sign_in(Client(), make_user("v", ("viewer", ["payments"])))
    queue_page = client.get("/queues/payments/").content.decode()
    assert 'hx-get="/alerts/queues/payments/chart/"' in queue_page
    fragment = client.get("/alerts/queues/payments/chart/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and "<polyline" in fragment
    assert 'class="threshold warning"' in fragment and "critical (50)" in fragment
    assert fragment.count('class="axis-label"') >= 6  # value and time labels
    assert "latest 60, peak 60" in fragment


def test_global_roles_without_queue_grants_are_told_so(golden, roles):
    for role in ("policy_admin", "auditor"):
        html = sign_in(Client(), make_user(f"u_{role}", (role,))).get("/").content.decode()
        assert "No queue is granted to you" in html and "asynq has not created" not in html


def test_no_queues_yet_is_said_as_such(staff_client, asynq_redis):
    html = staff_client.get("/").content.decode()
    assert "asynq has not created any queue" in html and "granted to you" not in html


def test_a_live_refresh_poll_reads_only_the_counts(staff_client, golden):
    samples("payments", [1, 2, 3])
    full = staff_client.get("/").content.decode()
    polled = staff_client.get("/", headers={"X-DLQ-Poll": "1"}).content.decode()
    assert '<svg class="spark"' in full and 'id="history"' in full
    assert '<svg class="spark"' not in polled and 'id="history"' not in polled
    assert 'data-live="q:payments:archived">5<' in polled
