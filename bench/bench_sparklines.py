"""Benchmark: the overview's DLQ sparklines over a day of check-round samples.

Writes one day of QueueSample rows for N queues (default 100) at one sample per check
tick (default 15 s: 5,760 a queue, 576,000 in all) into a database of its own (default
``postgres:///dlqadmin_bench``, created and migrated; its samples are deleted before and
after), then times ``alerts.selectors.sparklines()`` for all N queues.

    python bench/bench_sparklines.py [--queues 100] [--tick 15] [--runs 9]

Target: well under the 5 s live-refresh interval, and independent of the check interval
(one index probe per queue and 30-minute bucket). Live-refresh polls skip it altogether.
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
    ap.add_argument("--queues", type=int, default=100)
    ap.add_argument("--tick", type=int, default=15, help="seconds between samples")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--database", default=os.environ.get("DLQADMIN_BENCH_DATABASE_URL", "postgres:///dlqadmin_bench"))
    args = ap.parse_args()

    os.environ["DATABASE_URL"] = args.database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlqadmin.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("ensure_database", verbosity=0)
    call_command("migrate", verbosity=0, interactive=False)

    from dlqadmin.alerts import selectors
    from dlqadmin.alerts.models import QueueSample
    from dlqadmin.core import clock
    from dlqadmin.core import names as qnames

    queues = [f"bench:q{i:04d}" for i in range(args.queues)]
    per_queue = 86400 // args.tick
    now = clock.now()
    QueueSample.objects.all().delete()
    with connection.cursor() as cur:
        for q in queues:
            cur.execute(
                "INSERT INTO alerts_queuesample (queue, queue_key, at, pending, active, scheduled, retry, archived,"
                " completed, latency_seconds) SELECT %s, %s, %s - g * %s * interval '1 second', 0, 0, 0, 0,"
                " g %% 500, 0, 0 FROM generate_series(0, %s) g",
                [q, qnames.key(q), now, args.tick, per_queue - 1])
        cur.execute("ANALYZE alerts_queuesample")
    took = []
    for _ in range(args.runs):
        start = time.perf_counter()
        lines = selectors.sparklines(queues)
        took.append((time.perf_counter() - start) * 1000)
    assert len(lines) == args.queues
    print(f"{args.queues} queues x {per_queue} samples ({args.queues * per_queue:,} rows): sparklines "
          f"median {statistics.median(took):.0f} ms, max {max(took):.0f} ms over {args.runs} runs")
    QueueSample.objects.all().delete()


if __name__ == "__main__":
    main()
