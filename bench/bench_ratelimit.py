"""Benchmark: what the per-token API rate limit costs per request, and that concurrent
workers lose no count.

Each API request made with a token runs one upsert on Postgres (dlqadmin.api.ratelimit).
This times `ratelimit.hit` alone (autocommit, like a request outside a transaction), in
one thread, then in N threads at once on the same token (each thread its own database
connection, as gunicorn workers have), and checks the stored count equals the hits made.

Run:  DATABASE_URL=postgres:///dlqadmin .venv/bin/python bench/bench_ratelimit.py [--hits N] [--threads T]
Uses the database of DATABASE_URL (migrated); makes one user and token and deletes them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlqadmin.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from dlqadmin.api import ratelimit  # noqa: E402
from dlqadmin.api.models import ApiToken, ApiTokenUse  # noqa: E402


def timed_hits(token, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        ratelimit.hit(token)
        out.append(time.perf_counter() - t0)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hits", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    settings.DLQADMIN_API_RATE_LIMIT = 10**9
    settings.DLQADMIN_API_RATE_WINDOW = 3600  # one window for the whole run
    user = get_user_model().objects.create(username=f"bench-ratelimit-{os.getpid()}")
    token, _ = ApiToken.issue(user)
    try:
        timed_hits(token, 50)  # warm up
        one = timed_hits(token, args.hits)
        ms = sorted(x * 1000 for x in one)
        print(f"1 thread, {args.hits} hits: median {statistics.median(ms):.2f} ms, "
              f"p95 {ms[int(len(ms) * 0.95)]:.2f} ms")
        results: list[list[float]] = []

        def worker():
            results.append(timed_hits(token, args.hits // args.threads))
            connection.close()

        before = sum(ApiTokenUse.objects.filter(token=token).values_list("count", flat=True))
        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        made = sum(len(r) for r in results)
        after = sum(ApiTokenUse.objects.filter(token=token).values_list("count", flat=True))
        ms = sorted(x * 1000 for r in results for x in r)
        print(f"{args.threads} threads, {made} hits: median {statistics.median(ms):.2f} ms, "
              f"p95 {ms[int(len(ms) * 0.95)]:.2f} ms, {made / wall:.0f} hits/s; "
              f"counted {after - before} of {made} ({'exact' if after - before == made else 'LOST COUNTS'})")
    finally:
        ApiToken.objects.filter(user=user).delete()
        user.delete()


if __name__ == "__main__":
    main()
