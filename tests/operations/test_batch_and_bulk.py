"""Selected tasks (per-id results) and tracked bulk operations processed by the worker."""

import pytest
from django.core.management import call_command

from dlqadmin.operations import worker
from dlqadmin.operations.models import Operation
from tests.conftest import sign_in
from tests.operations.conftest import ARCHIVED, OTHER_QUEUE, PENDING, Q, events, members, task_state

pytestmark = pytest.mark.django_db


# --- selected tasks ---------------------------------------------------------------------

def test_batch_needs_confirmation_with_the_exact_count(operator_client, golden):
    ids = ARCHIVED[:3]
    r = operator_client.post(f"/queues/{Q}/batch", {"action": "run", "state": "archived", "ids": ids})
    html = r.content.decode()
    assert r.status_code == 200 and "Retry 3 selected tasks" in html and 'name="confirmed" value="1"' in html
    assert all(task_state(golden, i) == "archived" for i in ids)  # nothing yet
    golden.delete(f"asynq:{{{Q}}}:t:{ids[2]}")  # one disappears meanwhile (stale id)
    r = operator_client.post(f"/queues/{Q}/batch", {"action": "run", "state": "archived", "ids": ids,
                                                     "confirmed": "1"}, HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert r.status_code == 200 and "2 of 3 done" in html and "not found" in html
    assert "<html" not in html  # an htmx fragment
    assert [task_state(golden, i) for i in ids[:2]] == ["pending", "pending"]
    op = Operation.objects.get()
    assert (op.status, op.total, op.done, op.failed) == ("done", 3, 2, 1)
    assert [(i.task_id, i.outcome) for i in op.items.all()] == [(ids[2], "not_found")]
    intent, outcome = events("task.batch")
    assert intent.detail["count"] == 3 and outcome.detail["done"] == 2
    assert outcome.detail["not_done"] == [f"{ids[2]} not_found"]


def test_batch_select_all_on_page_and_changed_state(operator_client, golden):
    operator_client.post(f"/queues/{Q}/tasks/{ARCHIVED[0]}/run", {"state": "archived"})  # someone else
    r = operator_client.post(f"/queues/{Q}/batch", {"action": "delete", "state": "archived", "all_page": "1",
                                                     "page_ids": ARCHIVED, "confirmed": "1"})
    html = r.content.decode()
    assert "4 of 5 done" in html and "changed state meanwhile" in html
    assert members(golden, "archived") == [] and task_state(golden, ARCHIVED[0]) == "pending"


def test_api_batch_per_id_results(operator_client, golden):
    body = {"action": "archive", "ids": [PENDING[0], PENDING[1], "nope", ARCHIVED[0]]}
    r = operator_client.post(f"/api/v1/queues/{Q}/batch", body, content_type="application/json")
    assert r.status_code == 200
    got = {x["id"]: x["outcome"] for x in r.json()["results"]}
    assert got == {PENDING[0]: "done", PENDING[1]: "done", "nope": "not_found", ARCHIVED[0]: "wrong_state"}
    assert r.json()["done"] == 2 and r.json()["failed"] == 2
    op = operator_client.get(r.json()["operation"]).json()
    assert {f["id"] for f in op["failures"]} == {"nope", ARCHIVED[0]}
    r = operator_client.post(f"/api/v1/queues/{Q}/batch", {"action": "zap", "ids": ["x"]},
                             content_type="application/json")
    assert r.status_code == 400
    r = operator_client.post(f"/api/v1/queues/{Q}/batch", {"action": "run", "ids": []},
                             content_type="application/json")
    assert r.status_code == 400


# --- bulk ------------------------------------------------------------------------------------

def start(client, **body):
    r = client.post(f"/api/v1/queues/{Q}/bulk", body, content_type="application/json")
    assert r.status_code == 202, r.content
    return r.json()


def test_bulk_redrive_processed_by_run_operations(operator_client, golden):
    op = start(operator_client, action="run", state="archived")
    assert op["status"] == "queued" and op["total"] == 5 and op["url"].endswith(f"/api/v1/operations/{op['id']}/")
    assert members(golden, "archived") == ARCHIVED  # nothing until the worker runs
    call_command("run_operations", "--once")
    got = operator_client.get(op["url"]).json()
    assert (got["status"], got["total"], got["done"], got["failed"]) == ("done", 5, 5, 0)
    assert members(golden, "archived") == [] and all(task_state(golden, i) == "pending" for i in ARCHIVED)
    intent, outcome = events("task.bulk")
    assert intent.outcome == "intent" and outcome.outcome == "success"
    assert outcome.detail["done"] == 5 and outcome.detail["intent"] == intent.seq
    assert outcome.actor_name == "o_operator"
    # The UI page shows the finished progress bar.
    html = operator_client.get(f"/operations/{op['id']}/").content.decode()
    assert '<progress id="op-bar" max="5" value="5">' in html and 'data-status="done"' in html


def test_bulk_with_a_search_filter(operator_client, golden):
    op = start(operator_client, action="delete", state="archived", filter={"type": "payment:refund"})
    assert op["total"] == 2 and op["filter"] == {"type": "payment:refund"}
    call_command("run_operations", "--once")
    assert Operation.objects.get(pk=op["id"]).status == "done"
    assert set(members(golden, "archived")) == {ARCHIVED[0], ARCHIVED[1], ARCHIVED[4]}


def test_bulk_rate_limit_chunks_and_sleeps(operator_client, golden):
    op = start(operator_client, action="run", state="archived", rate=2)
    row = Operation.objects.get(pk=op["id"])
    claimed = worker.claim("w1")
    sleeps, progress = [], []
    now = [0.0]

    def sleep(s):
        sleeps.append(s)
        progress.append(Operation.objects.get(pk=row.pk).done)
        now[0] += s

    status = worker.process(claimed, "w1", sleep=sleep, clock=lambda: now[0])
    assert status == "done"
    # 5 tasks at 2/s: chunks of 2, and the worker waited ~2.5 s in total between them.
    assert sum(sleeps) == pytest.approx(2.5) and progress[0] == 2
    assert Operation.objects.get(pk=row.pk).done == 5


def test_bulk_pause_resume_and_cancel(operator_client, golden):
    op = start(operator_client, action="run", state="archived", rate=1)
    pk = op["id"]
    claimed = worker.claim("w1")

    def sleep_and_pause(s):
        Operation.objects.filter(pk=pk).update(status="paused")  # a user clicks Pause meanwhile

    status = worker.process(claimed, "w1", sleep=sleep_and_pause, clock=lambda: 0.0)
    row = Operation.objects.get(pk=pk)
    assert status == "paused" and row.done == 1 and row.lease_owner == "" and members(golden, "archived") == ARCHIVED[1:]
    assert worker.claim("w2") is None  # a paused operation is not claimed
    r = operator_client.post(f"/operations/{pk}/resume", follow=True)
    assert "Operation resumed" in r.content.decode() and Operation.objects.get(pk=pk).status == "queued"
    claimed = worker.claim("w2")
    assert claimed.attempts == 2
    # Cancel from the API while the worker is between chunks.

    def sleep_and_cancel(s):
        operator_client.post(f"/api/v1/operations/{pk}/cancel")

    status = worker.process(claimed, "w2", sleep=sleep_and_cancel, clock=lambda: 0.0)
    row = Operation.objects.get(pk=pk)
    assert status == "cancelled" and row.done == 2 and row.finished_at and len(members(golden, "archived")) == 3
    outcome = events("task.bulk")[-1]
    assert outcome.outcome == "failed" and outcome.detail["status"] == "cancelled" and outcome.detail["done"] == 2
    r = operator_client.post(f"/api/v1/operations/{pk}/cancel")
    assert r.status_code == 409
    assert [e.action for e in events() if e.action.startswith("operation.")] == [
        "operation.resume", "operation.cancel"]


def test_cancel_a_queued_operation(operator_client, golden):
    op = start(operator_client, action="run", state="archived")
    r = operator_client.post(f"/operations/{op['id']}/cancel", follow=True)
    assert "Operation cancelled" in r.content.decode()
    call_command("run_operations", "--once")
    assert members(golden, "archived") == ARCHIVED
    assert Operation.objects.get(pk=op["id"]).status == "cancelled"
    assert events("task.bulk")[-1].detail["status"] == "cancelled"


def test_worker_death_resumes_after_lease_expiry(operator_client, golden, clock):
    """A worker dies after two chunks (no more heartbeats): the next one takes over
    once the lease expires and finishes; no task is lost or half-moved."""
    op = start(operator_client, action="delete", state="archived", filter={"type": "payment:charge"}, rate=1)
    pk = op["id"]
    claimed = worker.claim("dying")

    class Died(BaseException):
        pass

    calls, now = [], [0.0]

    def sleep_then_die(s):
        calls.append(s)
        now[0] += s
        if len(calls) == 2:
            raise Died()  # the process is killed: no clean-up runs

    with pytest.raises(Died):
        worker.process(claimed, "dying", sleep=sleep_then_die, clock=lambda: now[0])
    row = Operation.objects.get(pk=pk)
    assert (row.status, row.done, row.position, row.lease_owner) == ("running", 2, 2, "dying")
    assert worker.claim("next") is None  # lease still live
    clock.advance(seconds=worker.LEASE_SECONDS + 1)  # the dead worker's lease runs out
    call_command("run_operations", "--once")
    row = Operation.objects.get(pk=pk)
    assert (row.status, row.total, row.done, row.failed, row.attempts) == ("done", 3, 3, 0, 2)
    assert set(members(golden, "archived")) == {ARCHIVED[2], ARCHIVED[3]}  # the refunds stay
    assert "Resumed" in operator_client.get(f"/operations/{pk}/").content.decode()


def test_bulk_confirmation_in_the_ui_and_discard_all_needs_the_queue_name(operator_client, golden):
    r = operator_client.post(f"/queues/{Q}/bulk", {"action": "delete", "state": "archived"})
    html = r.content.decode()
    assert r.status_code == 200 and '<span class="exact-count">5</span>' in html and 'name="confirm_name"' in html
    r = operator_client.post(f"/queues/{Q}/bulk", {"action": "delete", "state": "archived", "confirmed": "1",
                                                    "confirm_name": "payment"})
    assert r.status_code == 400 and "Type the queue name" in r.content.decode()
    assert not Operation.objects.exists()
    r = operator_client.post(f"/queues/{Q}/bulk", {"action": "delete", "state": "archived", "confirmed": "1",
                                                    "confirm_name": Q, "rate": "50"})
    op = Operation.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/operations/{op.pk}/" and op.rate == 50
    call_command("run_operations", "--once")
    assert members(golden, "archived") == []
    # Retry all: no name to type, but the exact count.
    r = operator_client.post(f"/queues/{Q}/bulk", {"action": "run", "state": "pending"})
    assert r.status_code == 400  # run all of pending is not a thing


def test_bulk_rights(client, golden, cast):
    sign_in(client, cast["viewer"])
    r = client.post(f"/api/v1/queues/{Q}/bulk", {"action": "run", "state": "archived"},
                    content_type="application/json")
    assert r.status_code == 403 and events("task.bulk")[0].outcome == "denied"
    assert client.post(f"/queues/{Q}/bulk", {"action": "run", "state": "archived"}).status_code == 403
    r = client.post(f"/api/v1/queues/{OTHER_QUEUE}/bulk", {"action": "run", "state": "archived"},
                    content_type="application/json")
    assert r.status_code == 404
    # An operation on a queue the user cannot see is 404; on a visible one without operate, cancel is 403.
    other = Operation.objects.create(action="run", queue=OTHER_QUEUE, state="archived")
    mine = Operation.objects.create(action="run", queue=Q, state="archived")
    assert client.get(f"/api/v1/operations/{other.pk}/").status_code == 404
    assert client.get(f"/operations/{other.pk}/").status_code == 404
    assert client.get(f"/api/v1/operations/{mine.pk}/").status_code == 200
    assert client.post(f"/api/v1/operations/{mine.pk}/cancel").status_code == 403
    assert client.post(f"/operations/{mine.pk}/cancel").status_code == 403
    assert Operation.objects.get(pk=mine.pk).status == "queued"


# --- damaged or impossible batch requests -----------------------------------------------------

def _batch_intents_have_outcomes():
    batch_events = events("task.batch")
    intents = {e.seq for e in batch_events if e.outcome == "intent"}
    return intents == {e.detail.get("intent") for e in batch_events if e.outcome != "intent"}


@pytest.mark.parametrize("body, message", [
    ({"action": "run", "state": "archived", "ids": [ARCHIVED[0], "Z" * 1001]}, "longer than 1000"),
    ({"action": "run", "state": {}, "ids": [ARCHIVED[0]]}, "state must be"),
    ({"action": "run", "state": "pending", "ids": [ARCHIVED[0]]}, "cannot be run"),
    ({"action": ["run"], "ids": [ARCHIVED[0]]}, "action must be"),
    ({"action": "run", "ids": [ARCHIVED[0], 7]}, "list of strings"),
    ({"action": "run", "ids": [f"id-{i}" for i in range(1001)]}, "At most 1000"),
])
def test_a_batch_is_validated_whole_before_anything_changes(operator_client, golden, body, message):
    r = operator_client.post(f"/api/v1/queues/{Q}/batch", body, content_type="application/json")
    assert r.status_code == 400 and message in r.json()["detail"], r.content
    assert members(golden, "archived") == ARCHIVED and task_state(golden, ARCHIVED[0]) == "archived"
    assert not Operation.objects.exists() and events("task.batch") == []


def test_the_ui_batch_refuses_an_impossible_id_at_confirmation(operator_client, golden):
    for confirmed in ("", "1"):
        r = operator_client.post(f"/queues/{Q}/batch", {"action": "run", "state": "archived",
                                                         "ids": [ARCHIVED[0], "Z" * 1001], "confirmed": confirmed})
        assert r.status_code == 400 and "longer than 1000" in r.content.decode()
    assert task_state(golden, ARCHIVED[0]) == "archived" and not Operation.objects.exists()


def test_a_failing_batch_ends_failed_audited_and_is_never_claimed(operator_client, golden, monkeypatch):
    from dlqadmin.asynq import Operations

    def explode(self, *args, **kwargs):
        raise RuntimeError("boom in the middle of the batch")

    monkeypatch.setattr(Operations, "run_tasks", explode)
    with pytest.raises(RuntimeError):
        operator_client.post(f"/api/v1/queues/{Q}/batch", {"action": "run", "state": "archived", "ids": ARCHIVED[:2]},
                             content_type="application/json")
    op = Operation.objects.get()
    assert (op.kind, op.status) == ("batch", "failed") and "boom" in op.last_error
    intent, outcome = events("task.batch")
    assert (intent.outcome, outcome.outcome, outcome.detail["intent"]) == ("intent", "failed", intent.seq)
    # The scheduler's operations job never takes a batch for a bulk operation.
    assert worker.claim("w1") is None
    call_command("run_operations", "--once")
    assert events("task.bulk") == [] and Operation.objects.get().status == "failed"
    assert _batch_intents_have_outcomes()


def test_a_batch_left_running_is_not_claimed(golden, cast):
    Operation.objects.create(kind="batch", action="run", queue=Q, state="archived", ids=ARCHIVED[:1], total=1,
                             status="running")
    assert worker.claim("w1") is None
    call_command("run_operations", "--once")
    assert task_state(golden, ARCHIVED[0]) == "archived"


def test_every_batch_records_its_outcome(operator_client, golden):
    operator_client.post(f"/api/v1/queues/{Q}/batch", {"action": "delete", "ids": [ARCHIVED[0], "nope"]},
                         content_type="application/json")
    operator_client.post(f"/queues/{Q}/batch", {"action": "run", "state": "archived", "ids": ARCHIVED[1:3],
                                                 "confirmed": "1"})
    assert len(events("task.batch")) == 4 and _batch_intents_have_outcomes()
    assert set(Operation.objects.values_list("kind", flat=True)) == {"batch"}


def test_a_finished_operation_shows_no_stale_error(operator_client, golden, settings):
    """Redis was unreachable on the first pass (the error is shown while it retries);
    once the operation finishes, its page and the API no longer show that error."""
    op = start(operator_client, action="run", state="archived")
    good = settings.ASYNQ_REDIS_URL
    settings.ASYNQ_REDIS_URL = "redis://127.0.0.1:1/0"
    call_command("run_operations", "--once")
    row = Operation.objects.get(pk=op["id"])
    assert row.status == "running" and row.last_error
    settings.ASYNQ_REDIS_URL = good
    Operation.objects.filter(pk=row.pk).update(lease_expires=None)
    call_command("run_operations", "--once")
    got = operator_client.get(op["url"]).json()
    assert (got["status"], got["done"], got["last_error"]) == ("done", 5, None)
    assert "Last error" not in operator_client.get(f"/operations/{op['id']}/").content.decode()
