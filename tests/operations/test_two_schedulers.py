"""Two real `run_scheduler` processes share the bulk operations: each operation is
claimed by one of them at a time, none runs twice, and killing one (SIGKILL) in the
middle of an operation loses nothing: once its lease is gone the other one finishes
it, counting the chunk the dead one had moved but not yet counted."""

from __future__ import annotations

import datetime as dt
import signal
import socket
import time

import pytest

from dlqadmin.asynq import keys
from dlqadmin.operations.models import Operation
from tests.alerts.test_scheduler import Scheduler, wait_until
from tests.asynq.conftest import Seeder

pytestmark = pytest.mark.django_db(transaction=True)

QUEUES = ["two-a", "two-b", "two-c", "two-d"]
N = 1_000
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def seed(client):
    s = Seeder(client)
    pipe = client.pipeline(transaction=False)
    for q in QUEUES:
        for i in range(N):
            s.add(q, "archived", s.message(q, f"{q}-{i:05d}", retried=1, retry=1, error_msg="x"),
                  score=1_000 + i, pipe=pipe)
    pipe.execute()


def owner(scheduler):
    return f"scheduler:{socket.gethostname()}:{scheduler.proc.pid}"


def test_two_schedulers_split_operations_and_a_kill_loses_nothing(asynq_redis):
    seed(asynq_redis)
    ops = [Operation.objects.create(action="run", queue=q, state="archived", rate=1_000, total=N)
           for q in QUEUES]
    a, b = Scheduler("a"), Scheduler("b")
    try:
        a.wait_for("started")
        b.wait_for("started")
        holders = {}

        def look():
            for pk, lease_owner, done in Operation.objects.values_list("pk", "lease_owner", "done"):
                if lease_owner:
                    holders.setdefault(pk, set()).add(lease_owner)
            return Operation.objects.filter(lease_owner=owner(a), done__gt=0, status="running").exists()

        wait_until(look, timeout=30, what="scheduler a to be midway through an operation")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        # Its lease would run out in 30 s; let it run out now. The schedulers are other
        # processes with clocks of their own (under `make test-dates` a year off this
        # one's), so the lease ends at a moment past on any of them.
        Operation.objects.filter(lease_owner=owner(a)).update(lease_expires=LONG_AGO)

        def all_done():
            look()
            return Operation.objects.filter(status="done").count() == len(QUEUES)

        wait_until(all_done, timeout=60, what="every operation to finish")
    finally:
        a.stop()
        b.stop()
    for op in Operation.objects.all():
        assert (op.status, op.total, op.done, op.failed) == ("done", N, N, 0), op
    # Both schedulers worked; what a was doing when it died, b finished.
    owners = set().union(*holders.values())
    assert {owner(a), owner(b)} <= owners
    assert any(h == {owner(a), owner(b)} for h in holders.values())
    for q in QUEUES:
        pending = asynq_redis.lrange(keys.pending(q), 0, -1)
        assert len(pending) == N and len(set(pending)) == N  # none lost, none pushed twice
        assert asynq_redis.zcard(keys.archived(q)) == 0
