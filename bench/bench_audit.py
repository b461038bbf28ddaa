"""Benchmark: the audit review's filtered first page over 1,000,000 events.

Creates (or reuses) a database of its own, `dlqadmin_bench` by default, migrates it,
seeds N audit events with a real hash chain (computed in Python, loaded with COPY;
indexes are dropped for the load and rebuilt after it, as one would restore a dump),
then times the first page (50 rows, newest first) of each filter the review page and
`GET /api/v1/audit` offer, through the same selector the views call. For each query it
prints EXPLAIN ANALYZE's index use. Optionally times `verify_audit_log` over everything.

    python bench/bench_audit.py [--db dlqadmin_bench] [--rows 1000000] [--reseed]
        [--repeat 30] [--verify]

Target: median < 50 ms for every filter's first page.
Never point --db at a database you care about: its audit table is TRUNCATEd on reseed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE = 50
ACTIONS = [  # (action, weight, task-level?)
    ("task.retry", 28, True), ("task.discard", 14, True), ("task.archive", 4, True), ("payload.reveal", 5, True),
    ("notification.sent", 15, False), ("notification.failed", 1, False), ("login", 10, False),
    ("login.failed", 3, False), ("logout", 8, False), ("login.mfa", 6, False), ("access.denied", 2, False),
    ("policy.change", 1, False), ("access.grant", 1, False), ("audit.export", 1, False), ("token.create", 1, False),
]
OUTCOMES = [("success", 90), ("failed", 4), ("denied", 3), ("intent", 3)]
QUEUES = ["payments", "emails", "webhooks", "reports", "billing"] + [f"q{i:03d}" for i in range(45)]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", "Mozilla/5.0 (Macintosh) Safari/605.1.15",
          "python-requests/2.32", "curl/8.5.0", "dlqadmin-scheduler"]
ERRORS = ["redis: connection refused", "task changed state meanwhile", "slack: 429 rate limited", "timeout"]
COLUMNS = ("seq", "created_at", "actor_id", "actor_name", "action", "queue", "task_id", "target", "reason",
           "outcome", "message", "request_id", "ip", "user_agent", "detail", "prev_hash", "hash")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=os.environ.get("DLQADMIN_BENCH_DB", "dlqadmin_bench"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reseed", action="store_true", help="seed again even if the row count matches")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--verify", action="store_true", help="also time verify_audit_log over every row")
    return parser.parse_args()


def ensure_database(name):
    import psycopg

    with psycopg.connect("dbname=postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def setup_django(name):
    os.environ["DATABASE_URL"] = f"postgres:///{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlqadmin.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def generate(n, rng):
    """Rows (dicts of the chained columns) in chain order, one year of activity."""
    from dlqadmin.audit.sanitize import clean_detail

    actions, action_weights = zip(*[(a, w) for a, w, _ in ACTIONS])
    task_level = {a for a, _, t in ACTIONS if t}
    outcomes, outcome_weights = zip(*OUTCOMES)
    actors = [f"user{i:03d}" for i in range(1, 201)]
    actor_weights = [1 / (i + 1) ** 0.8 for i in range(len(actors))]  # a few very active users
    start = datetime(2025, 1, 1, tzinfo=UTC)
    step = timedelta(days=365) / n
    queue_weights = [1 / (i + 1) for i in range(len(QUEUES))]
    early = n * 3 // 100  # the first ~11 days: a user who then left, a queue since retired
    for i in range(n):
        action = rng.choices(actions, action_weights)[0]
        outcome = rng.choices(outcomes, outcome_weights)[0]
        system = action.startswith("notification.")
        actor = "system" if system else rng.choices(actors, actor_weights)[0]
        if not system and i < early and rng.random() < 0.3:
            actor = "user999"  # left in January: all their events are at the far end of the log
        task = action in task_level
        queue = rng.choices(QUEUES, queue_weights)[0] if task or system else ""
        if queue and i < early and rng.random() < 0.4:
            queue = "legacy"
        reason = f"INC-{rng.randrange(100000):05d} {rng.choice(['customer refund', 'stuck batch', 'cleanup'])}" \
            if action in ("payload.reveal", "task.discard") else ""
        yield {
            "seq": i + 1,
            "created_at": start + step * i,
            "actor_id": None if system else int(actor[4:]),
            "actor_name": actor,
            "action": action,
            "queue": queue,
            "task_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)) if task else "",
            "target": "" if task or system else f"user:{actor}",
            "reason": reason,
            "outcome": outcome,
            "message": rng.choice(ERRORS) if outcome == "failed" else "",
            "request_id": "" if system else uuid.UUID(int=rng.getrandbits(128)).hex,
            "ip": "" if system else f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "user_agent": "" if system else rng.choice(AGENTS),
            "detail": clean_detail({"attempt": rng.randrange(1, 4)} if task else
                                   {"channel": "#ops-alerts"} if system else {}),
        }


def seed(n, rng):
    from django.db import connection

    from dlqadmin.audit import chain

    table = "audit_auditevent"
    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE %s",
                    [table, "%pkey"])
        indexes = cur.fetchall()
        cur.execute(f"TRUNCATE {table}")  # bench database only; UPDATE/DELETE stay forbidden
        cur.execute("TRUNCATE audit_chainhead")
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
    t0 = time.perf_counter()
    prev = chain.GENESIS
    hashing = 0.0
    with connection.cursor() as cur:
        raw = cur.cursor  # the psycopg cursor, for COPY
        with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in generate(n, rng):
                h0 = time.perf_counter()
                row["prev_hash"] = prev
                row["hash"] = prev = chain.row_hash(row, prev)
                hashing += time.perf_counter() - h0
                copy.write_row([json.dumps(row[c]) if c == "detail" else row[c] for c in COLUMNS])
        cur.execute("INSERT INTO audit_chainhead (id, seq, hash, created_at) "
                    f"SELECT 1, seq, hash, created_at FROM {table} ORDER BY seq DESC LIMIT 1")
    load = time.perf_counter() - t0
    t1 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        for name, definition in indexes:
            i0 = time.perf_counter()
            cur.execute(definition)
            print(f"  index {name}: {time.perf_counter() - i0:.1f} s")
        cur.execute(f"VACUUM ANALYZE {table}")
    print(f"seeded {n:,} rows: generate+hash+COPY {load:.1f} s (hashing {hashing:.1f} s), "
          f"indexes+analyze {time.perf_counter() - t1:.1f} s")


def pick(rng):
    """Filter values that exist in the data (a task id, a date range in the middle...)."""
    from dlqadmin.audit.models import AuditEvent

    n = AuditEvent.objects.count()
    some = AuditEvent.objects.filter(seq=n // 2).exclude(task_id="").values("task_id").first() or \
        AuditEvent.objects.exclude(task_id="").filter(seq__gt=n // 2).order_by("seq").values("task_id").first()
    rare = AuditEvent.objects.filter(action="payload.reveal").order_by("seq").values("reason")[n // 40]["reason"]
    return n, some["task_id"], rare.split()[0].lower()


def cases(task_id, rare_text):
    mid = "2025-07-01"
    return [
        ("no filter", {}),
        ("actor (active user)", {"actor": "user001"}),
        ("actor (rare user)", {"actor": "user200"}),
        ("actor (left in January)", {"actor": "user999"}),
        ("action", {"action": "payload.reveal"}),
        ("queue", {"queue": "payments"}),
        ("queue (retired)", {"queue": "legacy"}),
        ("task id", {"task_id": task_id}),
        ("outcome denied", {"outcome": "denied"}),
        ("date range (1 week)", {"since": mid, "until": "2025-07-07"}),
        ("date range (old day)", {"since": "2025-01-15", "until": "2025-01-15"}),
        ("free text (rare)", {"q": rare_text}),
        ("free text (common)", {"q": "refund"}),
        ("free text (uuid part)", {"q": task_id[:8]}),
        ("free text (only old)", {"q": "legacy"}),
        ("free text (ip prefix)", {"q": "10.1.2."}),
        ("actor+action+week", {"actor": "user007", "action": "task.retry", "since": mid, "until": "2025-07-07"}),
        ("rare combination", {"actor": "user150", "outcome": "denied", "action": "access.denied"}),
    ]


def indexes_used(plan):
    names = sorted(set(re.findall(r"(?:Index|Index Only|Bitmap Index) Scan(?: Backward)? using (\w+)", plan)
                       + re.findall(r"Bitmap Index Scan on (\w+)", plan)))
    return ", ".join(names) or ("SEQ SCAN" if "Seq Scan" in plan else "-")


def run(repeat):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dlqadmin.audit import selectors

    rng = random.Random(7)
    n, task_id, rare = pick(rng)
    print(f"\n{n:,} events; first page of {PAGE}, {repeat} runs each (after 3 warm-ups)\n")
    print(f"{'filter':24} {'rows':>5} {'median ms':>10} {'p95 ms':>8} {'min ms':>7} {'queries':>7}  "
          "indexes (EXPLAIN ANALYZE)")
    worst = 0.0
    for label, params in cases(task_id, rare):
        filters = selectors.parse_filters(params)
        for _ in range(3):
            selectors.page(filters, limit=PAGE)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = selectors.page(filters, limit=PAGE)
            times.append((time.perf_counter() - t0) * 1000)
        # EXPLAIN ANALYZE every statement the page ran (date probes, search steps...).
        with CaptureQueriesContext(connection) as captured:
            selectors.page(filters, limit=PAGE)
        plans = []
        with connection.cursor() as cur:
            for query in captured.captured_queries:
                cur.execute("EXPLAIN ANALYZE " + query["sql"])
                plans.append("\n".join(r[0] for r in cur.fetchall()))
        plan = "\n".join(plans)
        median = statistics.median(times)
        worst = max(worst, median)
        p95 = sorted(times)[int(len(times) * 0.95) - 1]
        print(f"{label:24} {len(result.events):5d} {median:10.2f} {p95:8.2f} {min(times):7.2f} "
              f"{len(plans):7d}  {indexes_used(plan)}")
        if os.environ.get("BENCH_SHOW_PLANS"):
            print(plan)
    # Deep pages cost the same as the first: keyset, not OFFSET.
    filters = selectors.parse_filters({"queue": "payments"})
    cursor = None
    t0 = time.perf_counter()
    for _ in range(200):
        page = selectors.page(filters, before=cursor, limit=PAGE)
        cursor = page.older
    print(f"\nqueue=payments, pages 1..200 walked with the keyset cursor: "
          f"{(time.perf_counter() - t0) * 1000 / 200:.2f} ms per page on average")
    verdict = "OK" if worst < 50 else "OVER"
    print(f"worst median {worst:.2f} ms: {verdict} (target < 50 ms)")
    connection.close()


def main():
    args = parse_args()
    ensure_database(args.db)
    setup_django(args.db)
    from dlqadmin.audit.models import AuditEvent

    count = AuditEvent.objects.count()
    if args.reseed or count != args.rows:
        seed(args.rows, random.Random(42))
    else:
        print(f"reusing {count:,} events in {args.db} (--reseed to seed again)")
    run(args.repeat)
    if args.verify:
        from dlqadmin.audit.verify import verify_database

        t0 = time.perf_counter()
        result = verify_database()
        print(f"\nverify_audit_log: {result.count:,} rows, ok={result.ok} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
