"""A bulk redrive of 10,000 dead tasks through a real Sentinel failover.

One master, one replica, three sentinels (tests/support/redis_servers.py). Midway
through the redrive the master is failed over (``SENTINEL FAILOVER``), or killed
with SIGKILL. Writes the old master acknowledged but had not yet streamed to the
replica vanish in either case; the worker must notice (WAIT, reconciliation),
move those tasks again, and only then report the operation done. Afterwards every
task is counted on the new master: none lost, none in two states, none pushed twice.
"""

from __future__ import annotations

import logging
import time

import pytest

from dlqadmin.core import clock as app_clock

from dlqadmin.asynq import connect, keys
from dlqadmin.operations import worker
from dlqadmin.operations.models import Operation, OperationChunk
from tests.asynq.conftest import Seeder
from tests.support.redis_servers import SENTINEL_SERVICE, wait_until

Q = "payments"
N = 10_000
RATE = 2_500  # tasks per second: the redrive takes ~4 s, the failover lands midway


@pytest.fixture
def sentinel_asynq(settings, redis_sentinel):
    redis_sentinel.wait_healthy()
    settings.ASYNQ_REDIS_URL = redis_sentinel.url
    client = connect(redis_sentinel.url, socket_timeout=5)
    client.flushdb()
    yield client
    client.close()
    redis_sentinel.wait_healthy()
    with connect(redis_sentinel.url) as fresh:
        fresh.flushdb()


def seed_archived(client, n):
    seed = Seeder(client)
    pipe = client.pipeline(transaction=False)
    ids = [f"dead-{i:05d}" for i in range(n)]
    for i, task_id in enumerate(ids):
        msg = seed.message(Q, task_id, retried=3, retry=3, error_msg="boom", last_failed_at=1_000 + i)
        seed.add(Q, "archived", msg, score=1_000 + i, pipe=pipe)
    pipe.execute()
    return ids


def start_redrive(client):
    r = client.post(f"/api/v1/queues/{Q}/bulk", {"action": "run", "state": "archived", "rate": RATE},
                    content_type="application/json")
    assert r.status_code == 202, r.content
    return r.json()["id"]


def count_everything(client, ids):
    """Where every task is on the current master."""
    pending = [keys.decode_name(x) for x in client.lrange(keys.pending(Q), 0, -1)]
    archived = {keys.decode_name(x) for x in client.zrange(keys.archived(Q), 0, -1)}
    pipe = client.pipeline(transaction=False)
    for task_id in ids:
        pipe.hget(keys.task(Q, task_id), b"state")
    states = pipe.execute()
    in_pending = set(pending)
    return {
        "lost": sum(1 for i, s in zip(ids, states) if s != b"pending" or i not in in_pending),
        "two_states": len(in_pending & archived),
        "pushed_twice": len(pending) - len(in_pending),
        "still_archived": len(archived),
        "pending": len(pending),
    }


def run_through(pk, *, at_done, action, during=lambda: None):
    """Process the operation; once ``at_done`` tasks are done, call ``action`` once,
    then ``during`` at every later pause of the worker."""
    fired = []

    def sleep(seconds):
        time.sleep(seconds)
        if fired:
            during()
        elif Operation.objects.get(pk=pk).done >= at_done:
            fired.append(time.monotonic())
            action()

    claimed = worker.claim("w1", op_id=pk)
    status = worker.process(claimed, "w1", sleep=sleep)
    assert fired, "the failover never happened: the redrive was too fast"
    return status


class PageWatcher:
    """Opens the queue's page at every pause of the worker: what staff see meanwhile."""

    def __init__(self, client):
        self.client = client
        self.seen = []

    def __call__(self):
        r = self.client.get(f"/queues/{Q}/")
        self.seen.append((r.status_code, b"Redis unreachable" in r.content))

    def assert_unreachable_or_fine_then_recovered(self):
        # 503 saying Redis is unreachable while there is no master (never a 500), and
        # the page comes back by itself afterwards.
        assert self.seen, "no page was opened during the failover"
        assert {code for code, _ in self.seen} <= {200, 503}, self.seen
        assert all(says for code, says in self.seen if code == 503), self.seen
        assert self.client.get(f"/queues/{Q}/").status_code == 200


def assert_all_redriven(pk, setup, ids):
    # Counted on the master the sentinels name, once the old one has rejoined as replica.
    setup.wait_healthy()
    with connect(setup.url) as fresh:
        counts = count_everything(fresh, ids)
    op = Operation.objects.get(pk=pk)
    assert counts == {"lost": 0, "two_states": 0, "pushed_twice": 0, "still_archived": 0, "pending": N}
    assert (op.status, op.total, op.done, op.failed) == ("done", N, N, 0), op.last_error
    assert not OperationChunk.objects.filter(operation=op, confirmed=False).exists()


def test_sentinel_failover_midway_loses_nothing(operator_client, sentinel_asynq, redis_sentinel, caplog):
    ids = seed_archived(sentinel_asynq, N)
    old_master = redis_sentinel.master_port()
    pk = start_redrive(operator_client)

    def failover():
        with redis_sentinel.sentinels[0].client() as s:
            s.execute_command("SENTINEL", "FAILOVER", SENTINEL_SERVICE)

    pages = PageWatcher(operator_client)
    with caplog.at_level(logging.WARNING, logger="dlqadmin.operations"):
        status = run_through(pk, at_done=N // 4, action=failover, during=pages)
    assert status == "done"
    assert redis_sentinel.master_port() != old_master
    assert_all_redriven(pk, redis_sentinel, ids)
    pages.assert_unreachable_or_fine_then_recovered()


def test_master_killed_midway_loses_nothing_and_pages_recover(
        operator_client, sentinel_asynq, redis_sentinel, caplog):
    ids = seed_archived(sentinel_asynq, N)
    master = redis_sentinel.master()
    pk = start_redrive(operator_client)
    pages = PageWatcher(operator_client)
    try:
        with caplog.at_level(logging.WARNING, logger="dlqadmin.operations"):
            status = run_through(pk, at_done=N // 4, action=master.kill, during=pages)
        assert status == "done"
        assert redis_sentinel.master_port() != master.port
        # The killed server comes back (empty) as the new master's replica.
        master.start("--replicaof", "127.0.0.1", str(redis_sentinel.master_port()))
        assert_all_redriven(pk, redis_sentinel, ids)
        # With no master for seconds, pages said so (503 "Redis unreachable"), never
        # crashed, and came back by themselves.
        assert 503 in {code for code, _ in pages.seen}, pages.seen
        pages.assert_unreachable_or_fine_then_recovered()
        assert "waiting for Redis" in caplog.text
    finally:
        if master.proc.poll() is not None:
            master.start("--replicaof", "127.0.0.1", str(redis_sentinel.master_port()))
        redis_sentinel.wait_healthy()
        wait_until(lambda: redis_sentinel.replica().port == master.port, 30, "the old master to rejoin")


def test_a_crash_between_a_chunk_and_its_counts_is_reconciled(operator_client, golden, monkeypatch):
    """The worker dies right after Redis moved a chunk, before it saved the counts:
    the next worker finds the written-down ids moved and counts them; none is lost,
    counted twice or moved twice."""
    from django.core.management import call_command
    from django.utils import timezone

    from tests.operations.conftest import ARCHIVED, members, task_state

    r = operator_client.post("/api/v1/queues/payments/bulk", {"action": "run", "state": "archived", "rate": 2},
                             content_type="application/json")
    pk = r.json()["id"]

    class Died(BaseException):
        pass

    def die(*args, **kwargs):
        raise Died()

    save = worker._save_chunk
    monkeypatch.setattr(worker, "_save_chunk", die)
    with pytest.raises(Died):
        worker.process(worker.claim("dying"), "dying", sleep=lambda s: None)
    assert len(members(golden, "archived")) == 3  # the first chunk of 2 moved, not counted
    row = Operation.objects.get(pk=pk)
    assert (row.done, OperationChunk.objects.filter(operation=row, confirmed=False).count()) == (0, 1)
    monkeypatch.setattr(worker, "_save_chunk", save)
    Operation.objects.filter(pk=pk).update(lease_expires=app_clock.now() - timezone.timedelta(seconds=1))
    call_command("run_operations", "--once")
    row = Operation.objects.get(pk=pk)
    assert (row.status, row.total, row.done, row.failed) == ("done", 5, 5, 0)
    pending = members(golden, "pending")
    assert all(task_state(golden, i) == "pending" for i in ARCHIVED)
    assert len(pending) == len(set(pending)) and set(ARCHIVED) <= set(pending)


def test_a_crash_in_a_search_based_run_is_reconciled(operator_client, golden, monkeypatch):
    """The same for an operation over stored ids (a search): the next worker goes past
    the chunk the dead one moved, and counts it once."""
    from django.core.management import call_command
    from django.utils import timezone

    from tests.operations.conftest import ARCHIVED, members

    r = operator_client.post("/api/v1/queues/payments/bulk",
                             {"action": "delete", "state": "archived", "filter": {"type": "payment:charge"},
                              "rate": 1}, content_type="application/json")
    pk = r.json()["id"]

    class Died(BaseException):
        pass

    def die(*args, **kwargs):
        raise Died()

    save = worker._save_chunk
    monkeypatch.setattr(worker, "_save_chunk", die)
    with pytest.raises(Died):
        worker.process(worker.claim("dying"), "dying", sleep=lambda s: None)
    assert len(members(golden, "archived")) == 4  # one deleted, not counted
    monkeypatch.setattr(worker, "_save_chunk", save)
    Operation.objects.filter(pk=pk).update(lease_expires=app_clock.now() - timezone.timedelta(seconds=1))
    call_command("run_operations", "--once")
    row = Operation.objects.get(pk=pk)
    assert (row.status, row.total, row.done, row.failed) == ("done", 3, 3, 0)
    assert set(members(golden, "archived")) == {ARCHIVED[2], ARCHIVED[3]}  # the refunds stay
