"""seed_demo writes asynq's exact layout: the Inspector reads every state back whole,
the counts match, and a viewer's pages show none of the planted secrets."""

import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from dlqadmin.asynq import BrokenTask, Inspector, keys, messages
from dlqadmin.demo.workload import QUEUES, has_queues, seed
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

STATES = ("pending", "active", "scheduled", "retry", "archived", "completed")
SENSITIVE_KEY = re.compile(r"pass|token|secret|card_number|authorization|api_key|dsn|database_url", re.I)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
DSN_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")
BEARER = re.compile(r"Bearer\s+([A-Za-z0-9._~+/=-]{8,})")


def _secrets_in(value, key="", found=None):
    found = set() if found is None else found
    if isinstance(value, dict):
        for k, v in value.items():
            _secrets_in(v, k, found)
    elif isinstance(value, str):
        if SENSITIVE_KEY.search(key):
            found.add(value.split(" ", 1)[-1])
        for rx in (EMAIL, DSN_PASSWORD, BEARER):
            found.update(rx.findall(value))
    return found


@pytest.fixture
def seeded(asynq_redis):
    return seed(asynq_redis, dead=300, seed=7)


def test_every_state_reads_back_whole_and_counts_match(seeded, asynq_redis):
    inspector = Inspector(asynq_redis)
    assert sorted(inspector.queues()) == sorted(q.name for q in QUEUES)
    assert seeded.total("archived") == 300
    infos = {i.queue: i for i in inspector.all_queue_info(memory_usage=False)}
    for queue in seeded.queues:
        want = seeded.counts[queue]
        info = infos[queue]
        for state in STATES:
            assert getattr(info, state) == want.get(state, 0), (queue, state)
            total, page = 0, 1
            while True:
                listing = inspector.list_tasks(queue, state, page=page, page_size=100)
                assert listing.broken == 0 and not any(isinstance(t, BrokenTask) for t in listing.tasks)
                assert all(t.state == state and t.queue == queue for t in listing.tasks)
                total += len(listing.tasks)
                if len(listing.tasks) < 100:
                    break
                page += 1
            assert total == want.get(state, 0), (queue, state)
        assert info.aggregating == want.get("aggregating", 0)
        aggregated = 0
        for group in inspector.groups(queue):
            tasks = inspector.list_tasks(queue, "aggregating", group=group.group, page_size=100).tasks
            assert all(not isinstance(t, BrokenTask) and t.group == group.group for t in tasks)
            aggregated += len(tasks)
        assert aggregated == want.get("aggregating", 0)
        assert info.processed > 0 and info.failed_total > 0
        assert info.paused == (queue == "reports")
    assert infos["billing:eu"].archived > 0  # the name with a colon works like any other


def test_archived_tasks_look_like_asynq_wrote_them(seeded, asynq_redis):
    inspector = Inspector(asynq_redis)
    listing = inspector.list_tasks("payments", "archived", page_size=50)
    errors = set()
    for task in listing.tasks:
        raw = asynq_redis.hgetall(keys.task("payments", task.id))
        assert set(raw) == {b"msg", b"state"} and raw[b"state"] == b"archived"
        msg = messages.decode_task_message(raw[b"msg"])
        score = asynq_redis.zscore(keys.archived("payments"), keys.encode_name(task.id))
        assert score == msg.last_failed_at and msg.error_msg and msg.timeout == 1800
        json.loads(task.payload)
        errors.add(task.last_err.split(":")[0])
    assert len(errors) > 5  # varied failures
    pending_id = asynq_redis.lrange(keys.pending("payments"), 0, 0)[0]
    fields = asynq_redis.hgetall(keys.task("payments", keys.decode_name(pending_id)))
    assert set(fields) == {b"msg", b"state", b"pending_since"}
    assert asynq_redis.ttl(keys.processed("payments", inspector.all_queue_info()[0].timestamp.date())) > 0


def test_command_seeds_once_with_if_empty(asynq_redis, capsys):
    call_command("seed_demo", "--dead", "60", "--if-empty")
    assert has_queues(asynq_redis)
    size = asynq_redis.dbsize()
    call_command("seed_demo", "--dead", "60", "--if-empty")
    assert asynq_redis.dbsize() == size
    assert "left as it is" in capsys.readouterr().out


def test_viewer_pages_show_no_planted_secret(seeded, asynq_redis, staff_client):
    inspector = Inspector(asynq_redis)
    for queue in ("payments", "emails", "webhooks", "billing:eu"):
        page = staff_client.get(reverse("triage:queue", args=[queue]) + "?state=archived&page_size=20")
        assert page.status_code == 200
        html = page.content.decode()
        tasks = inspector.list_tasks(queue, "archived", page_size=20).tasks
        planted = set()
        for task in tasks:
            planted |= _secrets_in(json.loads(task.payload))
            planted |= _secrets_in({"error": task.last_err})
        for task in tasks[:3]:
            detail = staff_client.get(reverse("triage:task", args=[queue, task.id]))
            assert detail.status_code == 200
            html += detail.content.decode()
        assert planted
        leaked = sorted(s for s in planted if len(s) >= 6 and s in html)
        assert not leaked, f"{queue}: {leaked[:5]}"


def test_create_demo_users_once_per_role(db, capsys):
    from django.contrib.auth import get_user_model

    call_command("create_demo_users")
    first = capsys.readouterr().out
    users = get_user_model().objects.filter(username__in=["viewer", "operator", "payload_viewer",
                                                           "policy_admin", "auditor", "admin"])
    assert users.count() == 6 and all(u.groups.exists() for u in users)
    call_command("create_demo_users")
    assert first.count("exists") == 0 and capsys.readouterr().out.count("password unchanged") == 6
