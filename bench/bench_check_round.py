"""Benchmark: one check round over N queues (default 1,000).

Seeds N asynq queues into a Redis DB of its own (default DB 7; FLUSHDB before and
after): each queue has a few pending tasks and 0–40 dead tasks (so ~half fire the
DLQ-size rule), then times ``alerts.checks.run_round()`` end to end: SMEMBERS + one
pipelined stats read, policy resolution, growth baseline query, oldest-dead-task
pipeline, alert state machine, sample INSERT, state/event/outbox writes. Postgres is a
database of its own (default ``postgres:///dlqadmin_bench``, created and migrated).
Notifications are queued but not sent (no channel is configured).

    python bench/bench_check_round.py [--queues 1000] [--rounds 30] [--redis redis://127.0.0.1:6379/7]

Target: < 100 ms per round (steady state: median and p95 reported; the first round,
which creates every alert state, is reported separately).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queues", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--redis", default=os.environ.get("DLQADMIN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))
    ap.add_argument("--database", default=os.environ.get("DLQADMIN_BENCH_DATABASE_URL", "postgres:///dlqadmin_bench"))
    args = ap.parse_args()

    os.environ["DATABASE_URL"] = args.database
    os.environ["ASYNQ_REDIS_URL"] = args.redis
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlqadmin.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("ensure_database", verbosity=0)
    call_command("migrate", verbosity=0, interactive=False)

    import redis

    from dlqadmin.alerts.checks import run_round
    from dlqadmin.alerts.models import AlertEvent, AlertState, OutboxMessage, QueueSample
    from dlqadmin.asynq import keys

    r = redis.Redis.from_url(args.redis)
    r.flushdb()
    now = time.time()
    pipe = r.pipeline(transaction=False)
    for i in range(args.queues):
        q = f"bench:q{i:04d}"
        pipe.sadd(keys.ALL_QUEUES, q)
        pipe.rpush(keys.pending(q), *[f"p{j}" for j in range(3)])
        dead = i % 41
        if dead:
            pipe.zadd(keys.archived(q), {f"d{j}": now - 3600 * j for j in range(dead)})
    pipe.execute()
    for model in (QueueSample, AlertState, AlertEvent, OutboxMessage):
        model.objects.all().delete()

    first = run_round(deliver=False)
    times, parts = [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        res = run_round(deliver=False)
        times.append((time.perf_counter() - t) * 1000)
        parts.append(res.timings_ms)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"queues={first.queues} firing_states={AlertState.objects.exclude(status='ok').count()} "
          f"samples_per_round={first.queues}")
    print(f"first round (creates states, events, outbox rows): {first.timings_ms['total']:.1f} ms")
    print(f"steady rounds: n={len(times)} median={statistics.median(times):.1f} ms p95={p95:.1f} ms "
          f"min={times[0]:.1f} ms max={times[-1]:.1f} ms")
    print("median split: " + ", ".join(
        f"{k}={statistics.median(p[k] for p in parts):.1f} ms" for k in ("read", "evaluate_write")))
    r.flushdb()
    for model in (QueueSample, AlertState, AlertEvent, OutboxMessage):
        model.objects.all().delete()
    connection.close()


if __name__ == "__main__":
    main()
