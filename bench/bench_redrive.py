"""Benchmark: redrive (run all archived) and delete all, chunked, at 100,000 tasks.

Seeds N archived tasks in asynq's exact layout into a Redis DB of its own,
then times ``Operations.iter_run_all(queue, "archived")`` run to the end, and
separately ``Operations.iter_delete_all(queue, "archived")``; for comparison
the same redrive done asynq's way (one script call moving every task, as
asynq's RunAllArchivedTasks does; the script is reimplemented here, in the
bench only). The DB is FLUSHDB'ed before and after.

    python bench/bench_redrive.py [--url redis://127.0.0.1:6379/14]
        [--tasks 100000] [--chunk 500] [--no-profile]

For each operation it reports the total wall time, the number of script
calls, and from Redis's SLOWLOG the calls over 5 ms: the timed pass runs with
``slowlog-log-slower-than 5000`` and counts our entries. A second, profiling
pass (skip with --no-profile) runs the same operation on a fresh seed with
``slowlog-log-slower-than 100`` and a larger ``slowlog-max-len``, so every
script call (about 1 ms each) is logged, and reads the longest one. Both settings are restored
afterwards (SLOWLOG RESET is never used; restoring a smaller max-len trims
the log to its newest entries). Our entries are told apart from other
clients' by the connection name.

Targets: total <= 1 s per operation, no Redis call over 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlqadmin.asynq import Operations, connect, keys, messages  # noqa: E402
from dlqadmin.asynq import operations as operations_module  # noqa: E402

QUEUE = "bench:payments"
CLIENT_NAME = "dlqadmin-bench-redrive"
DEFAULT_URL = os.environ.get("DLQADMIN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SLOW_US = 5000
# The profiling pass logs every call slower than this. Not 0: on a shared
# server other clients' fast commands would flood the log; our script calls
# take about a millisecond, well above it.
PROFILE_US = 100
ERRORS = [
    "dial tcp 10.20.3.17:443: connect: connection refused",
    "context deadline exceeded",
    'upstream returned HTTP 502 Bad Gateway: {"error":"bad_gateway"}',
    "charge failed: card_declined (insufficient_funds): skip retry for the task",
]

# asynq's RunAllArchivedTasks, reimplemented for the comparison only: every
# id of the zset LPUSHed in score order and its state set, in one call.
ASYNQ_STYLE_RUN_ALL = """
local ids = redis.call("ZRANGE", KEYS[1], 0, -1)
for _, id in ipairs(ids) do
  redis.call("LPUSH", KEYS[2], id)
  redis.call("HSET", ARGV[1] .. id, "state", "pending")
end
redis.call("DEL", KEYS[1])
return #ids
"""


def payload(rng: random.Random, i: int) -> bytes:
    return json.dumps(
        {
            "order_id": f"ORD-{100000 + i}",
            "amount_cents": rng.randrange(100, 500_000),
            "currency": rng.choice(["USD", "EUR", "GBP"]),
            "customer": {"email": f"customer{i}@example.com", "name": "Alice Nguyen"},
            "items": [{"sku": f"SKU-{rng.randrange(9999):04d}", "qty": rng.randrange(1, 5)}],
            "metadata": {"idempotency_key": f"idem-{i:08d}"},
        },
        separators=(",", ":"),
    ).encode()


def seed(client, n: int) -> list[str]:
    """N archived tasks; one in ten was enqueued with Unique (its lock key
    exists and the hash has unique_key). Returns the ids oldest first."""
    rng = random.Random(n)
    now = int(time.time())
    client.sadd(keys.ALL_QUEUES, keys.encode_name(QUEUE))
    pipe = client.pipeline(transaction=False)
    entries = []
    for i in range(n):
        task_id = f"{rng.getrandbits(128):032x}"
        failed_at = now - rng.randrange(30 * 86400)
        body = payload(rng, i)
        unique = i % 10 == 0
        lock = keys.unique_lock(QUEUE, "payment:charge", body) if unique else b""
        msg = messages.TaskMessage(
            type="payment:charge", payload=body, id=task_id, queue=QUEUE, retry=5,
            retried=5, error_msg=rng.choice(ERRORS), timeout=1800,
            last_failed_at=failed_at, unique_key=keys.decode_name(lock),
        )
        fields = {b"msg": messages.encode(msg), b"state": b"archived"}
        if unique:
            fields[b"unique_key"] = lock
            pipe.set(lock, task_id, ex=86400)
        pipe.hset(keys.task(QUEUE, task_id), mapping=fields)
        pipe.zadd(keys.archived(QUEUE), {task_id: failed_at})
        entries.append((failed_at, task_id.encode()))
        if len(pipe) >= 3000:
            pipe.execute()
    pipe.execute()
    return [t.decode() for _, t in sorted(entries)]


@contextmanager
def slowlog(client, threshold_us: int, max_len: int | None = None):
    """Log calls slower than ``threshold_us`` while the block runs, then
    restore the server's settings. Yields a function returning our entries
    logged since the block started."""
    old_threshold = client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    old_len = client.config_get("slowlog-max-len")["slowlog-max-len"]
    last = client.slowlog_get(1)
    last_id = last[0]["id"] if last else -1
    len_before = client.slowlog_len()
    try:
        if max_len is not None and max_len > int(old_len):
            client.config_set("slowlog-max-len", max_len)
        client.config_set("slowlog-log-slower-than", threshold_us)

        def ours():
            total = client.slowlog_len()
            newest = client.slowlog_get(1)
            # Only the entries logged since the block started (ids grow by
            # one per entry), not the whole log.
            fresh = newest[0]["id"] - last_id if newest else 0
            entries = client.slowlog_get(max(min(fresh, total), 1)) if fresh > 0 else []
            return {
                "len_before": len_before,
                "len_after": total,
                "entries": [
                    e for e in entries
                    if e["id"] > last_id and _name(e.get("client_name")) == CLIENT_NAME
                ],
            }

        yield ours
    finally:
        client.config_set("slowlog-log-slower-than", old_threshold)
        client.config_set("slowlog-max-len", old_len)


def _name(value) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _command(entry) -> str:
    cmd = entry["command"]
    return (cmd.decode(errors="replace") if isinstance(cmd, bytes) else str(cmd)).split(" ")[0].upper()


def check_redriven(client, oldest_first: list[str]) -> None:
    n = len(oldest_first)
    assert client.zcard(keys.archived(QUEUE)) == 0
    assert client.llen(keys.pending(QUEUE)) == n
    # asynq's order: the oldest archived task nearest the tail (runs first).
    tail = [x.decode() for x in client.lrange(keys.pending(QUEUE), -3, -1)]
    head = [x.decode() for x in client.lrange(keys.pending(QUEUE), 0, 2)]
    assert tail == oldest_first[:3][::-1], (tail, oldest_first[:3])
    assert head == oldest_first[-3:][::-1], (head, oldest_first[-3:])
    for task_id in (oldest_first[0], oldest_first[n // 2], oldest_first[-1]):
        assert client.hget(keys.task(QUEUE, task_id), "state") == b"pending"


def check_deleted(client) -> None:
    leftover = [k for k in client.scan_iter(match=b"asynq:{" + QUEUE.encode() + b"}:*", count=5000)]
    # Locks of deleted archived tasks are released, as asynq's DeleteAllArchivedTasks does.
    assert leftover == [], leftover[:5]


def run_chunked(ops: Operations, which: str, chunk: int) -> tuple[float, int, int]:
    iterate = ops.iter_run_all if which == "redrive" else ops.iter_delete_all
    calls = done = 0
    t0 = time.perf_counter()
    for result in iterate(QUEUE, "archived", chunk=chunk):
        calls += 1
        done += result.done
        assert result.failed == 0, result.failures
    return time.perf_counter() - t0, calls, done


def run_asynq_style(client) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = client.eval(ASYNQ_STYLE_RUN_ALL, 2, keys.archived(QUEUE), keys.pending(QUEUE),
                    keys.task_prefix(QUEUE))
    return time.perf_counter() - t0, n


def timed_pass(client, ops, which: str, n: int, chunk: int) -> dict:
    """Seed, run one operation to the end under slowlog-log-slower-than
    5000, check the result."""
    client.flushdb()
    oldest_first = seed(client, n)
    ops.run_task(QUEUE, "warm-up-no-such-task")  # loads the scripts
    with slowlog(client, SLOW_US) as ours:
        if which == "asynq":
            total_s, done = run_asynq_style(client)
            calls = 1
        else:
            total_s, calls, done = run_chunked(ops, which, chunk)
        log = ours()
    assert done == n, (done, n)
    if which == "delete-all":
        check_deleted(client)
    else:
        check_redriven(client, oldest_first)
    over = [e["duration"] for e in log["entries"] if e["duration"] > SLOW_US]
    return {
        "total_s": total_s, "calls": calls, "over": len(over),
        "max_over_ms": max(over) / 1000 if over else None,
        "slowlog_len": (log["len_before"], log["len_after"]),
    }


def profile_pass(client, ops, which: str, n: int, chunk: int) -> dict:
    """Seed, run again with every call over 100 µs logged; our script calls'
    durations as Redis measured them."""
    client.flushdb()
    seed(client, n)
    with slowlog(client, PROFILE_US, max_len=max(4 * n // chunk + 1000, 10_000)) as ours:
        _, calls, _ = run_chunked(ops, which, chunk)
        log = ours()
    scripts = sorted(e["duration"] for e in log["entries"] if _command(e) == "EVALSHA")
    others = [e["duration"] for e in log["entries"] if _command(e) != "EVALSHA"]
    return {
        "logged": len(scripts), "calls": calls,
        "max_ms": scripts[-1] / 1000 if scripts else None,
        "median_ms": scripts[len(scripts) // 2] / 1000 if scripts else None,
        "p99_ms": scripts[int(len(scripts) * 0.99)] / 1000 if scripts else None,
        "over": sum(d > SLOW_US for d in scripts),
        "redis_s": sum(scripts) / 1e6,
        "max_other_ms": max(others, default=0) / 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=operations_module.DEFAULT_CHUNK)
    parser.add_argument("--trials", type=int, default=3, help="timed passes per operation")
    parser.add_argument("--no-profile", action="store_true",
                        help="skip the pass that logs every call to find the longest one")
    args = parser.parse_args()

    client = connect(args.url, client_name=CLIENT_NAME)
    client.ping()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Redis {client.info('server')['redis_version']} at {args.url}; "
          f"{args.tasks} archived tasks (1 in 10 with a uniqueness lock), chunk {args.chunk}, "
          f"{args.trials} trials; load average {load:.2f} on {os.cpu_count()} CPUs")
    ops = Operations(client)
    ok = True
    try:
        print("\ntimed passes (slowlog-log-slower-than 5000: every call over 5 ms is logged)")
        header = f"{'operation':<30} {'trial':>5} {'total s':>8} {'calls':>6} {'calls >5ms':>10} {'max >5ms':>9}"
        print(header)
        print("-" * len(header))
        for which, label in [("redrive", f"redrive, chunk {args.chunk}"),
                             ("delete-all", f"delete-all, chunk {args.chunk}"),
                             ("asynq", "redrive asynq-style (1 call)")]:
            for trial in range(1, args.trials + 1 if which != "asynq" else 2):
                row = timed_pass(client, ops, which, args.tasks, args.chunk)
                mx = f"{row['max_over_ms']:.1f} ms" if row["max_over_ms"] else "-"
                print(f"{label:<30} {trial:>5} {row['total_s']:>8.3f} {row['calls']:>6} "
                      f"{row['over']:>10} {mx:>9}")
                if which != "asynq":
                    ok &= row["total_s"] <= 1.0 and row["over"] == 0
        if not args.no_profile:
            print(f"\nprofile passes (slowlog-log-slower-than {PROFILE_US}: every script call logged; "
                  "durations measured by Redis)")
            header = (f"{'operation':<30} {'logged':>9} {'median ms':>9} {'p99 ms':>7} "
                      f"{'max ms':>7} {'>5ms':>5} {'redis s':>8} {'max read ms':>11}")
            print(header)
            print("-" * len(header))
            for which in ("redrive", "delete-all"):
                p = profile_pass(client, ops, which, args.tasks, args.chunk)
                print(f"{which + ', chunk ' + str(args.chunk):<30} {p['logged']:>4}/{p['calls']:<4} "
                      f"{p['median_ms']:>9.3f} {p['p99_ms']:>7.3f} {p['max_ms']:>7.3f} "
                      f"{p['over']:>5} {p['redis_s']:>8.3f} {p['max_other_ms']:>11.3f}")
    finally:
        client.flushdb()
    print("\ntargets (ours, every timed pass: total <= 1 s, no call over 5 ms):",
          "OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
