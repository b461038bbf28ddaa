"""The read part of API v1 against the golden asynq state."""

import base64
import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from urllib.parse import urljoin

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dlqadmin.api.models import ApiToken
from tests.asynq.conftest import parse_go_time
from tests.conftest import GOLDEN

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

pytestmark = pytest.mark.django_db

INSPECTOR = json.loads((GOLDEN / "mixed" / "inspector.json").read_text())
QUEUE_FIELDS = {"queue", "url", "size", "pending", "active", "scheduled", "retry", "archived", "completed",
                "aggregating", "groups", "processed", "failed", "processed_total", "failed_total", "paused",
                "latency_seconds", "memory_usage"}
TASK_FIELDS = {"id", "queue", "url", "type", "state", "max_retry", "retried", "last_err", "last_failed_at",
               "next_process_at", "timeout_seconds", "deadline", "group", "is_orphaned", "retention_seconds",
               "completed_at", "headers", "payload", "result"}


def new_token(username):
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@pytest.fixture
def api(client, staff):
    token = new_token(staff.username)

    def get(url, **params):
        response = client.get(url, params, headers={"Authorization": f"Bearer {token}"})
        return response, (response.json() if response["Content-Type"].startswith("application/json") else None)

    return get


def test_create_api_token_prints_token_last_and_stores_only_its_hash(staff):
    raw = new_token(staff.username)
    assert raw.startswith("dlq_") and len(raw) > 40
    stored = ApiToken.objects.get(user=staff)
    assert raw not in (stored.key_hash, stored.hint) and stored.key_hash != raw
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody", stdout=StringIO())


def test_anonymous_and_bad_tokens_are_401(client, golden):
    assert client.get("/api/v1/queues").status_code == 401
    response = client.get("/api/v1/queues", headers={"Authorization": "Bearer dlq_wrong"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


def test_revoked_token_stops_working(client, staff, golden):
    raw = new_token(staff.username)
    auth = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/queues", headers=auth).status_code == 200
    call_command("revoke_api_token", raw, stdout=StringIO())
    assert client.get("/api/v1/queues", headers=auth).status_code == 401


def test_session_auth_works(staff_client, golden):
    assert staff_client.get("/api/v1/queues").status_code == 200


def _latency_at_generation(r, queue):
    oldest = r.lindex(f"asynq:{{{queue}}}:pending", -1)
    if oldest is None:
        return 0.0
    since_us = int(r.hget(f"asynq:{{{queue}}}:t:{oldest.decode()}", "pending_since")) // 1000
    pinned_us = (parse_go_time(INSPECTOR["generated_at"]) - EPOCH) // timedelta(microseconds=1)
    return round((pinned_us - since_us) / 1e6, 6)


def test_queues_match_the_inspector(api, golden):
    response, body = api("/api/v1/queues")
    assert response.status_code == 200
    queues = {q["queue"]: q for q in body["queues"]}
    assert sorted(queues) == INSPECTOR["queues"]
    for name, q in queues.items():
        assert set(q) == QUEUE_FIELDS | {"damaged", "problem"}
        assert q["damaged"] is False and q["problem"] is None
        expected = INSPECTOR["queue_info"][name]
        for field in QUEUE_FIELDS - {"url", "latency_seconds"}:
            assert q[field] == expected[field], (name, field)
        # Exact on the pinned clock: its distance to the oldest pending task's
        # pending_since (ns, we keep µs); and asynq, reading a moment later, agrees.
        assert q["latency_seconds"] == _latency_at_generation(golden, name), name
        assert abs(q["latency_seconds"] - expected["latency_seconds"]) < 0.05, name
        assert q["url"].endswith("/")
        same, one = api(q["url"])
        assert same.status_code == 200 and one["queue"] == name


def test_tasks_follow_links_and_match_the_inspector(api, golden):
    _, body = api("/api/v1/queues")
    for q in body["queues"]:
        for state in ("pending", "active", "scheduled", "retry", "archived", "completed"):
            response, page = api(urljoin(q["url"], "tasks"), state=state, page_size=100)
            assert response.status_code == 200
            expected = INSPECTOR["tasks"][q["queue"]][state]
            assert page["total"] == len(expected) and page["page"] == 1 and page["page_size"] == 100
            assert [t["id"] for t in page["tasks"]] == [t["id"] for t in expected]
            for got, want in zip(page["tasks"], expected, strict=True):
                assert TASK_FIELDS <= set(got)
                for field in ("id", "queue", "type", "state", "max_retry", "retried", "timeout_seconds",
                              "retention_seconds"):
                    assert got[field] == want[field], field
                assert got["group"] == (want["group"] or None)
                assert got["deadline"] == want["deadline"]
                if state not in ("pending", "active"):
                    assert (got["last_failed_at"] is None) == (want["last_failed_at"] is None)
                    assert (got["completed_at"] is None) == (want["completed_at"] is None)
                # Sensitive fields arrive masked, and say so, with their true size.
                payload = base64.b64decode(want["payload_b64"]) if want["payload_b64"] else None
                if payload is None:
                    assert got["payload"] is None
                else:
                    assert got["payload"]["masked"] is True and got["payload"]["size"] == len(payload)
                    assert isinstance(got["payload"]["value"], str)
                assert (got["last_err"] is None) == (not want["last_err"])
                assert (got["headers"] is None) == (want["headers"] is None)
                one_response, one = api(got["url"])
                assert one_response.status_code == 200
                # Lists carry a bounded preview of each sensitive value; the task itself more.
                sensitive = ("payload", "headers", "result", "last_err")
                plain = set(got) - set(sensitive) - {"next_process_at"}
                assert {k: one[k] for k in plain} == {k: got[k] for k in plain}
                for k in sensitive:
                    if got[k] is None:
                        assert one[k] is None
                    else:
                        assert {f: one[k][f] for f in ("masked", "kind", "size")} == {
                            f: got[k][f] for f in ("masked", "kind", "size")}


def test_aggregating_needs_a_group(api, golden):
    url = "/api/v1/queues/emails/tasks"
    response, body = api(url, state="aggregating")
    assert response.status_code == 400 and "group" in body["detail"]
    response, body = api(url, state="aggregating", group="digest:user-42")
    assert [t["id"] for t in body["tasks"]] == [
        t["id"] for t in INSPECTOR["tasks"]["emails"]["aggregating"]["digest:user-42"]]


@pytest.mark.parametrize("params, message", [
    ({"state": "dead"}, "state must be one of"),
    ({"page": "0"}, "page must be 1 or more"),
    ({"page": "x"}, "page must be a whole number"),
    ({"page_size": "101"}, "page_size must be at most 100"),
])
def test_bad_parameters_are_400(api, golden, params, message):
    response, body = api("/api/v1/queues/default/tasks", **params)
    assert response.status_code == 400 and message in body["detail"]


def test_pagination(api, golden):
    response, body = api("/api/v1/queues/default/tasks", state="archived", page_size=2, page=2)
    expected = INSPECTOR["tasks"]["default"]["archived"][2:4]
    assert [t["id"] for t in body["tasks"]] == [t["id"] for t in expected]
    assert body["total"] == 5


def test_unknown_queue_and_task_are_json_404(api, golden):
    for url in ("/api/v1/queues/nope/", "/api/v1/queues/nope/tasks", "/api/v1/queues/default/tasks/nope/"):
        response, body = api(url)
        assert response.status_code == 404 and body["error"] == "not_found"


def test_redis_unreachable_is_503(api, redis_down):
    response, body = api("/api/v1/queues")
    assert response.status_code == 503 and body["error"] == "redis_unavailable"


def test_writes_are_not_allowed_on_read_endpoints(client, staff, golden):
    raw = new_token(staff.username)
    response = client.post("/api/v1/queues", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 405


def test_openapi_schema(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"/queues", "/queues/{queue}/", "/queues/{queue}/tasks", "/queues/{queue}/tasks/{task_id}/"} <= set(
        schema["paths"])
    assert TASK_FIELDS <= set(schema["components"]["schemas"]["TaskInfo"]["properties"])
    assert QUEUE_FIELDS <= set(schema["components"]["schemas"]["QueueInfo"]["properties"])


def test_api_times_are_rfc3339_for_any_year():
    from datetime import UTC, datetime

    from dlqadmin.api.serializers import rfc3339

    assert rfc3339(datetime(2026, 12, 7, 10, 11, 12, 345678, tzinfo=UTC)) == "2026-12-07T10:11:12Z"
    assert rfc3339(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05Z"
    assert rfc3339(None) is None
