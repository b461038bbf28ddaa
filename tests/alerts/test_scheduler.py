"""Real `run_scheduler` processes against the test database: one leader, no double
sends, and a standby that takes over when the leader is killed."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from dlqadmin.asynq import keys
from tests.conftest import DJANGO_TEST_REDIS_URL

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


class Scheduler:
    def __init__(self, name):
        db = connection.settings_dict
        env = {**os.environ,
               "DATABASE_URL": f"postgres:///{db['NAME']}",
               "ASYNQ_REDIS_URL": DJANGO_TEST_REDIS_URL,
               "DLQADMIN_WEBHOOK_ALLOWED_HOSTS": "hooks.slack.com,127.0.0.1",
               "DATABASE_CONN_MAX_AGE": "0",
               "PYTHONUNBUFFERED": "1"}
        self.name = name
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_scheduler", "--interval", "0.5", "--leader-poll", "0.5"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def said(self, text):
        return any(text in line for line in self.lines)

    def wait_for(self, text, timeout=60):
        # Generous: on a loaded machine Django's start alone can take many seconds. Only
        # hand-overs are timed (below), and those with time.monotonic() after the start.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.said(text):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name} never said {text!r}:\n" + "\n".join(self.lines[-30:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_until(predicate, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def alerting(golden, fake_slack):
    from dlqadmin.policies.services import save_channel, save_policy

    save_channel(name="ops", kind="slack", target=fake_slack.url())
    save_policy({"name": "default", "pattern": "*", "dlq_warning": 1, "dlq_critical": 1000,
                 "growth_threshold": None, "check_interval_seconds": 10, "channels": ["ops"],
                 "latency_threshold_seconds": None, "pending_threshold": None, "archive_age_warning_days": None,
                 "archive_cap_warning_percent": None, "archive_cap_critical_percent": None})
    expected = sum(1 for q in golden.smembers(keys.ALL_QUEUES) if golden.zcard(keys.archived(q.decode())) >= 1)
    assert expected >= 1
    return fake_slack, expected


@pytest.fixture
def schedulers():
    started = []

    def start(name):
        s = Scheduler(name)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def test_two_schedulers_never_double_send(alerting, schedulers):
    slack, expected = alerting
    a = schedulers("a")
    a.wait_for("became leader")
    b = schedulers("b")
    b.wait_for("started")
    wait_until(lambda: len(slack.requests) >= expected, what="the first notifications")
    time.sleep(3)  # several more rounds by the leader; the standby keeps polling
    texts = slack.texts()
    assert len(texts) == expected, texts
    assert all(n == 1 for n in Counter(texts).values())
    assert not b.said("became leader")
    from dlqadmin.alerts.models import OutboxMessage

    assert OutboxMessage.objects.filter(state="sent").count() == expected


def test_killing_the_leader_hands_over(alerting, schedulers, golden):
    slack, expected = alerting
    a = schedulers("a")
    a.wait_for("became leader")
    b = schedulers("b")
    b.wait_for("started")
    wait_until(lambda: len(slack.requests) >= expected, what="the first notifications")
    # A new queue fills its DLQ, and the leader dies.
    golden.sadd(keys.ALL_QUEUES, "late")
    # The schedulers are other processes on the real clock: stamp with the same one.
    golden.zadd(keys.archived("late"), {"t1": time.time(), "t2": time.time()})
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    killed_at = time.monotonic()
    b.wait_for("became leader", timeout=15)
    assert time.monotonic() - killed_at < 5
    wait_until(lambda: any("late" in t for t in slack.texts()), what="the new leader's notification")
    time.sleep(1.5)
    texts = slack.texts()
    assert all(n == 1 for n in Counter(texts).values()), texts
    assert len(texts) == expected + 1
