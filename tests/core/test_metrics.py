"""/metrics: asynq's exporter names and labels, ours from Postgres, token/network guard."""

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dlqadmin.core.metrics import DLQADMIN_COLLECTOR
from tests.conftest import GOLDEN, ON_EVERY_REDIS, make_user, sign_in

pytestmark = pytest.mark.django_db


def golden_inspector():
    with open(GOLDEN / "mixed" / "inspector.json", encoding="utf-8") as fh:
        return json.load(fh)

ASYNQ_NAMES = {"asynq_tasks_enqueued_total", "asynq_queue_size", "asynq_queue_latency_seconds",
               "asynq_queue_memory_usage_approx_bytes", "asynq_tasks_processed_total",
               "asynq_tasks_failed_total", "asynq_queue_paused_total"}


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    settings.DLQADMIN_METRICS_TOKEN = "s3cret-scrape-token"
    settings.DLQADMIN_METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    DLQADMIN_COLLECTOR.clear()
    yield
    DLQADMIN_COLLECTOR.clear()


def samples(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


@ON_EVERY_REDIS
def test_asynq_metrics_match_the_golden_state(client, golden, roles):
    make_user("someone", ("operator",))  # leaves audit entries
    got = samples(client.get("/metrics"))  # the test client comes from 127.0.0.1
    assert ASYNQ_NAMES <= {name for name, _ in got}
    assert got[("asynq_tasks_enqueued_total", (("queue", "payments"), ("state", "archived")))] == 5
    assert got[("asynq_tasks_enqueued_total", (("queue", "emails"), ("state", "pending")))] == 2
    # The contract: asynq_queue_size{queue,state}; the states add up to the queue size.
    assert got[("asynq_queue_size", (("queue", "payments"), ("state", "archived")))] == 5
    assert got[("asynq_queue_size", (("queue", "emails"), ("state", "aggregating")))] == 4
    assert sum(v for (name, labels), v in got.items()
               if name == "asynq_queue_size" and ("queue", "emails") in labels) == 13
    assert got[("asynq_queue_paused_total", (("queue", "reports"),))] == 1
    assert got[("asynq_queue_paused_total", (("queue", "payments"),))] == 0
    assert got[("asynq_queue_memory_usage_approx_bytes", (("queue", "payments"),))] > 0
    assert ("asynq_tasks_processed_total", (("queue", "payments"),)) in got
    # Every queue's figures as asynq's own Inspector reported them (on a cluster too).
    for q, want in golden_inspector()["queue_info"].items():
        for state in ("active", "pending", "scheduled", "retry", "archived", "completed"):
            assert got[("asynq_tasks_enqueued_total", (("queue", q), ("state", state)))] == want[state], (q, state)
        assert got[("asynq_tasks_processed_total", (("queue", q),))] == want["processed_total"], q
        assert got[("asynq_tasks_failed_total", (("queue", q),))] == want["failed_total"], q
        assert got[("asynq_queue_paused_total", (("queue", q),))] == (1 if want["paused"] else 0), q
        assert got[("asynq_queue_latency_seconds", (("queue", q),))] == pytest.approx(
            want["latency_seconds"], abs=0.05)  # asynq read each queue a little after generated_at
    assert got[("dlqadmin_redis_up", ())] == 1
    assert got[("dlqadmin_queues_damaged", ())] == 0
    assert got[("dlqadmin_alerts_firing", (("severity", "critical"),))] == 0
    assert got[("dlqadmin_notifications_total", (("state", "sent"),))] == 0
    assert got[("dlqadmin_actions_total", (("action", "access.grant"), ("outcome", "success")))] >= 1


def test_redis_down_is_a_metric_not_an_error(client, redis_down):
    got = samples(client.get("/metrics"))
    assert got[("dlqadmin_redis_up", ())] == 0


def test_outside_address_needs_the_token(client, asynq_redis):
    outside = {"REMOTE_ADDR": "198.51.100.7"}
    assert client.get("/metrics", **outside).status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **outside).status_code == 404
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **outside)
    assert ok.status_code == 200


def test_no_token_configured_means_networks_only(client, asynq_redis, settings):
    settings.DLQADMIN_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ", REMOTE_ADDR="198.51.100.7").status_code == 404
    settings.DLQADMIN_METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 404


def test_a_signed_in_user_is_not_enough(client, asynq_redis, roles):
    sign_in(client, make_user("adm", ("admin",)))
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.7").status_code == 404
