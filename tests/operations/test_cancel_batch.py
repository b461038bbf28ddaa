"""Cancelling active tasks: selected ones and all active ones of a queue, through the
API and the queue page; audited, operator role, a confirmation first in the UI."""

import pytest

from dlqadmin.asynq import keys
from dlqadmin.operations.models import Operation
from tests.conftest import sign_in
from tests.operations.conftest import ACTIVE, ARCHIVED, Q, events, members, task_state

pytestmark = pytest.mark.django_db
BATCH = f"/api/v1/queues/{Q}/batch"


@pytest.fixture
def listener(golden):
    """A subscriber on asynq's cancel channel, as every running asynq server has."""
    pubsub = golden.pubsub()
    pubsub.subscribe(keys.CANCEL_CHANNEL)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    yield pubsub
    pubsub.close()


def received(pubsub):
    out = []
    while (m := pubsub.get_message(timeout=0.3)) is not None:
        out.append(m["data"].decode())
    return out


def test_api_batch_cancel_publishes_active_ids_only(operator_client, golden, listener):
    body = {"action": "cancel", "ids": [ACTIVE, ARCHIVED[0], "nope"], "state": "active"}
    r = operator_client.post(BATCH, body, content_type="application/json")
    assert r.status_code == 200, r.content
    got = {x["id"]: (x["outcome"], x["state"]) for x in r.json()["results"]}
    assert got == {ACTIVE: ("done", "active"), ARCHIVED[0]: ("wrong_state", "archived"), "nope": ("not_found", None)}
    assert received(listener) == [ACTIVE]
    assert task_state(golden, ACTIVE) == "active" and members(golden, "active") == [ACTIVE]
    op = Operation.objects.get(kind=Operation.BATCH, action="cancel")
    assert (op.done, op.failed, op.status) == (1, 2, Operation.DONE)
    intent, outcome = events("task.batch")
    assert intent.outcome == "intent" and intent.detail["action"] == "cancel"
    assert outcome.outcome == "failed" and outcome.detail["done"] == 1


def test_api_batch_cancel_refusals(client, golden, cast):
    for state in ("archived", "pending"):
        r = sign_in(client, cast["operator"]).post(BATCH, {"action": "cancel", "ids": [ACTIVE], "state": state},
                                                   content_type="application/json")
        assert r.status_code == 400 and r.json()["error"] == "bad_parameter"
    r = sign_in(client, cast["viewer"]).post(BATCH, {"action": "cancel", "ids": [ACTIVE]},
                                             content_type="application/json")
    assert r.status_code == 403
    assert [e.outcome for e in events("task.batch")] == ["denied"]


def test_no_server_listening_is_not_done(operator_client, golden):
    r = operator_client.post(BATCH, {"action": "cancel", "ids": [ACTIVE]}, content_type="application/json")
    assert r.json()["results"][0]["outcome"] == "no_server" and r.json()["done"] == 0


def test_ui_cancel_selected_and_all_active_after_a_confirmation(operator_client, golden, listener):
    page = operator_client.get(f"/queues/{Q}/?state=active").content.decode()
    assert 'id="batch-cancel"' in page and 'id="cancel-all-active"' in page and 'id="bulk-form"' not in page
    url = f"/queues/{Q}/batch"
    # Selected: the confirmation names the count; nothing is sent before it.
    r = operator_client.post(url, {"action": "cancel", "state": "active", "ids": [ACTIVE]})
    assert r.status_code == 200 and "Cancel 1 selected task" in r.content.decode()
    assert received(listener) == [] and not events("task.batch")
    r = operator_client.post(url, {"action": "cancel", "state": "active", "ids": [ACTIVE], "confirmed": "1"})
    assert "1 of 1 done" in r.content.decode() and received(listener) == [ACTIVE]
    # All active: the ids are read from the active list, then confirmed the same way.
    r = operator_client.post(url, {"all_active": "1", "state": "active"})
    assert r.status_code == 200 and "Cancel 1 active task" in r.content.decode() and received(listener) == []
    assert ACTIVE in r.content.decode()
    r = operator_client.post(url, {"action": "cancel", "state": "active", "ids": [ACTIVE], "confirmed": "1"})
    assert received(listener) == [ACTIVE]
    assert [e.outcome for e in events("task.batch")] == ["intent", "success", "intent", "success"]


def test_ui_cancel_all_active_with_none_active(operator_client, golden):
    golden.delete(keys.active(Q))
    r = operator_client.post(f"/queues/{Q}/batch", {"all_active": "1", "state": "active"})
    assert r.status_code == 409 and "nothing to cancel" in r.content.decode()
