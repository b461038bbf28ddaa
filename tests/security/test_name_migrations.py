"""The migrations to byte-exact queue names run on a database that already holds data."""

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("access", "0002_defaults_from_app_clock"), ("alerts", "0001_initial"), ("operations", "0001_initial"),
          ("triage", "0001_initial")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_rows_get_raw_bytes_and_keys():
    latest = [(app, name) for app, name in MigrationExecutor(connection).loader.graph.leaf_nodes()
              if app in {"access", "alerts", "operations", "triage"}]
    old = _migrate(BEFORE)
    try:
        now = "2031-05-14T09:30:00Z"
        old.get_model("access", "Queue").objects.create(name="billing:eu/ünï", first_seen_at=now)
        old.get_model("alerts", "QueueSample").objects.create(
            queue="billing:eu/ünï", at=now, pending=1, active=0, scheduled=0, retry=0, archived=7, completed=0,
            latency_seconds=0)
        old.get_model("alerts", "AlertState").objects.create(
            policy_name="default", queue="billing:eu/ünï", rule="dlq_size", status="warning", since=now,
            last_checked_at=now)
        old.get_model("operations", "Operation").objects.create(action="run", queue="billing:eu/ünï",
                                                                state="archived")
        user = old.get_model("auth", "User").objects.create(username="pv")
        old.get_model("triage", "RevealGrant").objects.create(user_id=user.pk, queue="billing:eu/ünï",
                                                              task_id="t/1", reason="why", expires_at=now)
        new = _migrate(latest)
        want = hashlib.sha256("billing:eu/ünï".encode()).hexdigest()
        queue = new.get_model("access", "Queue").objects.get()
        assert (bytes(queue.raw), queue.key, queue.label) == ("billing:eu/ünï".encode(), want, "billing:eu/ünï")
        assert new.get_model("alerts", "QueueSample").objects.get().queue_key == want
        assert new.get_model("alerts", "AlertState").objects.get().queue_key == want
        grant = new.get_model("triage", "RevealGrant").objects.get()
        assert (grant.queue_key, grant.task_key) == (want, hashlib.sha256(b"t/1").hexdigest())
        op = new.get_model("operations", "Operation").objects.get()
        assert (bytes(op.queue_raw), op.queue_key, op.queue_label) == ("billing:eu/ünï".encode(), want,
                                                                        "billing:eu/ünï")
    finally:
        _migrate(latest)
