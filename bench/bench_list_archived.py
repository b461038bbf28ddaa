"""Benchmark: list one page of archived tasks (the DLQ view), decode included.

Seeds a queue with N archived tasks in asynq's exact layout (task hash with
msg + state, id in the archived zset scored by failure time) into a Redis DB
of its own, then times ``Inspector.list_tasks(queue, "archived", ...)`` for
the first, a middle and the last page. The DB is FLUSHDB'ed before and after.

    python bench/bench_list_archived.py [--url redis://127.0.0.1:6379/14]
        [--sizes 10000,100000] [--page-size 100] [--repeat 500] [--trials 5]
        [--order asc|desc]   (desc: newest death first, the DLQ page's default)

Target: median <= 1 ms per page of 100.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlqadmin.asynq import Inspector, TaskInfo, connect, keys, messages  # noqa: E402
from dlqadmin.asynq import inspector as inspector_module  # noqa: E402

QUEUE = "bench:payments"
DEFAULT_URL = os.environ.get("DLQADMIN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ERRORS = [
    "dial tcp 10.20.3.17:443: connect: connection refused",
    "context deadline exceeded",
    'upstream returned HTTP 502 Bad Gateway: {"error":"bad_gateway","request_id":"req_8Yq2Lm"}',
    "pq: duplicate key value violates unique constraint \"orders_pkey\"\nDETAIL: Key (id)=(10023) already exists.",
    "charge failed: card_declined (insufficient_funds): skip retry for the task",
]


def payload(rng: random.Random, i: int) -> bytes:
    """A realistic ~300-byte JSON payload."""
    return json.dumps(
        {
            "order_id": f"ORD-{100000 + i}",
            "amount_cents": rng.randrange(100, 500_000),
            "currency": rng.choice(["USD", "EUR", "GBP"]),
            "customer": {
                "email": f"customer{i}@example.com",
                "name": rng.choice(["Alice Nguyen", "Bob Okafor", "Carla Rossi"]),
            },
            "items": [{"sku": f"SKU-{rng.randrange(9999):04d}", "qty": rng.randrange(1, 5)}],
            "metadata": {"idempotency_key": f"idem-{i:08d}", "attempt": rng.randrange(1, 4)},
        },
        separators=(",", ":"),
    ).encode()


def seed(client, n: int) -> None:
    rng = random.Random(n)
    now = int(time.time())
    client.sadd(keys.ALL_QUEUES, keys.encode_name(QUEUE))
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        task_id = f"{rng.getrandbits(128):032x}"
        failed_at = now - rng.randrange(30 * 86400)
        retried = rng.choice([0, 0, 2, 5])
        msg = messages.TaskMessage(
            type="payment:charge",
            payload=payload(rng, i),
            id=task_id,
            queue=QUEUE,
            retry=retried,
            retried=retried,
            error_msg=rng.choice(ERRORS),
            timeout=1800,
            last_failed_at=failed_at,
        )
        pipe.hset(keys.task(QUEUE, task_id), mapping={b"msg": messages.encode(msg), b"state": b"archived"})
        pipe.zadd(keys.archived(QUEUE), {task_id: failed_at})
        if len(pipe) >= 2000:
            pipe.execute()
    pipe.execute()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return samples


def interleaved(fns: dict, repeat: int, trials: int, batch: int = 10) -> dict:
    """Time every fn ``repeat`` times, in ``trials`` spaced trials of small
    interleaved batches: a burst of noise from elsewhere on the machine then
    hits all rows alike instead of one row entirely.

    Returns {name: [samples of trial 1], [samples of trial 2], ...}."""
    for fn in fns.values():  # warm-up: script load, connection, caches
        for _ in range(10):
            fn()
    samples = {name: [[] for _ in range(trials)] for name in fns}
    per_trial = max(1, repeat // (trials * batch))
    for trial in range(trials):
        if trial:
            time.sleep(1.0)
        for _ in range(per_trial):
            for name, fn in fns.items():
                samples[name][trial] += timed(fn, batch)
    return samples


def bench_size(client, n: int, page_size: int, repeat: int, trials: int, order: str = "asc") -> list[dict]:
    client.flushdb()
    t0 = time.perf_counter()
    seed(client, n)
    seed_s = time.perf_counter() - t0
    inspector = Inspector(client)
    last_page = (n + page_size - 1) // page_size
    pages = {"first": 1, "middle": last_page // 2, "last": last_page}
    fns = {}
    for label, page in pages.items():
        result = inspector.list_tasks(QUEUE, "archived", page=page, page_size=page_size, order=order)
        assert result.total == n and result.broken == 0
        assert all(isinstance(t, TaskInfo) for t in result.tasks)
        assert len(result.tasks) == (page_size if page < last_page else n - (last_page - 1) * page_size)

        def full(page=page):
            return inspector.list_tasks(QUEUE, "archived", page=page, page_size=page_size, order=order)

        # Breakdown: the Redis call alone (the same EVALSHA, no decode) ...
        start = (page - 1) * page_size
        keys_ = [keys.archived(QUEUE), keys.lease(QUEUE), keys.ALL_QUEUES]
        argv = ["zset", start, start + page_size - 1, keys.task_prefix(QUEUE), "none",
                order, keys.encode_name(QUEUE)]

        def redis_only(keys_=keys_, argv=argv):
            return inspector._script(inspector_module._LIST_PAGE, keys_, argv)

        # ... and the decode alone, on a reply fetched once.
        reply = redis_only()
        now = inspector._now()

        def decode_only(reply=reply, now=now):
            return inspector_module.Inspector._decode_page(QUEUE, "archived", reply, now)

        fns[(label, "full")] = full
        fns[(label, "redis")] = redis_only
        fns[(label, "decode")] = decode_only
        fns[(label, "reply")] = reply
    replies = {label: fns.pop((label, "reply")) for label in pages}
    samples = interleaved(fns, repeat, trials)

    def flat(name):
        return [x for trial in samples[name] for x in trial]

    rows = []
    for label, page in pages.items():
        full = flat((label, "full"))
        rows.append(
            {
                "tasks": n,
                "page": f"{label} ({page})",
                "median_ms": statistics.median(full),
                "p95_ms": percentile(full, 95),
                "min_ms": min(full),
                "best_trial_ms": min(statistics.median(t) for t in samples[(label, "full")]),
                "redis_median_ms": statistics.median(flat((label, "redis"))),
                "decode_median_ms": statistics.median(flat((label, "decode"))),
                "reply_kib": sum(len(x) for x in replies[label][1:] if isinstance(x, bytes)) / 1024,
                "seed_s": seed_s,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=500)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--order", choices=("asc", "desc"), default="asc")
    args = parser.parse_args()

    client = connect(args.url)
    client.ping()
    print(f"Redis {client.info('server')['redis_version']} at {args.url}, "
          f"page size {args.page_size}, order {args.order}, {args.repeat} timed calls per row in {args.trials} trials")
    print("median/p95/min: all calls; best trial: lowest per-trial median; "
          "redis/decode: medians of the two halves timed alone")
    header = (f"{'tasks':>8} {'page':<14} {'median ms':>9} {'p95 ms':>8} {'min ms':>7} "
              f"{'best trial':>10} {'redis ms':>9} {'decode ms':>10} {'reply KiB':>9}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            for row in bench_size(client, n, args.page_size, args.repeat, args.trials, args.order):
                worst = max(worst, row["median_ms"])
                print(
                    f"{row['tasks']:>8} {row['page']:<14} {row['median_ms']:>9.3f} "
                    f"{row['p95_ms']:>8.3f} {row['min_ms']:>7.3f} {row['best_trial_ms']:>10.3f} "
                    f"{row['redis_median_ms']:>9.3f} "
                    f"{row['decode_median_ms']:>10.3f} {row['reply_kib']:>9.1f}"
                )
            print(f"{'':>8} (seeded {n} tasks in {row['seed_s']:.1f} s)")
    finally:
        client.flushdb()
    target = 1.0
    print(f"worst median {worst:.3f} ms per page: {'OK' if worst <= target else 'OVER'} "
          f"(target <= {target} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
