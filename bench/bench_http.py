"""HTTP speed: what a page costs through a real gunicorn, as a multiple of the bare reader call.

Starts gunicorn on 127.0.0.1 with the production settings (DEBUG off, a random SECRET_KEY,
JSON logs at WARNING) and the served configuration (`gunicorn.conf.py`, the one the README,
the Dockerfile and docker-compose.yml use), over a Redis DB of its own holding the demo
workload (`seed_demo --dead 2000`) plus a queue `bench:payments` of 10,000 dead tasks
(FLUSHDB before and after), and a Postgres database of its own (created and migrated).
`DLQADMIN_SERVER_TIMING` is on, so each response says how much CPU its request thread spent.

1. Per request, one keep-alive client, the request kinds interleaved round by round with the
   bare reader call each page is built on (`Inspector.list_tasks` / `all_queue_info` in this
   process, same Redis): median and p95 of wall time and of server CPU (the request thread's,
   from `Server-Timing`), each also as a ratio to the reader's median in the same run; the
   worker processes' whole CPU (gunicorn included, from /proc) per request; response bytes.
2. Paced: `--users` users (default 50) for `--seconds` (default 60), each pausing 0.5-1.5 s
   (mean 1 s) between requests: browsing pages and the API, and one request in ten an action
   (an operator's API `run` of one dead task). Errors, p50/p95/p99, requests/s.
3. Saturated: the same users without pauses: throughput and p50/p95/p99.
4. Each worker's RSS afterwards.

    python bench/bench_http.py [--rounds 200] [--users 50] [--seconds 60] [--port 7120]
        [--redis redis://127.0.0.1:6379/7] [--database postgres:///dlqadmin_bench_http]
        [--gzip] [--only-per-request]

`--gzip` sends `Accept-Encoding: gzip` (as browsers do). Bounded: at most 200 users and
600 seconds, loopback only. The issue sets the targets; this script measures.
"""

import argparse
import compileall
import http.client
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_load  # noqa: E402
from bench_load import HOST, percentile, stop  # noqa: E402

MAX_USERS, MAX_SECONDS = 200, 600
BIG_QUEUE = "bench:payments"  # bench_list_archived's queue name
_CPU = re.compile(r"cpu;dur=([0-9.]+)")


def seg(value):
    from dlqadmin.core.converters import encode_segment

    return quote(encode_segment(value), safe="~")


def setup(args):
    """bench_load's set-up (database, demo data, a viewer with a session and a token), plus
    10,000 dead tasks in BIG_QUEUE and an operator with a token."""
    args.dead = 2000
    cookie, viewer_token, _, r = bench_load.setup(args)
    from django.contrib.auth import get_user_model

    import bench_list_archived
    from dlqadmin.access.services import grant
    from dlqadmin.api.models import OPERATE, ApiToken

    bench_list_archived.seed(r, 10_000)
    User = get_user_model()
    operator = User.objects.filter(username="bench-operator").first() or User.objects.create_user("bench-operator")
    grant(operator, "operator", all_queues=True)
    return r, cookie, viewer_token, ApiToken.issue(operator, name="bench", scope=OPERATE)[1]


def start_gunicorn(args, log):
    # No options of ours: gunicorn.conf.py is the served configuration.
    env = {"DLQADMIN_SERVER_TIMING": "true", "GUNICORN_BIND": f"{HOST}:{args.port}"}
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    return bench_load.start_gunicorn(args, log, options=[], extra_env=env)


def worker_pids(master):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def _proc_mb(path, field):
    """A `field: <n> kB` line of a /proc file, in MB."""
    for line in Path(path).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid):
    return _proc_mb(f"/proc/{pid}/status", "VmRSS")


def pss_mb(pid):
    return _proc_mb(f"/proc/{pid}/smaps_rollup", "Pss")


class Client:
    """One keep-alive connection; reconnects only when the server closes."""

    def __init__(self, port, gzip):
        self.port, self.conn = port, None
        self.base = {"Accept-Encoding": "gzip"} if gzip else {}
        self.reconnects = 0

    def request(self, method, path, headers, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            self.reconnects += 1
        try:
            self.conn.request(method, path, body=body, headers=self.base | headers)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        return response, body

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def requests_and_readers(r, cookie, viewer_token):
    """{kind: (path, headers, reader)}: each page with the bare reader call it is built on."""
    from dlqadmin.asynq import Inspector

    ins = Inspector(r)
    demo = max((q for q in ins.queues() if q != BIG_QUEUE), key=lambda q: ins.queue_info(q).archived)
    task = ins.list_tasks(BIG_QUEUE, "archived", page=1, page_size=1).tasks[0].id
    session, token = {"Cookie": cookie}, {"Authorization": f"Bearer {viewer_token}"}
    big, small = seg(BIG_QUEUE), seg(demo)
    names = sorted(ins.queues())
    demo_names = [n for n in names if n != BIG_QUEUE]
    return demo, {
        "api page 100 (10k)": (f"/api/v1/queues/{big}/tasks?state=archived&page_size=100", token,
                               lambda: ins.list_tasks(BIG_QUEUE, "archived", page=1, page_size=100)),
        f"api page 100 ({demo})": (f"/api/v1/queues/{small}/tasks?state=archived&page_size=100", token,
                                   lambda: ins.list_tasks(demo, "archived", page=1, page_size=100)),
        "api page 20 (10k)": (f"/api/v1/queues/{big}/tasks?state=archived&page_size=20", token,
                              lambda: ins.list_tasks(BIG_QUEUE, "archived", page=1, page_size=20)),
        "api task": (f"/api/v1/queues/{big}/tasks/{seg(task)}/", token, lambda: ins.get_task(BIG_QUEUE, task)),
        "api queues (7)": ("/api/v1/queues", token,
                           lambda: ins.all_queue_info(memory_usage=True, names=names)),
        "html queue page 100": (f"/queues/{big}/?state=archived&page_size=100", session,
                                lambda: ins.list_tasks(BIG_QUEUE, "archived", page=1, page_size=100)),
        "html overview (7)": ("/", session, lambda: ins.all_queue_info(memory_usage=False, names=names)),
        "html task page": (f"/queues/{big}/tasks/{seg(task)}/", session, lambda: ins.get_task(BIG_QUEUE, task)),
        "_demo_names": demo_names,
    }


def per_request(args, proc, kinds):
    client = Client(args.port, args.gzip)
    pids = worker_pids(proc.pid)
    wall, cpu, reader, size = defaultdict(list), defaultdict(list), defaultdict(list), {}
    proc_cpu, counts = defaultdict(float), Counter()
    for kind, (path, headers, read) in kinds.items():  # warm up every worker, path and reader
        for _ in range(10):
            response, body = client.request("GET", path, headers)
            if response.status != 200:
                raise SystemExit(f"warm-up {kind} {path}: HTTP {response.status}")
            read()
    for _ in range(args.rounds):
        for kind, (path, headers, read) in kinds.items():
            t0 = time.perf_counter()
            read()
            reader[kind].append(time.perf_counter() - t0)
            c0 = cpu_seconds(pids)
            t0 = time.perf_counter()
            response, body = client.request("GET", path, headers)
            wall[kind].append(time.perf_counter() - t0)
            proc_cpu[kind] += cpu_seconds(pids) - c0
            counts[kind] += 1
            if response.status != 200:
                raise SystemExit(f"{kind} {path}: HTTP {response.status}")
            timing = _CPU.search(response.getheader("Server-Timing", ""))  # absent from older builds
            cpu[kind].append(float(timing.group(1)) / 1000 if timing else float("nan"))
            size[kind] = (len(body), response.getheader("Content-Encoding", "identity"))
    client.close()
    print(f"\nper request: {args.rounds} rounds, one keep-alive client ({client.reconnects} connection(s)), "
          f"gzip {'asked' if args.gzip else 'not asked'}; ms; x = ratio to the reader's median")
    print(f"{'request':<24} {'reader':>7} {'wall p50':>9} {'p95':>7} {'x':>6} {'cpu p50':>8} {'p95':>7} {'x':>6} "
          f"{'proc cpu':>8} {'bytes':>8}")
    for kind in kinds:
        rd = statistics.median(reader[kind]) * 1000
        w, c = sorted(wall[kind]), sorted(cpu[kind])
        wp50, cp50 = percentile(w, 50) * 1000, percentile(c, 50) * 1000
        print(f"{kind:<24} {rd:>7.2f} {wp50:>9.2f} {percentile(w, 95) * 1000:>7.2f} {wp50 / rd:>6.1f} "
              f"{cp50:>8.2f} {percentile(c, 95) * 1000:>7.2f} {cp50 / rd:>6.1f} "
              f"{proc_cpu[kind] / counts[kind] * 1000:>8.2f} {size[kind][0]:>8} {size[kind][1]}")


def user_loop(args, deadline, plan, actions, results, lock, seed, pace):
    rng = random.Random(seed)
    client = Client(args.port, args.gzip)
    local = []
    while time.monotonic() < deadline:
        if rng.random() < 0.1:
            kind, method, headers, body = "action (run)", "POST", actions["headers"], b"{}"
            with lock:
                task = actions["ids"].pop() if actions["ids"] else None
            if task is None:
                continue
            path = actions["path"].format(seg(task))
        else:
            kind, (path, headers) = rng.choice(plan)
            method, body = "GET", None
        started = time.perf_counter()
        try:
            response, _ = client.request(method, path, headers, body)
            outcome = response.status
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
        local.append((kind, outcome, time.perf_counter() - started))
        if pace:
            time.sleep(rng.uniform(0.5, 1.5))
    client.close()
    with lock:
        results.extend(local)


def _cpu_by_pid(workers):
    """{pid: (role, CPU seconds so far)} of every process: the gunicorn workers, this
    process (the load clients), Postgres and Redis (all of their processes), other."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, rest = (entry / "stat").read_text().split(" (", 1)[1].rsplit(") ", 1)
        except (OSError, ValueError, IndexError):
            continue
        fields = rest.split()
        pid = int(entry.name)
        role = ("workers" if pid in workers else "client" if pid == os.getpid() else
                "postgres" if name.startswith("postgres") else "redis" if name.startswith("redis-server") else "other")
        out[pid] = (role, (int(fields[11]) + int(fields[12])) / tick)
    return out


class CpuMeter:
    """CPU seconds per role over a run, sampled every half second so that processes
    which start or end during it (Postgres backends) are counted for what they used
    while seen (a process seen only at its end counts from its first sample)."""

    def __init__(self, workers):
        self.workers, self.first, self.last = set(workers), {}, {}
        self.first.update(_cpu_by_pid(self.workers))
        self.last.update(self.first)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.5):
            self._sample()

    def _sample(self):
        for pid, seen in _cpu_by_pid(self.workers).items():
            self.first.setdefault(pid, seen)
            self.last[pid] = seen

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._sample()
        used = Counter()
        for pid, (role, seconds) in self.last.items():
            used[role] += seconds - self.first[pid][1]
        return used


def load(args, name, plan, actions, pace, workers=()):
    results, lock = [], threading.Lock()
    meter = CpuMeter(workers)
    began = time.monotonic()
    deadline = began + args.seconds
    threads = [threading.Thread(target=user_loop, args=(args, deadline, plan, actions, results, lock, n, pace))
               for n in range(args.users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    cpu = meter.stop()
    by_kind = defaultdict(list)
    for row in results:
        by_kind[row[0]].append(row)
    print(f"\n{name}: {args.users} users, {elapsed:.1f} s")
    print(f"{'request':<18} {'count':>7} {'errors':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    ok = {"action (run)": (200, 409)}  # 409: another user ran the same task first (not expected)
    for kind, rows in sorted(by_kind.items()) + [("all", results)]:
        lat = sorted(x[2] for x in rows)
        errors = sum(1 for x in rows if x[1] not in ok.get(x[0], (200,)))
        print(f"{kind:<18} {len(rows):>7} {errors:>6} {len(rows) / elapsed:>7.1f} {percentile(lat, 50) * 1000:>8.1f} "
              f"{percentile(lat, 95) * 1000:>8.1f} {percentile(lat, 99) * 1000:>8.1f}")
    bad = Counter(x[1] for x in results if x[1] not in ok.get(x[0], (200,)))
    print("errors:", dict(bad) if bad else "none")
    # Where the machine's CPU went: on this 2-core machine the load clients run beside the
    # server, so their share is CPU the server could not have.
    print("CPU, cores busy (ms per request): " + ", ".join(
        f"{role} {cpu[role] / elapsed:.2f} ({cpu[role] / max(len(results), 1) * 1000:.2f})"
        for role in ("workers", "client", "postgres", "redis", "other")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--port", type=int, default=7120)
    ap.add_argument("--workers", type=int, default=0, help="WEB_CONCURRENCY (default: gunicorn.conf.py's)")
    ap.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip")
    ap.add_argument("--only-per-request", action="store_true")
    ap.add_argument("--redis", default=os.environ.get("DLQADMIN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))
    ap.add_argument("--database", default=os.environ.get("DLQADMIN_BENCH_DATABASE_URL",
                                                         "postgres:///dlqadmin_bench_http"))
    args = ap.parse_args()
    args.secret_key = secrets.token_urlsafe(50)
    if not 1 <= args.users <= MAX_USERS or not 0 < args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--users 1..{MAX_USERS}, --seconds up to {MAX_SECONDS}")

    r, cookie, viewer_token, operator_token = setup(args)
    demo, kinds = requests_and_readers(r, cookie, viewer_token)
    demo_names = kinds.pop("_demo_names")
    # As the image ships it (Dockerfile): the app's bytecode compiled ahead of time.
    compileall.compile_dir(ROOT / "dlqadmin", quiet=1)
    log_path = ROOT / "var" / "bench_http_gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "w") as log:
        proc = start_gunicorn(args, log)
        try:
            pids = worker_pids(proc.pid)
            print(f"gunicorn {len(pids)} workers on {HOST}:{args.port} (gunicorn.conf.py); "
                  f"RSS at start {', '.join(f'{rss_mb(p):.0f}' for p in pids)} MB")
            per_request(args, proc, kinds)
            if not args.only_per_request:
                plan = [(k, (p, h)) for k, (p, h, _) in kinds.items()]
                plan += [(f"html queue ({n})", (f"/queues/{seg(n)}/", {"Cookie": cookie})) for n in demo_names]
                plan = [(k.split(" (")[0], v) for k, v in plan]
                ids = [i.decode() for i in r.zrange(f"asynq:{{{BIG_QUEUE}}}:archived", 0, -1)]
                random.Random(1).shuffle(ids)
                actions = {"ids": ids, "path": f"/api/v1/queues/{seg(BIG_QUEUE)}/tasks/{{}}/run",
                           "headers": {"Authorization": f"Bearer {operator_token}",
                                                       "Content-Type": "application/json"}}
                load(args, "paced (~1 s between a user's requests)", plan, actions, pace=True, workers=pids)
                load(args, "saturated (no pauses)", plan, actions, pace=False, workers=pids)
            pids = worker_pids(proc.pid)
            print(f"\nworker RSS after: {', '.join(f'{rss_mb(p):.0f}' for p in pids)} MB "
                  f"(PSS, what each adds beyond the pages it shares: {', '.join(f'{pss_mb(p):.0f}' for p in pids)} MB)")
        finally:
            stop(proc)
            r.flushdb()


if __name__ == "__main__":
    main()
