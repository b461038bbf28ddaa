"""Two real web processes (manage.py runserver) on one database and one Redis, acted
through alternately: what one process did, the other knows (nothing correct lives in
process memory), and the failure-reason cache is one cache, in Postgres."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from dlqadmin.api.models import ApiToken
from tests.conftest import DJANGO_TEST_REDIS_URL, GOLDEN, PORT_BASE, make_user
from tests.support.redis_snapshot import restore

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
PORTS = (PORT_BASE + 60, PORT_BASE + 61)
Q = "payments"
ARCHIVED = ["15303193-7c55-5fd5-9213-8771deaccdac", "79c74fa0-387e-5d04-83e0-aef15939c31e"]


@pytest.fixture
def web_processes(asynq_redis):
    env = {**os.environ, "DATABASE_URL": f"postgres:///{connection.settings_dict['NAME']}",
           "ASYNQ_REDIS_URL": DJANGO_TEST_REDIS_URL, "DATABASE_CONN_MAX_AGE": "0",
           "DLQADMIN_REQUIRE_MFA": "false", "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload",
                               "--skip-checks"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for port in PORTS]
    try:
        for port in PORTS:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        yield [f"http://127.0.0.1:{port}" for port in PORTS]
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


def call(base, token, method, path, body=None):
    request = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_acting_through_two_web_processes_alternately(roles, asynq_redis, web_processes):
    restore(asynq_redis, GOLDEN / "mixed" / "snapshot.json", with_ttl=False)
    user = make_user("two_web", ("operator",))
    _, token = ApiToken.issue(user, name="two processes", scope="operate")
    one, two = web_processes
    task = f"/api/v1/queues/{Q}/tasks/"
    # A task retried through one process is changed for the other.
    assert call(one, token, "POST", f"{task}{ARCHIVED[0]}/run", {"state": "archived"})[0] == 200
    status, body = call(two, token, "POST", f"{task}{ARCHIVED[0]}/run", {"state": "archived"})
    assert status == 409, body
    assert call(two, token, "GET", f"{task}{ARCHIVED[0]}/")[1]["state"] == "pending"
    # Pause through two, resume through one.
    assert call(two, token, "POST", f"/api/v1/queues/{Q}/pause")[0] == 200
    assert call(one, token, "GET", f"/api/v1/queues/{Q}/")[1]["paused"] is True
    assert call(one, token, "POST", f"/api/v1/queues/{Q}/resume")[0] == 200
    assert call(two, token, "GET", f"/api/v1/queues/{Q}/")[1]["paused"] is False
    # A bulk operation started through one is seen and cancelled through the other.
    status, op = call(one, token, "POST", f"/api/v1/queues/{Q}/bulk", {"action": "run", "state": "archived"})
    assert status == 202
    path = f"/api/v1/operations/{op['id']}/"
    assert call(two, token, "GET", path)[1]["status"] == "queued"
    assert call(two, token, "POST", path + "cancel")[0] == 200
    assert call(one, token, "GET", path)[1]["status"] == "cancelled"
    # The failure reasons one process computed are the ones the other serves: one cache.
    first = call(one, token, "GET", f"/api/v1/queues/{Q}/failures")
    assert first[0] == 200 and first[1]["groups"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM dlqadmin_cache")
        assert cursor.fetchone()[0] >= 1
    second = call(two, token, "GET", f"/api/v1/queues/{Q}/failures")
    # (links are absolute, each with the host it was asked through)
    assert json.dumps(second).replace(two, one) == json.dumps(first)
    # The audit trail has both processes' actions, in one unbroken chain.
    from django.core.management import call_command

    call_command("verify_audit_log")
