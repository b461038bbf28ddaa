"""The Vault tab, search, a death's detail and history, reveal, redrive, purge, bulk
operations and export: real Postgres, real Redis, the same rights and audit as the DLQ."""

import base64
import json

import pytest
from django.core.management import call_command
from django.db import connection

from dlqadmin.asynq import keys
from dlqadmin.audit.models import AuditEvent
from dlqadmin.vault import capture
from dlqadmin.vault.models import IN_ASYNQ, PURGED, REDRIVEN, TRIMMED, VaultEntry
from tests.conftest import GOLDEN, make_user, sign_in
from tests.support.asynq_archiver import Archiver

CARD = "4111111111111111"
EMAIL = "ann.secret@example.com"


@pytest.fixture
def dead(asynq_redis, clock, roles, monkeypatch):
    """Queue payments with 12 deaths; asynq's cap (here 10: it keeps 9) trimmed the first 3."""
    monkeypatch.setattr(capture, "ARCHIVE_CAP", 9)
    a = Archiver(asynq_redis, "payments", now=clock, cap=10)
    ids = []
    for n in range(12):
        task_id, _ = a.die(f"task-{n:02d}", task_type="charge" if n % 2 else "email:send",
                           payload=json.dumps({"card_number": CARD, "customer": {"id": n, "email": EMAIL}}).encode(),
                           error=f"gateway 502 for {EMAIL} attempt {n}", at=clock().timestamp() + n)
        ids.append(task_id)
        capture.capture_pass()
    capture.capture_pass()
    return a


def client_for(client, *grants, name="u"):
    return sign_in(client, make_user(name, *grants))


@pytest.mark.django_db
def test_the_pg_trgm_extension_and_indexes_exist():
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cur.fetchone()
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'vault_vaultentry'")
        names = {r[0] for r in cur.fetchall()}
    assert {"vault_error_trgm", "vault_queue_time", "vault_one_death"} <= names


def test_vault_tab_lists_masked_deaths(dead, client):
    c = client_for(client, ("viewer", ["payments"]))
    page = c.get("/queues/payments/").content.decode()
    assert 'id="vault-tab"' in page and ">vault <span class=\"count\">12<" in page
    page = c.get("/queues/payments/vault/").content.decode()
    assert page.count("data-entry=") == 12
    assert CARD not in page and EMAIL not in page
    assert "trimmed by asynq" in page and "in asynq" in page
    # Viewers have no action buttons.
    assert "vault-redrive" not in page and "vault-purge" not in page


def test_search_in_postgres_over_masked_values(dead, client):
    c = client_for(client, ("viewer", ["payments"]))

    def found(**params):
        return c.get("/queues/payments/vault/", params).content.decode().count("data-entry=")

    assert found(type="charge") == 6
    assert found(type="email", type_prefix="1") == 6
    assert found(error="attempt 1") == 3  # 1, 10, 11
    assert found(error=EMAIL) == 0  # masked for everyone: search cannot confirm it
    assert found(error="@example.com") == 12
    assert found(q="customer.id=3") == 1
    assert found(status="trimmed") == 3
    assert found(task_id="task-04") == 1
    assert found(payload=CARD) == 0
    r = c.get("/queues/payments/vault/", {"status": "bogus"})
    assert r.status_code == 400 and "status must be one of" in r.content.decode()
    r = c.get("/queues/payments/vault/", {"since": "yesterday-ish"})
    assert r.status_code == 400


def test_invisible_queue_is_404_everywhere(dead, client):
    c = client_for(client, ("viewer", ["other"]))
    e = VaultEntry.objects.first()
    assert c.get("/queues/payments/vault/").status_code == 404
    assert c.get(f"/queues/payments/vault/{e.pk}/").status_code == 404
    assert c.post("/queues/payments/vault/redrive", {"ids": [e.pk]}).status_code == 404


def test_detail_shows_history_and_reveal_follows_the_dlq_rules(dead, client, asynq_redis, clock):
    from dlqadmin.core.asynq_client import operations

    assert operations().run_task("payments", "task-11").ok
    asynq_redis.lrem(keys.pending("payments"), 0, b"task-11")
    clock.advance(seconds=30)
    dead.die("task-11", task_type="charge", error="died again", payload=json.dumps({"card_number": CARD}).encode())
    capture.capture_pass()
    first, second = VaultEntry.objects.filter(task_id="task-11").order_by("archived_score")
    viewer = client_for(client, ("viewer", ["payments"]))
    page = viewer.get(f"/queues/payments/vault/{first.pk}/").content.decode()
    assert CARD not in page and "[card" in page
    assert page.count('class="death') == 2 and "died again" not in page  # the other death's text stays there
    assert viewer.post(f"/queues/payments/vault/{first.pk}/reveal", {"reason": "customer ticket 42"}).status_code == 403

    from django.test import Client

    pv = sign_in(Client(), make_user("pv", ("payload_viewer", ["payments"])))
    assert pv.post(f"/queues/payments/vault/{second.pk}/reveal", {"reason": "short"}).status_code == 400
    assert pv.post(f"/queues/payments/vault/{second.pk}/reveal", {"reason": "customer ticket 42"}).status_code == 302
    page = pv.get(f"/queues/payments/vault/{second.pk}/").content.decode()
    assert CARD in page and "died again" in page
    # One death revealed: not the other, not the live task.
    assert CARD not in pv.get(f"/queues/payments/vault/{first.pk}/").content.decode()
    ev = AuditEvent.objects.filter(action="payload.reveal", outcome="success").get()
    assert ev.detail["vault_entry"] == second.pk and ev.detail["vault_task_id"] == "task-11"


def _pending_hash_like_golden():
    """Field names and list placement of a pending task enqueued by asynq itself."""
    snap = json.loads((GOLDEN / "mixed" / "snapshot.json").read_text())
    for k in snap:
        if k["type"] == "hash" and ":t:" in k["key"]:
            if base64.b64decode(k["value"]["state"]["b64"]) == b"pending":
                return k
    raise AssertionError("no pending task in the golden data")


def test_redrive_of_a_trimmed_task_is_asynqs_enqueue_and_live_ids_are_refused(dead, client, asynq_redis):
    c = client_for(client, ("operator", ["payments"]))
    trimmed = VaultEntry.objects.get(task_id="task-00")
    live = VaultEntry.objects.get(task_id="task-05")
    assert trimmed.status == TRIMMED and live.status == IN_ASYNQ
    assert not asynq_redis.exists(keys.task("payments", "task-00"))
    r = c.post("/queues/payments/vault/redrive", {"ids": [trimmed.pk, live.pk]}, follow=True)
    page = r.content.decode()
    assert "1 redriven" in page and "live in asynq already (it is archived)" in page
    golden = _pending_hash_like_golden()
    h = asynq_redis.hgetall(keys.task("payments", "task-00"))
    assert set(h) == {k.encode() for k in golden["value"]} == {b"msg", b"state", b"pending_since"}
    assert h[b"state"] == b"pending" and int(h[b"pending_since"]) > 10**18  # Unix nanoseconds
    from dlqadmin.vault import crypto

    assert h[b"msg"] == crypto.decrypt(trimmed.msg_encrypted)  # the original message, id and queue
    assert asynq_redis.lindex(keys.pending("payments"), 0) == b"task-00"  # LPUSH, as asynq's enqueue
    assert asynq_redis.sismember(keys.ALL_QUEUES, b"payments")
    trimmed.refresh_from_db()
    live.refresh_from_db()
    assert trimmed.status == REDRIVEN and live.status == IN_ASYNQ
    # A second redrive of the same death: now live (pending) in asynq, refused.
    r = c.post("/queues/payments/vault/redrive", {"ids": [trimmed.pk]}, follow=True)
    assert "it is pending" in r.content.decode()
    actions = list(AuditEvent.objects.filter(action="vault.redrive").order_by("seq").values_list("outcome", flat=True))
    assert actions == ["intent", "failed", "intent", "failed"]  # each run had one refusal


def test_redrive_needs_operate_and_purge_needs_admin(dead, client):
    e = VaultEntry.objects.get(task_id="task-00")
    viewer = client_for(client, ("viewer", ["payments"]))
    assert viewer.post("/queues/payments/vault/redrive", {"ids": [e.pk]}).status_code == 403
    from django.test import Client

    op = sign_in(Client(), make_user("op", ("operator", ["payments"])))
    assert op.post("/queues/payments/vault/purge", {"ids": [e.pk]}).status_code == 403
    assert AuditEvent.objects.filter(action="vault.purge", outcome="denied").count() == 1
    admin = sign_in(Client(), make_user("root", ("admin",)))
    assert admin.post("/queues/payments/vault/purge", {"ids": [e.pk]}).status_code == 302
    e.refresh_from_db()
    assert e.status == PURGED and not bytes(e.msg_encrypted) and not e.payload_masked
    page = admin.get(f"/queues/payments/vault/{e.pk}/").content.decode()
    assert "purged from the vault" in page


def test_bulk_redrive_of_matching_entries_is_a_tracked_operation(dead, client, asynq_redis):
    from dlqadmin.operations.models import Operation

    c = client_for(client, ("operator", ["payments"]))
    confirm = c.post("/queues/payments/vault/bulk", {"action": "run", "status": "trimmed"})
    assert confirm.status_code == 200 and 'class="exact-count">3<' in confirm.content.decode()
    r = c.post("/queues/payments/vault/bulk", {"action": "run", "status": "trimmed", "confirmed": "1"})
    op = Operation.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/operations/{op.pk}/"
    assert op.action == "vault_run" and op.total == 3 and op.status == Operation.QUEUED
    call_command("run_operations", "--once")
    op.refresh_from_db()
    assert (op.status, op.done, op.failed) == (Operation.DONE, 3, 0)
    assert set(VaultEntry.objects.filter(status=REDRIVEN).values_list("task_id", flat=True)) == {
        "task-00", "task-01", "task-02"}
    assert asynq_redis.llen(keys.pending("payments")) == 3
    assert list(AuditEvent.objects.filter(action="task.bulk").order_by("seq").values_list("outcome", flat=True)) == [
        "intent", "success"]


def test_export_is_masked_and_raw_needs_the_right_and_a_reason(dead, client):
    viewer = client_for(client, ("viewer", ["payments"]))
    r = viewer.get("/queues/payments/vault/export.jsonl", {"type": "charge"})
    body = b"".join(r.streaming_content).decode()
    lines = [json.loads(x) for x in body.splitlines()]
    assert len(lines) == 6 and all(x["masked"] for x in lines)
    assert CARD not in body and EMAIL not in body
    assert viewer.post("/queues/payments/vault/export-raw.jsonl", {"reason": "incident 7 review"}).status_code == 403
    from django.test import Client

    pv = sign_in(Client(), make_user("pv", ("payload_viewer", ["payments"])))
    r = pv.post("/queues/payments/vault/export-raw.jsonl", {"reason": "incident 7 review", "task_id": "task-03"})
    (line,) = [json.loads(x) for x in b"".join(r.streaming_content).decode().splitlines()]
    assert CARD in base64.b64decode(line["payload_base64"]).decode() and EMAIL in line["error"]
    outcomes = list(AuditEvent.objects.filter(action="vault.export").order_by("seq").values_list("outcome", "reason"))
    assert outcomes == [("success", ""), ("denied", "incident 7 review"), ("success", "incident 7 review")]


def test_retention_deletes_old_deaths_in_chunks_and_is_audited(dead, clock):
    from dlqadmin.policies.services import save_policy
    from dlqadmin.vault import services

    save_policy({"name": "default", "pattern": "*", "vault_retention_days": 1})
    assert services.retention_pass() == 0
    clock.advance(days=1, seconds=6)  # the first 6 deaths are now older than a day
    assert services.retention_pass() == 6
    assert VaultEntry.objects.count() == 6
    ev = AuditEvent.objects.get(action="vault.retention")
    assert ev.detail["count"] == 6 and ev.actor_name == "system"
