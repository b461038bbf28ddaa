"""The vault's API and metrics: same rights, masking and audit as the pages."""

import json

import pytest
from django.core.management import call_command

from dlqadmin.asynq import keys
from dlqadmin.core.metrics import DLQADMIN_COLLECTOR
from dlqadmin.vault import capture
from dlqadmin.vault.models import REDRIVEN, VaultEntry
from tests.conftest import make_user
from tests.support.asynq_archiver import Archiver

CARD = "4111111111111111"


@pytest.fixture
def dead(asynq_redis, clock, roles, monkeypatch):
    monkeypatch.setattr(capture, "ARCHIVE_CAP", 4)
    a = Archiver(asynq_redis, "payments", now=clock, cap=5)  # keeps 4
    for n in range(6):
        a.die(f"task-{n}", task_type="charge", payload=json.dumps({"card_number": CARD, "n": n}).encode(),
              error=f"declined {n}", at=clock().timestamp() + n)
        capture.capture_pass()
    capture.capture_pass()
    return a


def token_client(client, *grants, name="api"):
    from dlqadmin.api.models import ApiToken

    user = make_user(name, *grants)
    _, raw = ApiToken.issue(user, "test", scope="admin" if ("admin",) in grants else "operate")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    return client


def test_list_entry_and_history(dead, client):
    c = token_client(client, ("viewer", ["payments"]))
    r = c.get("/api/v1/queues/payments/vault", {"limit": 4})
    body = r.json()
    assert r.status_code == 200 and body["total"] == 6 and len(body["entries"]) == 4
    assert CARD not in r.content.decode()
    assert body["summary"]["captured"] == 6 and body["summary"]["lost"] == 0
    assert body["summary"]["by_status"]["trimmed"] == 2
    nxt = c.get(body["next"]).json()
    assert [e["task_id"] for e in nxt["entries"]] == ["task-1", "task-0"] and nxt["next"] is None
    first = body["entries"][0]
    assert first["url"].endswith(f"/api/v1/queues/payments/vault/{first['id']}/")
    one = c.get(first["url"]).json()
    assert one["task"]["payload"]["masked"] is True and CARD not in json.dumps(one)
    assert [h["id"] for h in one["history"]] == [first["id"]]
    assert c.get("/api/v1/queues/payments/vault", {"status": "nope"}).status_code == 400
    assert c.get("/api/v1/queues/payments/vault", {"error": "declined 3"}).json()["total"] == 1
    assert c.get("/api/v1/queues/payments/vault/999999/").status_code == 404


def test_run_redrives_and_refuses_live_ids(dead, client, asynq_redis):
    c = token_client(client, ("operator", ["payments"]))
    trimmed = VaultEntry.objects.get(task_id="task-0")
    live = VaultEntry.objects.get(task_id="task-5")
    r = c.post(f"/api/v1/queues/payments/vault/{trimmed.pk}/run")
    assert r.status_code == 200 and r.json()["outcome"] == "done" and r.json()["entry"]["status"] == REDRIVEN
    assert asynq_redis.lindex(keys.pending("payments"), 0) == b"task-0"
    r = c.post(f"/api/v1/queues/payments/vault/{live.pk}/run")
    assert r.status_code == 409 and r.json()["error"] == "live" and r.json()["state"] == "archived"


def test_viewer_may_not_run_and_bulk_purge_needs_admin(dead, client):
    c = token_client(client, ("operator", ["payments"]))
    e = VaultEntry.objects.get(task_id="task-0")
    r = c.post("/api/v1/queues/payments/vault/bulk", {"action": "purge", "filter": {"status": "trimmed"}},
               content_type="application/json")
    assert r.status_code == 403
    from django.test import Client

    v = token_client(Client(), ("viewer", ["payments"]), name="v")
    assert v.post(f"/api/v1/queues/payments/vault/{e.pk}/run").status_code == 403


def test_bulk_run_is_an_operation(dead, client):
    c = token_client(client, ("operator", ["payments"]))
    r = c.post("/api/v1/queues/payments/vault/bulk", {"action": "run", "filter": {"status": "trimmed"}},
               content_type="application/json")
    assert r.status_code == 202
    op = r.json()
    assert op["action"] == "vault_run" and op["total"] == 2 and r["Location"] == op["url"]
    call_command("run_operations", "--once")
    done = c.get(op["url"]).json()
    assert (done["status"], done["done"], done["failed"]) == ("done", 2, 0)
    r = c.post("/api/v1/queues/payments/vault/bulk", {"action": "fly"}, content_type="application/json")
    assert r.status_code == 400
    r = c.post("/api/v1/queues/payments/vault/bulk", {"action": "run", "filter": {"since": "soon"}},
               content_type="application/json")
    assert r.status_code == 400


def test_openapi_documents_the_vault(client):
    doc = client.get("/api/v1/openapi.json").json()
    for path in ("/queues/{queue}/vault", "/queues/{queue}/vault/{pk}/", "/queues/{queue}/vault/{pk}/run",
                 "/queues/{queue}/vault/bulk"):
        assert path in doc["paths"]
    assert "VaultEntry" in doc["components"]["schemas"]


def test_metrics(dead, client, settings):
    settings.DLQADMIN_METRICS_TOKEN = "t0ken"
    DLQADMIN_COLLECTOR.clear()
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").content.decode()
    assert 'dlqadmin_vault_captured_total{queue="payments"} 6.0' in text
    assert 'dlqadmin_vault_lost_total{queue="payments"} 0.0' in text
    assert 'dlqadmin_vault_lag_seconds{queue="payments"} 0.0' in text
    assert 'dlqadmin_vault_rows{queue="payments",status="trimmed"} 2.0' in text
    assert 'dlqadmin_vault_rows{queue="payments",status="in_asynq"} 4.0' in text
