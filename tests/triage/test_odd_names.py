"""Queue names and task ids with any character asynq accepts work in every URL."""

from html import unescape
from urllib.parse import urljoin

import pytest
from django.urls import reverse

from dlqadmin.asynq import keys
from dlqadmin.asynq.messages import TaskMessage, encode_task_message

pytestmark = pytest.mark.django_db

# Any moment will do: nothing here compares it with the clock.
ARCHIVED_AT = 1_900_000_000
NAMES = ["a/b", "with space", "colon:ed:name", "ünïcødé-队列", "{braces}", "..", "per%cent", "tilde~2F"]


def archive(r, queue, task_id):
    now = ARCHIVED_AT
    msg = encode_task_message(TaskMessage(type="odd:type", payload=b'{"email": "x@example.com"}', id=task_id,
                                          queue=queue, retry=0, retried=0, error_msg="boom", timeout=1800,
                                          last_failed_at=now))
    r.sadd(keys.ALL_QUEUES, queue.encode())
    r.hset(keys.task(queue, task_id), mapping={b"msg": msg, b"state": b"archived"})
    r.zadd(keys.archived(queue), {task_id.encode(): now})


def test_pages_and_api_for_odd_names(staff_client, asynq_redis):
    for i, name in enumerate(NAMES):
        archive(asynq_redis, name, f"id/{i} {name}")
    overview = unescape(staff_client.get("/").content.decode())
    for i, name in enumerate(NAMES):
        task_id = f"id/{i} {name}"
        assert f'data-queue="{name}"' in overview
        queue_page = staff_client.get(reverse("triage:queue", args=[name]))
        assert queue_page.status_code == 200, name
        assert task_id in unescape(queue_page.content.decode())
        task_page = staff_client.get(reverse("triage:task", args=[name, task_id]))
        assert task_page.status_code == 200, (name, task_id)
        assert "x@example.com" not in unescape(task_page.content.decode())
    queues = {q["queue"]: q for q in staff_client.get("/api/v1/queues").json()["queues"]}
    for i, name in enumerate(NAMES):
        tasks = staff_client.get(urljoin(queues[name]["url"], "tasks")).json()["tasks"]
        assert [t["id"] for t in tasks] == [f"id/{i} {name}"]
        one = staff_client.get(tasks[0]["url"])
        assert one.status_code == 200 and one.json()["queue"] == name
