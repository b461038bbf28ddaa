"""Benchmark: search 100,000 archived tasks by error text; failure groups.

Seeds one queue with N archived tasks in asynq's exact layout (~1 KB JSON
payloads, varied realistic errors with ids and numbers in them; 12 tasks
carry a rare error) into a Redis DB of its own (FLUSHDB before and after),
then:

1. searches the archived tasks by error text (``TaskFilter(error=...)``),
   ``--repeat`` times: total time, number of Redis calls, matches;
2. runs it again under SLOWLOG with ``slowlog-log-slower-than 5000`` (5 ms):
   the number of our calls over 5 ms must be 0;
3. runs it again under ``slowlog-log-slower-than 0``: the longest of our
   calls and their distribution, as Redis measured them;
4. times ``failure_groups`` over the same tasks (and its longest call).

SLOWLOG is server-wide: our connection names itself and only its entries
(newer than the newest entry seen before the run) are counted; the previous
``slowlog-log-slower-than`` / ``slowlog-max-len`` are restored afterwards,
and the log is never reset.

    python bench/bench_search.py [--url redis://127.0.0.1:6379/9] [--size 100000]
        [--repeat 5] [--chunk 500]

Targets: search <= 1 s in total, no Redis call over 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlqadmin.asynq import connect, keys, messages  # noqa: E402
from dlqadmin.asynq.search import TaskFilter, failure_groups, search  # noqa: E402

QUEUE = "bench:search"
DEFAULT_URL = os.environ.get("DLQADMIN_BENCH_SEARCH_REDIS_URL", "redis://127.0.0.1:6379/9")
CLIENT_NAME = "dlqadmin-bench-search"
RARE_ERROR = "ledger shard {n} rejected write: checksum mismatch (crc32 {hex})"
NEEDLE = "CHECKSUM MISMATCH"
N_RARE = 12
TYPES = ["payment:charge", "payment:refund", "email:send", "webhook:deliver", "report:generate"]


def error_text(rng: random.Random) -> str:
    ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
    choices = [
        lambda: f"dial tcp {ip}:{rng.choice([443, 5432, 6379])}: connect: connection refused",
        lambda: "context deadline exceeded",
        lambda: f"Post \"https://api.example.com/v1/hooks/{uuid.UUID(int=rng.getrandbits(128))}\": "
        f"context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        lambda: f'upstream returned HTTP {rng.choice([500, 502, 503, 504])} Bad Gateway: '
        f'{{"error":"bad_gateway","request_id":"req_{rng.getrandbits(40):x}"}}',
        lambda: 'pq: duplicate key value violates unique constraint "orders_pkey"\n'
        f"DETAIL: Key (id)=({rng.randrange(10**6)}) already exists.",
        lambda: f"charge failed: card_declined (insufficient_funds) for customer cus_{rng.getrandbits(48):x}: "
        "skip retry for the task",
        lambda: f"smtp: 550 5.1.1 <user{rng.randrange(10**5)}@example.com>: Recipient address rejected",
        lambda: f"panic: runtime error: index out of range [{rng.randrange(64)}] with length "
        f"{rng.randrange(64)}\n\ngoroutine {rng.randrange(10**4)} [running]:\nmain.handler()",
        lambda: f"redis: connection pool timeout after {rng.choice(['1.5s', '3s', '500ms'])}",
    ]
    return rng.choice(choices)()


def payload(rng: random.Random, i: int) -> bytes:
    """A realistic ~1 KB JSON payload."""
    doc = {
        "order_id": f"ORD-{100000 + i}",
        "amount_cents": rng.randrange(100, 500_000),
        "currency": rng.choice(["USD", "EUR", "GBP"]),
        "customer": {
            "id": f"cus_{rng.getrandbits(48):012x}",
            "email": f"customer{i}@example.com",
            "name": rng.choice(["Alice Nguyen", "Bob Okafor", "Carla Rossi", "Dmitri Volkov"]),
            "address": {"line1": f"{rng.randrange(1, 999)} Market Street", "city": "Springfield",
                        "postcode": f"{rng.randrange(10000, 99999)}", "country": "US"},
        },
        "items": [
            {"sku": f"SKU-{rng.randrange(9999):04d}", "qty": rng.randrange(1, 5),
             "price_cents": rng.randrange(100, 20000), "title": "Widget " + "x" * rng.randrange(10, 40)}
            for _ in range(rng.randrange(3, 6))
        ],
        "metadata": {"idempotency_key": f"idem-{i:08d}", "attempt": rng.randrange(1, 4),
                     "source": "checkout-web", "trace_id": f"{rng.getrandbits(128):032x}"},
    }
    raw = json.dumps(doc, separators=(",", ":"))
    pad = max(0, 1000 - len(raw))
    doc["notes"] = "n" * pad
    return json.dumps(doc, separators=(",", ":")).encode()


def seed(client, n: int) -> list[str]:
    rng = random.Random(n)
    rare = set(rng.sample(range(n), N_RARE))
    now = int(time.time())
    pipe = client.pipeline(transaction=False)
    pipe.sadd(keys.ALL_QUEUES, keys.encode_name(QUEUE))
    rare_ids = []
    for i in range(n):
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        failed_at = now - rng.randrange(90 * 86400)
        if i in rare:
            err = RARE_ERROR.format(n=rng.randrange(16), hex=f"{rng.getrandbits(32):08x}")
            rare_ids.append(task_id)
        else:
            err = error_text(rng)
        msg = messages.TaskMessage(
            type=rng.choice(TYPES), payload=payload(rng, i), id=task_id, queue=QUEUE,
            retry=25, retried=25, error_msg=err, timeout=1800, last_failed_at=failed_at,
        )
        pipe.hset(keys.task(QUEUE, task_id), mapping={b"msg": messages.encode(msg), b"state": b"archived"})
        pipe.zadd(keys.archived(QUEUE), {keys.encode_name(task_id): failed_at})
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    return rare_ids


def run_search(client, chunk: int):
    t0 = time.perf_counter()
    calls = 0
    found = []
    for progress in search(client, QUEUE, "archived", TaskFilter(error=NEEDLE), chunk=chunk):
        calls += 1
        found += progress.matches
    return time.perf_counter() - t0, calls, found, progress


class SlowlogWatch:
    """Our connection's SLOWLOG entries under a given threshold (µs)."""

    def __init__(self, client, threshold_us: int):
        self.client = client
        self.threshold = threshold_us

    def __enter__(self):
        cfg = self.client.config_get("slowlog-*")
        self.saved = {k: cfg[k] for k in ("slowlog-log-slower-than", "slowlog-max-len")}
        self.client.config_set("slowlog-max-len", 100000)
        self.client.config_set("slowlog-log-slower-than", self.threshold)
        latest = self.client.slowlog_get(1)
        self.after_id = latest[0]["id"] if latest else -1
        return self

    def __exit__(self, *exc):
        self.client.config_set("slowlog-log-slower-than", self.saved["slowlog-log-slower-than"])
        entries = self.client.slowlog_get(100000)
        self.client.config_set("slowlog-max-len", self.saved["slowlog-max-len"])
        self.entries = [
            e for e in entries
            if e["id"] > self.after_id and (e.get("client_name") or b"") in (CLIENT_NAME, CLIENT_NAME.encode())
            and not _is_config(e)
        ]

    def durations(self) -> list[int]:
        return sorted(e["duration"] for e in self.entries)


def _is_config(entry) -> bool:
    command = entry.get("command", b"")
    if isinstance(command, bytes):
        command = command.decode("utf-8", "replace")
    return command.upper().startswith(("CONFIG", "SLOWLOG"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=500)
    args = ap.parse_args()

    client = connect(args.url)
    client.client_setname(CLIENT_NAME)
    client.flushdb()
    try:
        t0 = time.perf_counter()
        rare_ids = seed(client, args.size)
        mem = client.info("memory")["used_memory_human"]
        print(f"seeded {args.size} archived tasks in {time.perf_counter() - t0:.1f} s "
              f"(Redis used_memory {mem}); searching for {NEEDLE!r}")

        times = []
        for _ in range(args.repeat):
            elapsed, calls, found, last = run_search(client, args.chunk)
            times.append(elapsed)
        assert sorted(t.id for t in found) == sorted(rare_ids), "wrong matches"
        assert last.scanned == last.total == args.size and last.done
        print(f"search: {len(found)} matches of {last.total} scanned, {calls} Redis calls; "
              f"total median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms, "
              f"worst {max(times) * 1000:.0f} ms over {args.repeat} runs")

        with SlowlogWatch(client, 5000) as over5:
            run_search(client, args.chunk)
        print(f"SLOWLOG > 5 ms during a search: {len(over5.entries)} of our calls")

        with SlowlogWatch(client, 0) as every:
            elapsed, calls, _, _ = run_search(client, args.chunk)
        d = every.durations()
        print(f"SLOWLOG threshold 0 (every call, Redis-side µs): {len(d)} calls, max {d[-1]} µs, "
              f"p99 {d[int(len(d) * 0.99) - 1]} µs, median {d[len(d) // 2]} µs, "
              f"calls > 1000 µs: {sum(x > 1000 for x in d)}, sum {sum(d) / 1000:.0f} ms "
              f"(search took {elapsed * 1000:.0f} ms)")

        gtimes = []
        for _ in range(max(1, args.repeat // 2)):
            t0 = time.perf_counter()
            groups = failure_groups(client, QUEUE, chunk=args.chunk)
            gtimes.append(time.perf_counter() - t0)
        with SlowlogWatch(client, 0) as every:
            failure_groups(client, QUEUE, chunk=args.chunk)
        d = every.durations()
        print(f"failure_groups: {len(groups)} groups, median {statistics.median(gtimes) * 1000:.0f} ms, "
              f"{len(d)} calls, max call {d[-1]} µs, calls > 1000 µs: {sum(x > 1000 for x in d)}, "
              f"calls > 5000 µs: {sum(x > 5000 for x in d)}")
        for g in groups[:12]:
            print(f"  {g.count:6d}  {g.type:16s} {g.reason[:90]}")
        ok = statistics.median(times) <= 1.0 and len(over5.entries) == 0
        print("OK" if ok else "OVER TARGET", "(targets: search <= 1 s, no call over 5 ms)")
        return 0 if ok else 1
    finally:
        client.flushdb()
        client.close()


if __name__ == "__main__":
    sys.exit(main())
