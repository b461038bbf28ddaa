"""gunicorn's configuration for dlqadmin (read from the working directory at start).

The Dockerfile, docker-compose.yml and the README run gunicorn with this file, and
bench/bench_http.py measures it. Threaded workers (gthread) keep connections alive
(a sync worker closes every connection after one response) and overlap the waits on
Postgres and Redis; one process per core does the Python work. Figures: bench/README.md.

Environment: GUNICORN_BIND (default 0.0.0.0:8000), WEB_CONCURRENCY (worker processes,
default 2), GUNICORN_THREADS (threads per worker, default 4). GUNICORN_CMD_ARGS overrides
any of it (gunicorn's own variable).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Idle keep-alive connections are held this long (seconds); a reverse proxy in front
# should time out its upstream connections sooner than this.
keepalive = 15
# Load the app once in the master and fork the workers from it: the workers share the
# loaded code's memory pages until they write to them (PSS per worker 71 -> 49 MB,
# RSS 85 -> 78 MB in bench/README.md). Nothing connects at import: Postgres and Redis
# connections are opened by each worker's threads on first use.
preload_app = True
timeout = 60
graceful_timeout = 20


def post_worker_init(worker):
    """Once the worker has loaded the app: fewer malloc arenas, and the app's own objects
    out of the garbage collector's way (figures: bench/README.md, bench_http.py)."""
    import ctypes
    import gc

    # glibc gives each thread its own malloc arena (up to 8 per core), and the heap
    # of each keeps growing with what its thread once held; two arenas are plenty for
    # a few threads that spend most of their time waiting on Postgres and Redis.
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: its allocator, its defaults
        pass
    # The modules, classes and URL patterns loaded at start live as long as the process:
    # moved out of the collector's generations, a collection no longer walks them.
    gc.freeze()
    # The collector keeps Python's thresholds: a finished request leaves almost no cyclic
    # garbage (core/wsgi.py), so a young collection every 700 allocations costs under 1%
    # of a request's CPU, and a rarer one only let garbage pile up (~3 MB more per worker).
