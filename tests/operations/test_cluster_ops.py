"""Bulk operations of the dashboard's worker on a real Redis Cluster, one of them
while ``redis-cli --cluster reshard`` migrates the queue's slot to another master."""

from __future__ import annotations

import subprocess
import time

from redis.crc import key_slot

from dlqadmin.asynq import connect, keys
from dlqadmin.operations import worker
from dlqadmin.operations.models import Operation
from tests.asynq.conftest import Seeder
from tests.conftest import make_user, sign_in
from tests.support.redis_servers import REDIS_CLI

N = 5_000


def queue_in_slot(slot: int) -> str:
    """A queue name whose keys (hash tag {name}) live in ``slot``."""
    for i in range(1_000_000):
        name = f"reshard-{i}"
        if key_slot(keys.archived(name)) == slot:
            return name
    raise AssertionError("no name found")


def slot_owner(cluster, slot):
    """(port, node id) of the master serving ``slot``."""
    with cluster.servers[0].client() as c:
        for start, end, master, *_ in c.execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                port = int(master[1])
                return port, master[2].decode()
    raise AssertionError(f"slot {slot} unserved")


def seed(client, queue, n):
    s = Seeder(client)
    pipe = client.pipeline(transaction=False)
    ids = [f"t-{i:05d}" for i in range(n)]
    for i, task_id in enumerate(ids):
        s.add(queue, "archived", s.message(queue, task_id, retried=1, retry=1, error_msg="x"),
              score=1_000 + i, pipe=pipe)
    pipe.execute()
    return ids


def test_bulk_redrive_while_the_queue_slot_migrates(client, roles, settings, redis_cluster, monkeypatch):
    settings.ASYNQ_REDIS_URL = redis_cluster.url
    r = connect(redis_cluster.url)
    r.flushdb()
    # A queue in the lowest slot of its master: reshard of one slot moves exactly it.
    src_port, src_id = slot_owner(redis_cluster, 0)
    queue = queue_in_slot(0)
    dst_port, dst_id = next(slot_owner(redis_cluster, s) for s in (6000, 12000)
                            if slot_owner(redis_cluster, s)[0] != src_port)
    ids = seed(r, queue, N)
    sign_in(client, make_user("cluster_op", ("operator",)))
    resp = client.post(f"/api/v1/queues/{queue}/bulk", {"action": "run", "state": "archived", "rate": 1_000},
                       content_type="application/json")
    assert resp.status_code == 202, resp.content
    pk = resp.json()["id"]
    reshard, overlapped = [], []
    save = worker._save_chunk

    def save_and_watch(*args, **kwargs):
        # After the first chunk the migration starts; every later chunk saved while
        # it still runs proves the overlap.
        if reshard and reshard[0].poll() is None:
            overlapped.append(Operation.objects.get(pk=pk).done)
        if not reshard:
            reshard.append(subprocess.Popen(
                [REDIS_CLI, "--cluster", "reshard", f"127.0.0.1:{src_port}", "--cluster-from", src_id,
                 "--cluster-to", dst_id, "--cluster-slots", "1", "--cluster-yes",
                 "--cluster-pipeline", "1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return save(*args, **kwargs)

    monkeypatch.setattr(worker, "_save_chunk", save_and_watch)
    def sleep(seconds):
        # The worker pauses between chunks, and waits while the cluster is in flux.
        if reshard and reshard[0].poll() is None:
            overlapped.append(Operation.objects.get(pk=pk).done)
        time.sleep(seconds)

    status = worker.process(worker.claim("w1", op_id=pk), "w1", sleep=sleep)
    assert reshard and reshard[0].wait(60) == 0
    assert status == "done", Operation.objects.get(pk=pk).last_error
    assert overlapped and min(overlapped) < N, "the redrive ended before the migration started"
    assert slot_owner(redis_cluster, 0)[0] == dst_port  # the slot did move
    op = Operation.objects.get(pk=pk)
    assert (op.total, op.done, op.failed) == (N, N, 0)
    pending = [keys.decode_name(x) for x in r.lrange(keys.pending(queue), 0, -1)]
    assert len(pending) == N and set(pending) == set(ids)  # none lost, none pushed twice
    assert r.zcard(keys.archived(queue)) == 0
    pipe = r.pipeline(transaction=False)
    for task_id in ids:
        pipe.hget(keys.task(queue, task_id), b"state")
    assert set(pipe.execute()) == {b"pending"}
    r.flushdb()
    r.close()
