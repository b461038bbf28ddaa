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
timeout = 60
graceful_timeout = 20
