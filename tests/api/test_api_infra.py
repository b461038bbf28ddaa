"""API: servers, scheduler entries and their events, groups, daily history, Redis."""

import json

import pytest

from dlqadmin.asynq import keys, messages
from tests.api.test_api_read import INSPECTOR, new_token
from tests.conftest import GOLDEN, make_user
from tests.support.golden_secrets import planted_secrets
from tests.support.redis_snapshot import restore

pytestmark = pytest.mark.django_db

SERVER_KEY = b"asynq:servers:{vm:32698:5b63887a-72cf-41a8-b638-5c5d59c6d25e}"
EVERY_15S = "3a290004-6e89-4313-99ba-fef8ca317798"


@pytest.fixture
def live(golden):
    restore(golden, GOLDEN / "mixed" / "snapshot.json", with_ttl=False)  # heartbeats stay
    return golden


@pytest.fixture
def as_user(client, roles):
    def make(name, *grants):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        user = make_user(name, *grants)
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True)  # admin needs a second factor
        token = new_token(user.username)

        def get(url, **params):
            response = client.get(url, params, headers={"Authorization": f"Bearer {token}"})
            return response.status_code, response.json()

        return get

    return make


def test_servers_match_the_inspector_with_masked_payloads(as_user, live):
    status, body = as_user("all", ("viewer",))("/api/v1/servers")
    assert status == 200
    (server,) = body["servers"]
    (want,) = INSPECTOR["servers"]
    assert server["id"] == want["id"] and server["concurrency"] == want["concurrency"]
    assert {q["queue"]: q["priority"] for q in server["queues"]} == want["queues"]
    assert server["other_queues"] == 0
    assert sorted(w["task_id"] for w in server["active_workers"]) == sorted(w["task_id"] for w in want["active_workers"])
    text = json.dumps(body)
    assert not [s for s in planted_secrets() if s in text]
    for w in server["active_workers"]:
        assert w["payload"]["masked"] is True and "base64" not in w["payload"]
        assert w["task_url"].endswith(f"/tasks/{w['task_id']}/")


def test_servers_withhold_names_of_queues_not_granted(as_user, live):
    status, body = as_user("pay", ("viewer", ["payments"]))("/api/v1/servers")
    (server,) = body["servers"]
    assert server["queues"] == [{"queue": "payments", "priority": 4}] and server["other_queues"] == 4
    assert {w["queue"] for w in server["active_workers"]} == {"payments"}


def test_scheduler_entries_and_every_event(as_user, live, clock):
    get = as_user("all", ("viewer",))
    status, body = get("/api/v1/scheduler")
    assert status == 200 and body["other_entries"] == 0
    assert sorted(e["id"] for e in body["entries"]) == sorted(e["id"] for e in INSPECTOR["scheduler_entries"])
    entry = next(e for e in body["entries"] if e["id"] == EVERY_15S)
    assert entry["queue"] == "reports" and entry["events_kept"] == 1 and entry["payload"]["masked"] is True
    assert get(entry["url"])[1]["id"] == EVERY_15S
    history = keys.scheduler_history(EVERY_15S)
    for i in range(44):
        at = clock.now().replace(microsecond=0)
        live.zadd(history, {messages.encode(messages.SchedulerEnqueueEventMessage(f"ev-{i:02d}", at)):
                            at.timestamp() + i + 1})
    status, page = get(entry["events_url"], page=3, page_size=20)
    assert status == 200 and page["total"] == 45 and page["page"] == 3
    golden_event = INSPECTOR["scheduler_enqueue_events"][EVERY_15S][0]["task_id"]
    assert [e["task_id"] for e in page["events"]] == ["ev-03", "ev-02", "ev-01", "ev-00", golden_event]
    for bad in ({"page": 4, "page_size": 20}, {"page_size": 101}, {"page": "x"}, {"page": 0}):
        assert get(entry["events_url"], **bad)[0] == 400, bad
    assert get("/api/v1/scheduler/nope/events")[0] == 404


def test_scheduler_follows_the_grants(as_user, live):
    status, body = as_user("pay", ("viewer", ["payments"]))("/api/v1/scheduler")
    assert body == {"entries": [], "other_entries": 3}


def test_groups_and_history_match_the_inspector(as_user, live):
    get = as_user("all", ("viewer",))
    for queue, want in INSPECTOR["groups"].items():
        status, body = get(f"/api/v1/queues/{queue}/groups")
        assert status == 200
        assert [{"group": g["group"], "size": g["size"]} for g in body["groups"]] == want
        for g in body["groups"]:
            _, page = get(g["tasks_url"].replace("http://testserver", ""))
            assert page["total"] == g["size"]
    for queue, want in INSPECTOR["history"].items():
        status, body = get(f"/api/v1/queues/{queue}/history", days=7)
        assert status == 200
        assert body["days"] == [{"date": d["date"], "processed": d["processed"], "failed": d["failed"]} for d in want]
    assert len(get("/api/v1/queues/default/history", days=90)[1]["days"]) == 90
    for bad in ("0", "91", "x", "99999999999999999999"):
        assert get("/api/v1/queues/default/history", days=bad)[0] == 400, bad
    assert get("/api/v1/queues/nope/groups")[0] == 404


def test_redis_is_for_admins_only(as_user, live):
    status, body = as_user("boss", ("admin",))("/api/v1/redis")
    assert status == 200 and body["mode"] == "standalone" and body["version"]
    assert body["nodes"][0]["role"] == "master" and body["used_memory"] > 0
    assert as_user("all", ("viewer",))("/api/v1/redis")[0] == 403
    from dlqadmin.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="access.denied", detail__path="/api/v1/redis").exists()
