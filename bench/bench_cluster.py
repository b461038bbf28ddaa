"""Benchmark: the DLQ page of 100 and a bulk redrive of 100,000, on a Redis Cluster
vs on one Redis, in one run.

Starts its own servers on 127.0.0.1 (nothing shared): one redis-server, and a
cluster of 3 masters + 3 replicas (ports DLQADMIN_TEST_PORT_BASE + 40 and + 50..55,
so 7240 and 7250-7255 by default, bus ports +10000; ``--single-port`` /
``--cluster-port`` move them). Seeds the same N archived tasks into both, then times

- the page: ``Inspector.list_tasks(queue, "archived", page=1, page_size=100)``,
  median and p95 of ``--pages`` calls;
- the redrive: ``Operations.iter_run_all(queue, "archived")`` run to the end
  (default chunks, as the dashboard's worker issues them);

in ``--rounds`` alternating rounds, and reports each round's cluster / single ratios
and their median over the rounds after the first, which warms up the servers
(targets: page <= 1.5x, redrive <= 2x). On a busy machine the absolute figures
move with the load; a ratio within one round compares like with like
and the longest Redis call on any node, read from each master's SLOWLOG (every
call logged: ``slowlog-log-slower-than 0``; target <= 5 ms).

    python bench/bench_cluster.py [--tasks 100000] [--pages 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlqadmin.asynq import Inspector, Operations, connect, keys, messages  # noqa: E402
from tests.support.redis_servers import Server, start_cluster  # noqa: E402

QUEUE = "bench:payments"
PORT_BASE = int(os.environ.get("DLQADMIN_TEST_PORT_BASE", "7200"))


def seed(client, n: int) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        task_id = f"bench-{i:07d}"
        msg = messages.TaskMessage(
            id=task_id, queue=QUEUE, type="payment:charge", retry=3, retried=3, timeout=1800,
            payload=json.dumps({"order_id": f"ORD-{100000 + i}", "amount_cents": 1999 + i,
                                "customer": {"email": f"c{i}@example.com"}}).encode(),
            error_msg="dial tcp 10.20.3.17:443: connect: connection refused",
            last_failed_at=1_700_000_000 + i,
        )
        pipe.hset(keys.task(QUEUE, task_id), mapping={b"msg": messages.encode(msg), b"state": b"archived"})
        pipe.zadd(keys.archived(QUEUE), {keys.encode_name(task_id): 1_700_000_000 + i})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.sadd(keys.ALL_QUEUES, keys.encode_name(QUEUE))
    pipe.execute()


def masters(client):
    """redis-py clients of every master (the one server for a single Redis)."""
    if hasattr(client, "get_primaries"):
        return [n.redis_connection for n in client.get_primaries()]
    return [client]


def slowlog_on(client) -> None:
    for node in masters(client):
        node.config_set("slowlog-log-slower-than", 0)
        node.config_set("slowlog-max-len", 100_000)
        node.slowlog_reset()


def longest_call(client) -> tuple[float, str]:
    """(ms, command) of the longest call any master logged since slowlog_on."""
    worst = (0.0, "")
    for node in masters(client):
        for entry in node.slowlog_get(100_000):
            ms = entry["duration"] / 1000
            if ms > worst[0]:
                command = entry["command"]
                command = command.decode(errors="replace") if isinstance(command, bytes) else str(command)
                worst = (ms, command[:40])
    return worst


def run(name: str, client, n: int, pages: int) -> dict:
    client.flushdb()
    seed(client, n)
    inspector = Inspector(client)
    inspector.list_tasks(QUEUE, "archived", page=1, page_size=100)  # scripts loaded
    slowlog_on(client)
    times = []
    for _ in range(pages):
        t0 = time.perf_counter()
        page = inspector.list_tasks(QUEUE, "archived", page=1, page_size=100)
        times.append(time.perf_counter() - t0)
        assert len(page.tasks) == 100
    t0 = time.perf_counter()
    chunks = sum(1 for _ in Operations(client).iter_run_all(QUEUE, "archived"))
    redrive = time.perf_counter() - t0
    assert client.zcard(keys.archived(QUEUE)) == 0 and client.llen(keys.pending(QUEUE)) == n
    worst = longest_call(client)
    client.flushdb()
    times.sort()
    result = {
        "page_median_ms": statistics.median(times) * 1000,
        "page_p95_ms": times[int(len(times) * 0.95) - 1] * 1000,
        "redrive_s": redrive, "chunks": chunks,
        "longest_call_ms": worst[0], "longest_call": worst[1],
    }
    print(f"{name:8} page median {result['page_median_ms']:.2f} ms (p95 {result['page_p95_ms']:.2f}), "
          f"redrive of {n:,} {redrive:.2f} s in {chunks} calls, "
          f"longest Redis call {worst[0]:.2f} ms ({worst[1]})")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--single-port", type=int, default=PORT_BASE + 40)
    parser.add_argument("--cluster-port", type=int, default=PORT_BASE + 50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    single = Server(args.single_port, work / "single").start()
    cluster = None
    try:
        cluster = start_cluster(work / "cluster", list(range(args.cluster_port, args.cluster_port + 6)))
        single.wait_ready()
        # Alternating rounds: single then cluster, so both see about the same load. The
        # first round warms up the servers (and the replicas' first sync competes with it).
        rounds = []
        for n in range(args.rounds):
            print(f"round {n + 1} of {args.rounds}")
            one = run("single", connect(f"redis://127.0.0.1:{args.single_port}/0"), args.tasks, args.pages)
            many = run("cluster", connect(cluster.url), args.tasks, args.pages)
            rounds.append((many["page_median_ms"] / one["page_median_ms"], many["redrive_s"] / one["redrive_s"],
                           max(one["longest_call_ms"], many["longest_call_ms"])))
            print(f"         ratios cluster/single: page {rounds[-1][0]:.2f}x, redrive {rounds[-1][1]:.2f}x")
    finally:
        single.stop()
        if cluster:
            cluster.stop()
    counted = rounds[1:] or rounds
    page_ratio = statistics.median(r[0] for r in counted)
    redrive_ratio = statistics.median(r[1] for r in counted)
    worst = statistics.median(r[2] for r in counted)
    print(f"median over {len(counted)} round(s): ratios cluster/single: page {page_ratio:.2f}x (target <= 1.5x), "
          f"redrive {redrive_ratio:.2f}x (target <= 2x); longest call {worst:.2f} ms (target <= 5 ms; "
          f"the longest of each round, median)")
    ok = page_ratio <= 1.5 and redrive_ratio <= 2 and worst <= 5
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
