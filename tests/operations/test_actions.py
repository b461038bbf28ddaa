"""Single-task and queue actions through the UI and the API, on the golden data."""

import threading

import pytest
from django.db import connection

from dlqadmin.asynq.messages import parse_task_message
from tests.conftest import sign_in
from tests.operations.conftest import (ACTIVE, ARCHIVED, COMPLETED, OTHER_QUEUE, OTHER_TASK, PENDING, Q, RETRY,
                                       SCHEDULED, events, members, task_state)

pytestmark = pytest.mark.django_db


def task_url(task_id, queue=Q):
    return f"/queues/{queue}/tasks/{task_id}/"


def test_run_archived_task_from_the_task_page(operator_client, golden):
    task = ARCHIVED[0]
    page = operator_client.get(task_url(task)).content.decode()
    assert 'id="action-run"' in page and 'id="action-delete"' in page
    response = operator_client.post(task_url(task) + "run", {"state": "archived"}, follow=True)
    assert response.status_code == 200
    assert "Task queued to run now." in response.content.decode()
    assert task_state(golden, task) == "pending"
    assert members(golden, "pending")[0] == task  # the head of the list, as asynq does
    assert task not in members(golden, "archived")
    intent, outcome = events("task.run")
    assert (intent.outcome, outcome.outcome) == ("intent", "success")
    assert outcome.detail["intent"] == intent.seq and outcome.task_id == task and outcome.queue == Q
    assert outcome.actor_name == "o_operator"


def test_delete_and_archive(operator_client, golden):
    r = operator_client.post(task_url(ARCHIVED[1]) + "delete", {"state": "archived"})
    assert r.status_code == 302 and r["Location"] == f"/queues/{Q}/?state=archived"
    assert task_state(golden, ARCHIVED[1]) is None and ARCHIVED[1] not in members(golden, "archived")
    r = operator_client.post(task_url(PENDING[0]) + "archive", {"state": "pending"})
    assert r.status_code == 302
    assert task_state(golden, PENDING[0]) == "archived" and PENDING[0] in members(golden, "archived")
    assert PENDING[0] not in members(golden, "pending")
    for state, task in (("retry", RETRY), ("scheduled", SCHEDULED)):
        operator_client.post(task_url(task) + "archive", {"state": state})
        assert task_state(golden, task) == "archived"
    operator_client.post(task_url(COMPLETED) + "run", {"state": "completed"})
    assert task_state(golden, COMPLETED) == "pending"


def test_changed_state_is_a_message_not_an_error(operator_client, golden, cast, client):
    task = ARCHIVED[0]
    # Someone else runs it between page load and click.
    golden_before = task_state(golden, task)
    assert golden_before == "archived"
    operator_client.post(task_url(task) + "run", {"state": "archived"})
    response = operator_client.post(task_url(task) + "archive", {"state": "archived"}, follow=True)
    assert response.status_code == 200
    assert "archived task cannot be archived" in response.content.decode()
    response = operator_client.post(task_url(task) + "run", {"state": "archived"}, follow=True)
    assert response.status_code == 200
    assert "changed meanwhile (it is now pending)" in response.content.decode()
    assert task_state(golden, task) == "pending"
    # A task that is gone: back to the queue page, with a message.
    operator_client.post(task_url(ARCHIVED[1]) + "delete", {"state": "archived"})
    response = operator_client.post(task_url(ARCHIVED[1]) + "run", {"state": "archived"}, follow=True)
    assert response.status_code == 200 and "no longer exists" in response.content.decode()
    assert events("task.run")[-1].outcome == "failed"


def test_retry_fresh_resets_the_retried_count(operator_client, golden):
    task = ARCHIVED[4]  # retried 2 of 2
    assert parse_task_message(golden.hget(f"asynq:{{{Q}}}:t:{task}".encode(), b"msg")).retried == 2
    response = operator_client.post(task_url(task) + "retry-fresh", {"state": "archived"}, follow=True)
    assert "fresh retry budget" in response.content.decode()
    msg = parse_task_message(golden.hget(f"asynq:{{{Q}}}:t:{task}".encode(), b"msg"))
    assert msg.retried == 0 and msg.retry == 2 and task_state(golden, task) == "pending"
    assert events("task.retry_fresh")[-1].outcome == "success"


def test_pause_and_resume_queue(operator_client, golden):
    r = operator_client.post(f"/queues/{Q}/pause", follow=True)
    assert "Queue paused" in r.content.decode() and golden.exists(f"asynq:{{{Q}}}:paused")
    r = operator_client.post(f"/queues/{Q}/pause", follow=True)
    assert "already paused" in r.content.decode()
    r = operator_client.post(f"/queues/{Q}/resume", follow=True)
    assert "Queue resumed" in r.content.decode() and not golden.exists(f"asynq:{{{Q}}}:paused")
    assert [e.outcome for e in events("queue.pause")] == ["intent", "success", "intent", "failed"]


def test_cancel_active_task_publishes_on_the_cancel_channel(operator_client, golden):
    pubsub = golden.pubsub()
    pubsub.subscribe("asynq:cancel")
    pubsub.get_message(timeout=1)
    r = operator_client.post(task_url(ACTIVE) + "cancel", follow=True)
    assert "Cancellation sent to 1 server" in r.content.decode()
    message = pubsub.get_message(timeout=2)
    assert message and message["data"] == ACTIVE.encode()
    pubsub.close()
    r = operator_client.post(task_url(ARCHIVED[0]) + "cancel", follow=True)
    assert "not active" in r.content.decode()


def test_get_never_changes_state(operator_client, golden):
    for suffix in ("run", "delete", "archive", "retry-fresh", "cancel"):
        assert operator_client.get(task_url(ARCHIVED[0]) + suffix).status_code == 405
    assert operator_client.get(f"/queues/{Q}/pause").status_code == 405
    assert task_state(golden, ARCHIVED[0]) == "archived"


def test_viewer_gets_403_and_is_audited_other_queue_404(client, golden, cast):
    sign_in(client, cast["viewer"])
    page = client.get(task_url(ARCHIVED[0])).content.decode()
    assert 'id="task-actions"' not in page
    assert 'id="batch-form"' not in client.get(f"/queues/{Q}/").content.decode()
    assert client.post(task_url(ARCHIVED[0]) + "run", {"state": "archived"}).status_code == 403
    assert task_state(golden, ARCHIVED[0]) == "archived"
    denied = events("task.run")
    assert [e.outcome for e in denied] == ["denied"] and denied[0].actor_name == "o_viewer"
    assert client.post(task_url(OTHER_TASK, OTHER_QUEUE) + "run").status_code == 404
    assert task_state(golden, OTHER_TASK, OTHER_QUEUE) == "archived"


def test_csrf_is_required(golden, cast):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    sign_in(c, cast["operator"])
    assert c.post(task_url(ARCHIVED[0]) + "run", {"state": "archived"}).status_code == 403
    assert task_state(golden, ARCHIVED[0]) == "archived"


def test_two_operators_exactly_one_succeeds(client, golden, cast):
    from django.test import Client

    a, b = Client(), Client()
    sign_in(a, cast["operator"])
    sign_in(b, cast["operator2"])
    ra = a.post(task_url(ARCHIVED[0]) + "run", {"state": "archived"}, follow=True).content.decode()
    rb = b.post(task_url(ARCHIVED[0]) + "delete", {"state": "archived"}, follow=True).content.decode()
    assert "Task queued to run now." in ra and "changed meanwhile" in rb
    assert task_state(golden, ARCHIVED[0]) == "pending"


@pytest.mark.django_db(transaction=True)
def test_two_operators_at_the_same_moment(golden, cast):
    """Threads racing on one task through the service: exactly one DONE."""
    from django.test import RequestFactory

    from dlqadmin.access import registry
    from dlqadmin.operations import services

    queue = registry.ensure(Q)
    barrier = threading.Barrier(4)
    outcomes = []

    def act(user, op):
        request = RequestFactory().post("/")
        request.user = user
        barrier.wait()
        try:
            outcomes.append(getattr(services, f"{op}_task")(request, queue, ARCHIVED[2], "archived").outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=(cast[u], op)) for u, op in
               (("operator", "run"), ("operator2", "run"), ("operator", "delete"), ("operator2", "delete"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("done") == 1, outcomes
    assert set(outcomes) - {"done"} <= {"changed", "not_found"}


# --- API ------------------------------------------------------------------------------------

API = f"/api/v1/queues/{Q}/tasks/"


def test_api_single_actions(operator_client, golden):
    r = operator_client.post(API + ARCHIVED[0] + "/run", {}, content_type="application/json")
    assert r.status_code == 200 and r.json()["outcome"] == "done" and r.json()["state"] == "pending"
    assert task_state(golden, ARCHIVED[0]) == "pending"
    r = operator_client.post(API + ARCHIVED[0] + "/run", {"state": "archived"}, content_type="application/json")
    assert r.status_code == 409 and r.json()["error"] == "changed" and "changed meanwhile" in r.json()["message"]
    r = operator_client.post(API + ARCHIVED[1] + "/delete", {}, content_type="application/json")
    assert r.status_code == 200 and task_state(golden, ARCHIVED[1]) is None
    r = operator_client.post(API + ARCHIVED[1] + "/delete", {}, content_type="application/json")
    assert r.status_code == 404 and r.json()["outcome"] == "not_found"
    r = operator_client.post(API + PENDING[0] + "/archive", {}, content_type="application/json")
    assert r.status_code == 200 and task_state(golden, PENDING[0]) == "archived"
    r = operator_client.post(API + ARCHIVED[4] + "/retry-fresh", {}, content_type="application/json")
    assert r.status_code == 200
    assert parse_task_message(golden.hget(f"asynq:{{{Q}}}:t:{ARCHIVED[4]}".encode(), b"msg")).retried == 0
    r = operator_client.post(f"/api/v1/queues/{Q}/pause", {}, content_type="application/json")
    assert r.status_code == 200 and golden.exists(f"asynq:{{{Q}}}:paused")
    r = operator_client.post(f"/api/v1/queues/{Q}/resume", {}, content_type="application/json")
    assert r.status_code == 200 and not golden.exists(f"asynq:{{{Q}}}:paused")
    r = operator_client.post(API + ACTIVE + "/cancel", {}, content_type="application/json")
    assert r.status_code == 409 and r.json()["outcome"] == "no_server"  # no asynq server subscribed


def test_api_with_token_and_rights(client, golden, cast):
    from dlqadmin.api.models import ApiToken

    _, raw = ApiToken.issue(cast["viewer"], scope="operate")
    h = {"Authorization": f"Bearer {raw}"}
    r = client.post(API + ARCHIVED[0] + "/run", {}, content_type="application/json", headers=h)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = client.post(f"/api/v1/queues/{OTHER_QUEUE}/tasks/{OTHER_TASK}/run", {}, content_type="application/json",
                    headers=h)
    assert r.status_code == 404
    _, raw = ApiToken.issue(cast["operator"], scope="operate")
    r = client.post(API + ARCHIVED[0] + "/run", {}, content_type="application/json",
                    headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 200 and task_state(golden, ARCHIVED[0]) == "pending"
    assert client.get(API + ARCHIVED[0] + "/run", headers=h).status_code == 405


@pytest.mark.parametrize("damage", ["no msg", "not protobuf"])
def test_a_damaged_task_is_not_run_or_archived(operator_client, golden, damage):
    key = f"asynq:{{{Q}}}:t:{ARCHIVED[0]}".encode()
    if damage == "no msg":
        golden.hdel(key, b"msg")
    else:
        golden.hset(key, b"msg", b"\xff\xfe definitely not a TaskMessage")
    golden.hdel(f"asynq:{{{Q}}}:t:{RETRY}".encode(), b"msg")
    for task_id, action, state in [(ARCHIVED[0], "run", "archived"), (ARCHIVED[0], "retry-fresh", "archived"),
                                   (RETRY, "archive", "retry"), (RETRY, "run", None)]:
        r = operator_client.post(f"/api/v1/queues/{Q}/tasks/{task_id}/{action}",
                                 {"state": state} if state else {}, content_type="application/json")
        assert r.status_code == 409 and r.json()["outcome"] == "broken", (action, r.content)
        assert "damaged" in r.json()["message"]
    assert task_state(golden, ARCHIVED[0]) == "archived" and task_state(golden, RETRY) == "retry"
    assert ARCHIVED[0] in members(golden, "archived") and RETRY in members(golden, "retry")
    r = operator_client.post(f"/api/v1/queues/{Q}/batch", {"action": "run", "ids": [ARCHIVED[0], ARCHIVED[1]],
                                                           "state": "archived"}, content_type="application/json")
    assert {x["id"]: x["outcome"] for x in r.json()["results"]} == {ARCHIVED[0]: "broken", ARCHIVED[1]: "done"}
    assert task_state(golden, ARCHIVED[0]) == "archived"
    # Deleting it works, as with asynq's own DeleteTask: the way to get rid of it.
    r = operator_client.post(f"/api/v1/queues/{Q}/tasks/{ARCHIVED[0]}/delete", {}, content_type="application/json")
    assert r.status_code == 200 and task_state(golden, ARCHIVED[0]) is None


@pytest.mark.parametrize("action, method", [("run", "run_task"), ("archive", "archive_task"),
                                            ("delete", "delete_task")])
def test_an_unexpected_error_still_gives_the_intent_its_outcome(operator_client, golden, monkeypatch, action,
                                                                method):
    from dlqadmin.asynq import Operations

    def explode(self, *args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(Operations, method, explode)
    with pytest.raises(RuntimeError):
        operator_client.post(f"/api/v1/queues/{Q}/tasks/{PENDING[0]}/{action}", {},
                             content_type="application/json")
    intent, outcome = events(f"task.{action}")
    assert (intent.outcome, outcome.outcome, outcome.detail["intent"]) == ("intent", "failed", intent.seq)
    assert "RuntimeError" in outcome.message
