"""Edit payload, then retry: reveal right, JSON validation, compare-and-set, masked diff."""

import json

import pytest

from dlqadmin.asynq.messages import parse_task_message
from tests.conftest import sign_in
from tests.operations.conftest import ARCHIVED, Q, events, task_state
from tests.support.golden_secrets import planted_secrets

pytestmark = pytest.mark.django_db

TASK = ARCHIVED[0]
URL = f"/queues/{Q}/tasks/{TASK}/"
REASON = "customer ticket 4711: wrong amount"


def payload(r):
    return parse_task_message(r.hget(f"asynq:{{{Q}}}:t:{TASK}".encode(), b"msg")).payload


@pytest.fixture
def editor(client, cast):
    return sign_in(client, cast["editor"])


def open_editor(c):
    c.post(URL + "reveal", {"reason": "need to correct the amount"})
    response = c.get(URL + "edit")
    assert response.status_code == 200
    return response.context["text"], response.context["version"]


def test_edit_then_run_with_a_masked_diff(editor, golden):
    assert 'id="action-edit"' in editor.get(URL).content.decode()
    text, version = open_editor(editor)
    doc = json.loads(text)
    doc["amount_cents"] = 99
    response = editor.post(URL + "edit", {"payload": json.dumps(doc), "reason": REASON, "version": version},
                           follow=True)
    assert "Payload saved and task queued to run." in response.content.decode()
    assert task_state(golden, TASK) == "pending" and json.loads(payload(golden))["amount_cents"] == 99
    intent, outcome = events("task.edit_run")
    assert (intent.outcome, outcome.outcome) == ("intent", "success") and intent.reason == REASON
    diff = "\n".join(intent.detail["masked_diff"])
    assert '"amount_cents": 99' in diff and "24049" in diff
    row = json.dumps([intent.detail, outcome.detail, intent.message, intent.reason])
    leaked = [s for s in planted_secrets() if len(s) >= 6 and s in row]
    assert not leaked and "4111111111111111" not in row


def test_changed_meanwhile_nothing_is_written(editor, golden, cast):
    from django.test import Client

    text, version = open_editor(editor)
    other = sign_in(Client(), cast["admin"])
    other.post(URL + "reveal", {"reason": "need to correct the amount"})
    doc = json.loads(text)
    doc["amount_cents"] = 1
    other.post(URL + "edit", {"payload": json.dumps(doc), "reason": REASON, "version": version})
    assert json.loads(payload(golden))["amount_cents"] == 1
    doc["amount_cents"] = 2
    response = editor.post(URL + "edit", {"payload": json.dumps(doc), "reason": REASON, "version": version})
    assert response.status_code == 409 and "changed since you opened the editor" in response.content.decode()
    assert json.loads(payload(golden))["amount_cents"] == 1
    assert events("task.edit_run")[-1].outcome == "failed"


def test_invalid_json_and_missing_reason_are_refused(editor, golden):
    _, version = open_editor(editor)
    response = editor.post(URL + "edit", {"payload": "{not json", "reason": REASON, "version": version})
    assert response.status_code == 400 and "valid JSON" in response.content.decode()
    response = editor.post(URL + "edit", {"payload": "{}", "reason": "x", "version": version})
    assert response.status_code == 400
    assert task_state(golden, TASK) == "archived"


def test_edit_needs_operate_and_reveal(client, golden, cast):
    for role in ("operator", "payload_viewer"):
        sign_in(client, cast[role])
        assert client.get(URL + "edit").status_code == 403
        assert client.post(URL + "edit", {"payload": "{}", "reason": REASON}).status_code == 403
        assert 'id="action-edit"' not in client.get(URL).content.decode()
        client.logout()
    assert [e.outcome for e in events("task.edit_run")] == ["denied", "denied"]
    assert task_state(golden, TASK) == "archived"


def test_editor_needs_a_live_reveal(editor, golden):
    response = editor.get(URL + "edit")
    assert response.status_code == 302 and response["Location"] == URL


def test_api_edit(client, golden, cast):
    sign_in(client, cast["editor"])
    doc = json.loads(payload(golden))
    doc["amount_cents"] = 5
    api = f"/api/v1/queues/{Q}/tasks/{TASK}/edit"
    r = client.post(api, {"payload": doc, "reason": REASON, "version": "0" * 64}, content_type="application/json")
    assert r.status_code == 409 and r.json()["outcome"] == "changed"
    r = client.post(api, {"payload": doc, "reason": REASON}, content_type="application/json")
    assert r.status_code == 200 and r.json()["state"] == "pending"
    assert json.loads(payload(golden))["amount_cents"] == 5
    r = client.post(api, {"payload": doc, "reason": REASON}, content_type="application/json")
    assert r.status_code == 409  # no longer archived
    sign_in(client, cast["operator"])
    r = client.post(api, {"payload": doc, "reason": REASON}, content_type="application/json")
    assert r.status_code == 403
