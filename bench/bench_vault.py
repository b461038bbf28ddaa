"""Benchmark: the dead-task vault under asynq's trim, then search and redrive at scale.

1. **Capture.** A separate process archives ``--rate`` tasks/s (default 1,000) into one
   queue for ``--seconds`` (default 300) the asynq way (asynq's archive script: ZADD,
   trim by score and by rank to 9,999, delete the trimmed hashes), so asynq's cap
   trims continuously, while this process runs the vault's capture passes as the
   scheduler's leader does (one pass every DLQADMIN_VAULT_POLL_SECONDS). Reports deaths
   captured / lost (target: all / 0), capture lag p50 / p99 (the time from the writer's
   death to the row's capture; target p99 < 3 s), the longest Redis call of the capture
   (SLOWLOG, server time; target < 5 ms) and Postgres bytes per task.
2. **Search.** Tops the vault up to ``--search-rows`` (default 1,000,000) deaths and times
   the Vault tab's search by error text (the page query plus the capped count; target
   p95 < 300 ms).
3. **Redrive.** Redrives ``--redrive`` (default 100,000) trimmed deaths through a tracked
   operation and the operations worker (target < 30 s, no Redis call over 5 ms).

0. **Backlog** (``--backlog N``, off by default): N deaths already archived (asynq's cap
   lifted), captured from scratch: deaths/s and the CPU each captured death costs, in
   this process, in its Postgres backend and in Redis; then each step of the capture
   timed alone over the same tasks (scan, msg decode, masking of error and payload
   preview, encryption, insert, status sweep once asynq trimmed them all). CPU per
   death is what to compare between runs on a shared machine: wall time there depends
   on what else runs.

    python bench/bench_vault.py [--seconds 300] [--rate 1000] [--search-rows 1000000]
        [--redrive 100000] [--backlog 0] [--db dlqadmin_bench_vault] [--url $DLQADMIN_BENCH_REDIS_URL]

The Redis DB (``--url``) is FLUSHDB'ed before and after; the Postgres database
(``--db``) is created if missing and its vault tables emptied first. SLOWLOG settings
are restored afterwards; our entries are told apart by the connection name.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUEUE = "bench:vault"
CLIENT_NAME = "dlqadmin-bench-vault"
DEFAULT_URL = os.environ.get("DLQADMIN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ERRORS = [
    "dial tcp 10.20.3.{n}:443: connect: connection refused",
    "context deadline exceeded after {n}ms",
    'upstream returned HTTP 502 Bad Gateway: {{"error":"bad_gateway","id":{n}}}',
    "charge failed: card_declined (insufficient_funds) for customer {n}",
    "smtp: 550 5.1.1 mailbox unavailable for user{n}@example.com",
    "pq: duplicate key value violates unique constraint \"orders_pkey\" (id={n})",
    "panic: runtime error: index out of range [{n}] with length 3",
    "webhook https://hooks.example.com/h/{n} answered 410 Gone",
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=300)
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--search-rows", type=int, default=1_000_000)
    p.add_argument("--searches", type=int, default=60)
    p.add_argument("--redrive", type=int, default=100_000)
    p.add_argument("--backlog", type=int, default=0, help="first capture a backlog of N deaths (CPU split)")
    p.add_argument("--db", default=os.environ.get("DLQADMIN_BENCH_VAULT_DB", "dlqadmin_bench_vault"))
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--writer", metavar="FILE", help=argparse.SUPPRESS)  # the writer process
    return p.parse_args()


# --- the writer process (no Django) -----------------------------------------------------

def die(w, pipe, i, stamp, prefix="d"):
    """Death number i, archived at ``stamp`` through the Archiver ``w`` into ``pipe``."""
    task_id = f"{prefix}-{i:08d}"
    payload = json.dumps({"order": i, "customer": {"email": f"user{i}@example.com"},
                          "card_number": "4111111111111111", "amount": i % 997}).encode()
    keys_, argv, _ = w._args(task_id, task_type=f"job:{i % 7}", payload=payload,
                             error=ERRORS[i % len(ERRORS)].format(n=i), retry=5, at=stamp)
    w.script(keys=keys_, args=argv, client=pipe)
    return task_id


def run_writer(args):
    import redis

    from tests.support.asynq_archiver import Archiver

    client = redis.Redis.from_url(args.url)
    w = Archiver(client, QUEUE, now=lambda: dt.datetime.now(dt.UTC))  # a benchmark runs on the real clock
    batch = max(1, args.rate // 20)  # 20 batches a second
    began = time.time()
    deaths = []
    n = 0
    total = args.rate * args.seconds
    while n < total:
        due = began + n / args.rate
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        k = min(batch, total - n)
        pipe = client.pipeline(transaction=False)
        stamp = time.time()
        for i in range(n, n + k):
            deaths.append((die(w, pipe, i, stamp), stamp))
        pipe.execute()
        n += k
    with open(args.writer, "w") as fh:
        json.dump(deaths, fh)


# --- the benchmark process --------------------------------------------------------------

def ensure_database(name):
    import psycopg

    with psycopg.connect("dbname=postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(args):
    os.environ["DATABASE_URL"] = f"postgres:///{args.db}"
    os.environ["ASYNQ_REDIS_URL"] = args.url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlqadmin.settings")
    os.environ.setdefault("LOG_FORMAT", "plain")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Slowlog:
    """Every call slower than ``threshold_us`` is logged; ours are told by client name."""

    def __init__(self, client, threshold_us=500, max_len=100_000):
        self.client, self.threshold, self.max_len = client, threshold_us, max_len

    def __enter__(self):
        c = self.client
        self.old = (c.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"],
                    c.config_get("slowlog-max-len")["slowlog-max-len"])
        c.config_set("slowlog-max-len", self.max_len)
        c.config_set("slowlog-log-slower-than", self.threshold)
        newest = c.slowlog_get(1)
        self.start_id = newest[0]["id"] if newest else -1
        return self

    def ours(self):
        return [e for e in self._new() if self._is_ours(e)]

    def others(self):
        """The other clients' calls (the writer's archive script: a fixed, small amount
        of work per call, so a long one measures the host, not the script)."""
        return [e for e in self._new() if not self._is_ours(e)]

    def _new(self):
        return [e for e in self.client.slowlog_get(self.max_len) if e["id"] > self.start_id]

    @staticmethod
    def _is_ours(entry):
        return (entry.get("client_name") or b"") in (CLIENT_NAME, CLIENT_NAME.encode())

    def __exit__(self, *exc):
        self.client.config_set("slowlog-log-slower-than", self.old[0])
        self.client.config_set("slowlog-max-len", self.old[1])


_SCRIPT_NAMES = {}


def _command(entry):
    """A slowlog entry's command, naming our scripts by file."""
    if not _SCRIPT_NAMES:
        from dlqadmin.asynq import vault

        for script in vault._SCRIPTS:
            _SCRIPT_NAMES[script.sha] = script.name
    cmd = entry["command"]
    cmd = cmd.decode(errors="replace") if isinstance(cmd, bytes) else str(cmd)
    parts = cmd.split()
    if parts and parts[0].upper() == "EVALSHA" and len(parts) > 1:
        return _SCRIPT_NAMES.get(parts[1], parts[1][:12])
    return " ".join(parts[:2])


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def capture_phase(args, bench_client):
    from django.conf import settings
    from django.db import connection

    from dlqadmin.asynq.vault import VaultClient
    from dlqadmin.vault import capture
    from dlqadmin.vault.models import VaultCursor, VaultEntry

    vc = VaultClient(bench_client)
    deaths_file = tempfile.NamedTemporaryFile(prefix="bench-vault-", suffix=".json", delete=False).name
    writer = subprocess.Popen([sys.executable, __file__, "--writer", deaths_file, "--url", args.url,
                               "--rate", str(args.rate), "--seconds", str(args.seconds)], cwd=ROOT)
    poll = settings.DLQADMIN_VAULT_POLL_SECONDS
    passes, pass_ms, loads = 0, [], []
    meter = CpuMeter(bench_client)
    with Slowlog(bench_client) as log:
        while True:
            loads.append(os.getloadavg()[0])
            t0 = time.perf_counter()
            capture.capture_pass(vc=vc, queues=[QUEUE], max_seconds=5.0)
            pass_ms.append((time.perf_counter() - t0) * 1000)
            passes += 1
            if writer.poll() is not None:
                break
            time.sleep(max(0.0, poll - (time.perf_counter() - t0)))
        for _ in range(3):
            capture.capture_pass(vc=vc, queues=[QUEUE], max_seconds=30.0)
        slow, writer_slow = log.ours(), log.others()
    if writer.returncode != 0:
        raise SystemExit("the writer process failed")
    with open(deaths_file) as fh:
        deaths = json.load(fh)
    os.unlink(deaths_file)
    died = {task_id: at for task_id, at in deaths}
    captured = dict(VaultEntry.objects.filter(queue=QUEUE).values_list("task_id", "captured_at"))
    lags = [captured[t].timestamp() - at for t, at in died.items() if t in captured]
    cur = VaultCursor.objects.get(queue=QUEUE)
    with connection.cursor() as c:
        c.execute("ANALYZE vault_vaultentry")
        c.execute("SELECT pg_total_relation_size('vault_vaultentry'), count(*) FROM vault_vaultentry")
        size, rows = c.fetchone()
    longest = max((e["duration"] for e in slow), default=0)
    n_captured = sum(1 for t in died if t in captured)
    # Redis CPU here includes the writer's archive scripts.
    cpu = meter.per_task_us(n_captured)
    return {
        "load_avg_1m_median": round(statistics.median(loads), 2), "cpu_per_death_us": cpu,
        "deaths": len(died), "captured": n_captured, "lost": cur.lost_total,
        "lag_p50_s": round(pct(lags, 50), 3), "lag_p99_s": round(pct(lags, 99), 3),
        "lag_max_s": round(max(lags, default=0), 3),
        "passes": passes, "pass_ms_p50": round(pct(pass_ms, 50), 1), "pass_ms_p99": round(pct(pass_ms, 99), 1),
        "redis_calls_over_0.5ms": len(slow), "redis_calls_over_5ms": sum(1 for e in slow if e["duration"] > 5000),
        "longest_redis_call_ms": round(longest / 1000, 3),
        "slowest_calls": [(round(e["duration"] / 1000, 2), _command(e)) for e in
                          sorted(slow, key=lambda e: -e["duration"])[:5]],
        "writer_calls_over_5ms": sum(1 for e in writer_slow if e["duration"] > 5000),
        "writer_longest_call_ms": round(max((e["duration"] for e in writer_slow), default=0) / 1000, 3),
        "pg_bytes_per_task": round(size / max(rows, 1)), "in_asynq_now": bench_client.zcard(
            __import__("dlqadmin.asynq.keys", fromlist=["x"]).archived(QUEUE)),
    }


class CpuMeter:
    """CPU seconds used since start by this process, our Postgres backend (its
    /proc entry: a local server) and the Redis server (all its clients)."""

    def __init__(self, bench_client):
        from django.db import connection

        self.redis = bench_client
        with connection.cursor() as c:
            c.execute("SELECT pg_backend_pid()")
            self.pg_pid = c.fetchone()[0]
        self.start = self.read()

    def _pg(self):
        try:
            with open(f"/proc/{self.pg_pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")  # Postgres on another host
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _redis(self):
        info = self.redis.info("cpu")
        return info["used_cpu_user"] + info["used_cpu_sys"]

    def read(self):
        return time.process_time(), self._pg(), self._redis()

    def per_task_us(self, n):
        now = self.read()
        names = ("client_us", "postgres_us", "redis_us")
        return {k: round((b - a) / max(n, 1) * 1e6, 1) for k, a, b in zip(names, self.start, now)}


def backlog_phase(args, bench_client):
    """Capture ``--backlog`` deaths archived beforehand; then each step alone (see the
    module docstring)."""
    import hashlib

    from django.db import transaction

    from dlqadmin.asynq import keys
    from dlqadmin.asynq.vault import VaultClient
    from dlqadmin.core import clock
    from dlqadmin.masking.selectors import masker_lookup
    from dlqadmin.vault import capture, crypto
    from dlqadmin.vault.models import VaultEntry
    from tests.support.asynq_archiver import Archiver

    n = args.backlog
    w = Archiver(bench_client, QUEUE, now=lambda: dt.datetime.now(dt.UTC), cap=10**9)
    stamp = time.time() - 60
    for start in range(0, n, 1000):
        pipe = bench_client.pipeline(transaction=False)
        for i in range(start, min(n, start + 1000)):
            die(w, pipe, i, stamp + i / 1000, prefix="b")
        pipe.execute()
    vc = VaultClient(bench_client)
    meter, t0, passes = CpuMeter(bench_client), time.perf_counter(), 0
    while True:
        result = capture.capture_pass(vc=vc, queues=[QUEUE], max_seconds=5.0)
        passes += 1
        if not result.queues or not result.queues[0].behind:
            break
    seconds = time.perf_counter() - t0
    captured = VaultEntry.objects.filter(queue=QUEUE).count()
    out = {"deaths": n, "captured": captured, "seconds": round(seconds, 2), "per_s": round(captured / seconds),
           "passes": passes, "cpu_per_death": meter.per_task_us(captured)}

    # Each step alone, over the same tasks (CPU of this process unless named).
    split = {}

    def step(name, fn):
        c0 = time.process_time()
        value = fn()
        split[name] = round((time.process_time() - c0) / n * 1e6, 1)
        return value

    def scan_all():
        tasks, pos = [], None
        while True:
            chunk = vc.scan(QUEUE, pos)
            if not chunk.tasks:
                return tasks
            tasks += chunk.tasks
            pos = chunk.last

    tasks = step("redis scan", scan_all)
    parts = step("msg decode", lambda: [capture._decode_parts(t.msg) for t in tasks])
    lookup = masker_lookup(QUEUE)
    step("mask error", lambda: [capture._masked_error(lookup(p[0]), p[3]) for p in parts])
    step("mask payload preview", lambda: [capture._masked_payload(lookup(p[0]), p[4]) for p in parts])
    encrypt = crypto.encryptor()
    step("encrypt", lambda: [encrypt(t.msg) for t in tasks])
    step("sha256", lambda: [hashlib.sha256(t.msg).hexdigest() for t in tasks])
    now = clock.now()
    rows = [(t.member, t.score, t.msg, t.state) for t in tasks]
    VaultEntry.objects.filter(queue=QUEUE).delete()
    meter = CpuMeter(bench_client)
    c0 = time.process_time()
    for start in range(0, n, 500):
        with transaction.atomic():
            capture._insert(QUEUE, rows[start:start + 500], lookup, now)
    whole = meter.per_task_us(n)
    split["row + insert (client, all of the above but scan)"] = round((time.process_time() - c0) / n * 1e6, 1)
    split["insert (postgres backend)"] = whole["postgres_us"]
    # asynq trims them all: the status sweep finds every row gone.
    bench_client.delete(keys.archived(QUEUE))
    meter = CpuMeter(bench_client)
    changed = 0
    while True:
        got = sum(capture.refresh_statuses(QUEUE, vc=vc, all_gone=True).values())
        changed += got
        if not got:
            break
    sweep = meter.per_task_us(changed)
    split["status sweep (client)"], split["status sweep (postgres backend)"] = sweep["client_us"], sweep["postgres_us"]
    split["status sweep (redis)"] = sweep["redis_us"]
    out["cpu_split_us_per_death"] = split
    bench_client.flushdb()
    from django.db import connection

    with connection.cursor() as c:
        c.execute("TRUNCATE vault_vaultentry, vault_vaultcursor, vault_vaultloss")
    return out


def top_up(target):
    """Synthetic deaths (same shape as captured ones) up to ``target`` rows."""
    from django.db import connection

    from dlqadmin.vault import crypto

    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM vault_vaultentry")
        have = c.fetchone()[0]
        missing = target - have
        if missing <= 0:
            return 0
        token = crypto.encrypt(b"x" * 300)
        errors = [e.replace("{{", "{").replace("}}", "}") for e in ERRORS]
        cases = " ".join(f"WHEN {i} THEN replace(%s, '{{n}}', g::text)" for i in range(len(errors)))
        c.execute(
            "INSERT INTO vault_vaultentry (queue, task_id, task_member, task_type, archived_score, archived_at, "
            "retried, max_retry, error_masked, payload_masked, payload_json, size, sha256, msg_encrypted, damaged, "
            "status, status_changed_at, left_state, captured_at) "
            "SELECT %s, 's-' || g, convert_to('s-' || g, 'UTF8'), 'job:' || (g %% 7), "
            "1.7e9 + g / 1000.0, to_timestamp(1.7e9 + g / 1000.0), 5, 5, "
            f"CASE g %% {len(errors)} {cases} END, "
            "'{\"order\": ' || g || ', \"customer\": {\"email\": \"[email •••@example.com]\"}}', NULL, 300, "
            "md5(g::text) || md5(g::text), %s, '', 'trimmed', now(), '', now() "
            "FROM generate_series(1, %s) AS g",
            [QUEUE, *errors, token, missing])
        c.execute("ANALYZE vault_vaultentry")
    return missing


def search_phase(args):
    from dlqadmin.vault import selectors

    t0 = time.perf_counter()
    added = top_up(args.search_rows)
    fill_s = time.perf_counter() - t0
    terms = ["connection refused", "card_declined", "mailbox unavailable", "deadline exceeded",
             "502 Bad Gateway", "user12345", "orders_pkey", "410 Gone", "index out of range [777]",
             "nothing matches this text"]
    times = []
    for k in range(args.searches):
        f = selectors.VaultFilter.from_query({"error": terms[k % len(terms)]})
        t = time.perf_counter()
        selectors.page(QUEUE, f)
        selectors.count(QUEUE, f)
        times.append((time.perf_counter() - t) * 1000)
    return {"rows": args.search_rows, "added": added, "fill_s": round(fill_s, 1),
            "search_ms_p50": round(pct(times, 50), 1), "search_ms_p95": round(pct(times, 95), 1),
            "search_ms_max": round(max(times), 1)}


def redrive_phase(args, bench_client):
    from dlqadmin.asynq.vault import VaultClient
    from dlqadmin.operations.models import Operation
    from dlqadmin.vault import services
    from dlqadmin.vault.models import TRIMMED, VaultEntry

    ids = list(VaultEntry.objects.filter(queue=QUEUE, status=TRIMMED, task_id__startswith="d-")
               .order_by("archived_score", "id").values_list("id", flat=True)[:args.redrive])
    op = Operation.objects.create(action="vault_run", queue=QUEUE, state="vault", ids=ids, total=len(ids),
                                  started_by_name="bench", status=Operation.RUNNING, lease_owner="bench")
    vc = VaultClient(bench_client)
    original = services.redrive_entries
    services.redrive_entries = lambda q, entries, **kw: original(q, entries, vc=vc, **kw)
    done = failed = 0
    try:
        with Slowlog(bench_client) as log:
            t0 = time.perf_counter()
            for chunk in services.iter_bulk(op):
                done += chunk.done
                failed += chunk.failed
                Operation.objects.filter(pk=op.pk).update(done=done, failed=failed)
            seconds = time.perf_counter() - t0
            slow = log.ours()
    finally:
        services.redrive_entries = original
    from dlqadmin.asynq import keys

    return {"entries": len(ids), "done": done, "refused": failed, "seconds": round(seconds, 2),
            "pending_in_asynq": bench_client.llen(keys.pending(QUEUE)),
            "redis_calls_over_5ms": sum(1 for e in slow if e["duration"] > 5000),
            "longest_redis_call_ms": round(max((e["duration"] for e in slow), default=0) / 1000, 3)}


def main():
    args = parse_args()
    if args.writer:
        return run_writer(args)
    import redis

    ensure_database(args.db)
    setup_django(args)
    from django.db import connection

    bench_client = redis.Redis.from_url(args.url, client_name=CLIENT_NAME)
    bench_client.flushdb()
    with connection.cursor() as c:
        c.execute("TRUNCATE vault_vaultentry, vault_vaultcursor, vault_vaultloss, operations_operationitem, "
                  "operations_operation CASCADE")
    out = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "seconds": args.seconds,
           "rate": args.rate}
    try:
        if args.backlog:
            print("backlog: capturing", args.backlog, "deaths archived beforehand ...", flush=True)
            out["backlog"] = backlog_phase(args, bench_client)
            print(json.dumps(out["backlog"], indent=2), flush=True)
        print("capture: writing", args.rate * args.seconds, "deaths over", args.seconds, "s ...", flush=True)
        out["capture"] = capture_phase(args, bench_client)
        print(json.dumps(out["capture"], indent=2), flush=True)
        out["search"] = search_phase(args)
        print(json.dumps(out["search"], indent=2), flush=True)
        out["redrive"] = redrive_phase(args, bench_client)
        print(json.dumps(out["redrive"], indent=2), flush=True)
    finally:
        bench_client.flushdb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
