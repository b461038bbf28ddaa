"""Load: N clients without pause for T seconds against a real gunicorn (2 workers of gunicorn.conf.py).

Starts gunicorn itself on 127.0.0.1 with production-like settings (DEBUG off, a random
SECRET_KEY, JSON logs at WARNING, persistent database connections), over a Redis DB of
its own holding the demo workload (`seed_demo`; FLUSHDB before and after) and a Postgres
database of its own (created and migrated). A viewer on every queue signs in (session
cookie) and gets an API token; each client then loops over a mix of dashboard pages and
API reads without pausing, and the run reports errors, p50/p95/p99 latency and throughput,
overall and per request kind.

    python bench/bench_load.py [--clients 50] [--seconds 60] [--port 7110] [--workers 2]
                               [--redis redis://127.0.0.1:6379/7] [--database postgres:///dlqadmin_bench]

Bounded: at most 200 clients and 600 seconds, loopback only. No targets here: the
performance issue sets them; this script measures.
"""

import argparse
import http.client
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOST = "127.0.0.1"  # loopback only, never configurable
MAX_CLIENTS, MAX_SECONDS = 200, 600


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def setup(args):
    """Database, demo data, a viewer with a session and a token. Returns (cookie, token, paths)."""
    os.environ["DATABASE_URL"] = args.database
    os.environ["ASYNQ_REDIS_URL"] = args.redis
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlqadmin.settings")
    os.environ["DLQADMIN_REQUIRE_MFA"] = "false"
    # One key for this process and gunicorn: the session's auth hash is derived from it.
    os.environ["SECRET_KEY"] = args.secret_key
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    call_command("ensure_database", verbosity=0)
    call_command("migrate", verbosity=0, interactive=False)
    r = redis.Redis.from_url(args.redis)
    r.flushdb()
    call_command("seed_demo", "--dead", str(args.dead), "--seed", "7", verbosity=0)
    call_command("bootstrap_roles", verbosity=0)

    from dlqadmin.access.services import grant
    from dlqadmin.api.models import ApiToken

    User = get_user_model()
    user = User.objects.filter(username="bench-viewer").first() or User.objects.create_user("bench-viewer")
    grant(user, "viewer", all_queues=True)
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    _, token = ApiToken.issue(user, name="bench")

    from dlqadmin.core.asynq_client import inspector

    ins = inspector()
    queue = max(ins.queues(), key=lambda q: ins.queue_info(q, memory_usage=False).archived)
    task = ins.list_tasks(queue, "archived", page=1, page_size=1).tasks[0].id
    from dlqadmin.core.converters import encode_segment
    from urllib.parse import quote

    q, t = quote(encode_segment(queue), safe="~"), quote(encode_segment(task), safe="~")
    paths = {
        "overview": ("/", "session"),
        "queue page": (f"/queues/{q}/", "session"),
        "task page": (f"/queues/{q}/tasks/{t}/", "session"),
        "api queues": ("/api/v1/queues", "token"),
        "api tasks": (f"/api/v1/queues/{q}/tasks?state=archived&page_size=50", "token"),
        "api task": (f"/api/v1/queues/{q}/tasks/{t}/", "token"),
    }
    return cookie, token, paths, r


def start_gunicorn(args, log, options=None, extra_env=None):
    """gunicorn on HOST:args.port with production settings; gunicorn.conf.py (read from the
    working directory) is the served configuration, `options` (default: --workers
    args.workers and the bind address) override it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_ALLOW")}
    env.update({
        "DEBUG": "false", "SECRET_KEY": args.secret_key, "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": args.database, "ASYNQ_REDIS_URL": args.redis, "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json", "DLQADMIN_REQUIRE_MFA": "false", "DJANGO_SETTINGS_MODULE": "dlqadmin.settings",
        # One token for every client: the per-token rate limit would answer most with 429.
        "DLQADMIN_API_RATE_LIMIT": "0",
        **(extra_env or {}),
    })
    if options is None:
        options = ["--workers", str(args.workers), "--bind", f"{HOST}:{args.port}"]
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "dlqadmin.wsgi:application", *options],
                            cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, args.port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    stop(proc)
    raise SystemExit("gunicorn did not start; see its log")


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # our own process group only
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def client_loop(port, deadline, plan, cookie, token, results, lock, offset):
    local = []
    i = offset
    conn = None
    while time.monotonic() < deadline:
        kind, (path, auth) = plan[i % len(plan)]
        i += 1
        headers = {"Cookie": cookie} if auth == "session" else {"Authorization": f"Bearer {token}"}
        started = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            outcome = response.status
            if response.getheader("Connection", "").lower() == "close" or response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
            if conn is not None:
                conn.close()
            conn = None
        local.append((kind, outcome, time.perf_counter() - started))
    if conn is not None:
        conn.close()
    with lock:
        results.extend(local)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--port", type=int, default=7110)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dead", type=int, default=2000, help="dead tasks seed_demo writes")
    ap.add_argument("--redis", default=os.environ.get("DLQADMIN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))
    ap.add_argument("--database", default=os.environ.get("DLQADMIN_BENCH_DATABASE_URL", "postgres:///dlqadmin_bench"))
    args = ap.parse_args()
    args.secret_key = secrets.token_urlsafe(50)
    if not 1 <= args.clients <= MAX_CLIENTS or not 0 < args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--clients 1..{MAX_CLIENTS}, --seconds up to {MAX_SECONDS}")

    cookie, token, paths, r = setup(args)
    plan = list(paths.items())
    log_path = ROOT / "var" / "bench_load_gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "w") as log:
        proc = start_gunicorn(args, log)
        try:
            for kind, (path, auth) in plan:  # warm up every worker and every path
                for _ in range(args.workers * 2):
                    c = http.client.HTTPConnection(HOST, args.port, timeout=60)
                    c.request("GET", path, headers={"Cookie": cookie} if auth == "session"
                              else {"Authorization": f"Bearer {token}"})
                    status = c.getresponse().status
                    c.close()
                    if status != 200:
                        raise SystemExit(f"warm-up {kind} {path}: HTTP {status}")
            results, lock = [], threading.Lock()
            began = time.monotonic()
            deadline = began + args.seconds
            threads = [threading.Thread(target=client_loop, args=(args.port, deadline, plan, cookie, token,
                                                                  results, lock, n)) for n in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - began
        finally:
            stop(proc)
            r.flushdb()

    def line(name, rows):
        lat = sorted(x[2] for x in rows)
        errors = sum(1 for x in rows if x[1] != 200)
        return (f"{name:<12} {len(rows):>7} {errors:>6} {len(rows) / elapsed:>8.1f} "
                f"{percentile(lat, 50) * 1000:>8.0f} {percentile(lat, 95) * 1000:>8.0f} "
                f"{percentile(lat, 99) * 1000:>8.0f} {max(lat, default=0) * 1000:>8.0f}")

    print(f"{args.clients} clients, {elapsed:.1f} s, gunicorn {args.workers} workers on {HOST}:{args.port}")
    print(f"{'request':<12} {'count':>7} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}")
    by_kind = defaultdict(list)
    for row in results:
        by_kind[row[0]].append(row)
    for kind in paths:
        print(line(kind, by_kind[kind]))
    print(line("all", results))
    errors = Counter(x[1] for x in results if x[1] != 200)
    print("errors:", dict(errors) if errors else "none")
    if results:
        print(f"mean latency {statistics.mean(x[2] for x in results) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
