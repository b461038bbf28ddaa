"""Orphaned task hashes (asynq #847): found by a paced, resumable SCAN; captured into the
vault or deleted as tracked operations."""

from io import StringIO

import pytest
from django.core.management import call_command

from dlqadmin.asynq import keys
from dlqadmin.operations.models import Operation
from dlqadmin.vault import orphans
from dlqadmin.vault.models import TRIMMED, OrphanScan, VaultEntry
from tests.conftest import ON_EVERY_REDIS, make_user, sign_in
from tests.support.asynq_archiver import Archiver


@pytest.fixture
def old_asynq(asynq_redis, clock):
    """Queues whose trims (older asynq) left hashes behind: 5 orphans in "a*", 3 in "ab"."""
    Archiver(asynq_redis, "a*", now=clock, cap=11, delete_trimmed=False).die_many(15)
    Archiver(asynq_redis, "ab", now=clock, cap=11, delete_trimmed=False).die_many(13)
    return asynq_redis


@ON_EVERY_REDIS
def test_scan_counts_per_queue_and_glob_characters_match_only_themselves(old_asynq, db, monkeypatch):
    monkeypatch.setattr("dlqadmin.asynq.vault.ORPHAN_SCAN_COUNT", 4)  # many small steps
    out = StringIO()
    call_command("scan_vault_orphans", "--pace", "0", stdout=out)
    assert "a*: 5 orphans in 15 task keys" in out.getvalue()
    assert "ab: 3 orphans in 13 task keys" in out.getvalue()
    assert OrphanScan.objects.get(queue="a*").done


def test_a_scan_resumes_where_it_stopped(old_asynq, db, monkeypatch):
    monkeypatch.setattr("dlqadmin.asynq.vault.ORPHAN_SCAN_COUNT", 2)
    row, _ = orphans.scan_step("a*")
    assert not row.done and row.cursor != 0
    row = orphans.scan("a*", pace=0)
    assert row.done and row.orphans == 5 and row.scanned == 15


@ON_EVERY_REDIS
def test_capture_then_delete_from_the_command(old_asynq, db):
    call_command("scan_vault_orphans", "--queue", "a*", "--capture", stdout=StringIO())
    rows = VaultEntry.objects.filter(queue="a*")
    assert rows.count() == 5 and set(rows.values_list("status", flat=True)) == {TRIMMED}
    call_command("scan_vault_orphans", "--queue", "a*", "--delete", stdout=StringIO())
    left = [k for k in old_asynq.scan_iter(match=keys.task_scan_pattern("a*"))]
    assert len(left) == 10  # the tasks still in the archived set stay
    assert old_asynq.zcard(keys.archived("a*")) == 10


def test_admin_page_starts_tracked_operations(old_asynq, roles, client):
    orphans.scan("ab", pace=0)
    admin = sign_in(client, make_user("root", ("admin",)))
    page = admin.get("/vault/orphans/").content.decode()
    assert 'data-queue="ab"' in page and "Capture into the vault" in page
    r = admin.post("/vault/orphans/act", {"queue": "ab", "what": "delete"})
    op = Operation.objects.get()
    assert r.status_code == 302 and op.action == "orphan_delete" and op.total == 3
    call_command("run_operations", "--once")
    op.refresh_from_db()
    assert (op.status, op.done) == (Operation.DONE, 3)
    assert len(list(old_asynq.scan_iter(match=keys.task_scan_pattern("ab")))) == 10


def test_orphans_page_is_for_admins(old_asynq, roles, client):
    op = sign_in(client, make_user("op", ("operator",)))
    assert op.get("/vault/orphans/").status_code == 403
    assert op.post("/vault/orphans/act", {"queue": "ab", "what": "delete"}).status_code == 403
