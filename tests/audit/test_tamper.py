"""Tamper evidence: the trigger refuses changes, and verify finds what got past it."""

import os
import subprocess
import sys
from pathlib import Path

import pgtrigger
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from dlqadmin.audit import chain, record
from dlqadmin.audit.models import AuditEvent, ChainHead
from tests.audit.conftest import TABLE, sql

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def five(db):
    return [record(f"test.{i}", queue="payments", reason=f"reason {i}", detail={"i": i}) for i in range(1, 6)]


def verify(*args):
    """(exit code, output) of verify_audit_log, run in-process."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("verify_audit_log", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


@pytest.fixture
def triggers_off():
    """What an intruder with table-owner rights does first."""
    sql(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
    yield
    sql(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")


def test_update_and_delete_are_rejected_by_the_database(five):
    for statement in (f"UPDATE {TABLE} SET reason = 'nothing happened' WHERE seq = 2",
                      f"DELETE FROM {TABLE} WHERE seq = 2"):
        with pytest.raises(DatabaseError, match="pgtrigger: Cannot"), transaction.atomic():
            sql(statement)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=3).update(outcome="failed")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.get(seq=3).delete()
    assert AuditEvent.objects.get(seq=2).reason == "reason 2"
    assert AuditEvent.objects.count() == 5


def test_the_chain_head_only_moves_forward(five):
    with pytest.raises(DatabaseError), transaction.atomic():
        ChainHead.objects.update(seq=3)
    with pytest.raises(DatabaseError), transaction.atomic():
        ChainHead.objects.all().delete()


def test_verify_counts_the_rows(five):
    code, output = verify()
    assert code == 0
    assert "5 rows verified" in output and f"Head 5:{five[-1].hash}" in output


def test_verify_on_an_empty_log(db):
    assert verify() == (0, "Audit log OK: 0 rows verified (the log is empty).\n")


def test_altered_row(five, triggers_off):
    sql(f"UPDATE {TABLE} SET reason = 'routine check' WHERE seq = 3")
    code, output = verify()
    assert code == 1
    assert "BROKEN at row #3" in output and "content does not match its hash" in output
    assert "2 rows before it verified" in output


def test_altered_row_with_pgtrigger_ignore(five):
    with pgtrigger.ignore("audit.AuditEvent:append_only_update"):
        AuditEvent.objects.filter(seq=4).update(outcome="failed")
    assert verify()[0] == 1 and "row #4" in verify()[1]


def test_altered_row_with_its_hash_recomputed_breaks_the_next_link(five, triggers_off):
    row = AuditEvent.objects.values(*chain.CHAINED_FIELDS).get(seq=2)
    row["actor_name"] = "someone-else"
    forged = chain.row_hash(row, five[0].hash)
    sql(f"UPDATE {TABLE} SET actor_name = 'someone-else', hash = %s WHERE seq = 2", [forged])
    code, output = verify()
    assert code == 1 and "BROKEN at row #3" in output and "prev_hash does not match" in output


def test_removed_row(five, triggers_off):
    sql(f"DELETE FROM {TABLE} WHERE seq = 3")
    code, output = verify()
    assert code == 1 and "BROKEN at row #4" in output and "row #3 missing" in output


def test_removed_last_rows_disagree_with_the_chain_head(five, triggers_off):
    sql(f"DELETE FROM {TABLE} WHERE seq >= 4")
    code, output = verify()
    assert code == 1 and "BROKEN at row #4" in output and "missing from the end" in output


def test_reordered_rows(five, triggers_off):
    sql(f"UPDATE {TABLE} SET seq = -1 WHERE seq = 2")
    sql(f"UPDATE {TABLE} SET seq = 2 WHERE seq = 3")
    sql(f"UPDATE {TABLE} SET seq = 3 WHERE seq = -1")
    code, output = verify()
    assert code == 1 and "BROKEN at row #2" in output


def test_rows_inserted_behind_the_apps_back(five):
    sql(f"INSERT INTO {TABLE} (seq, created_at, actor_name, action, queue, task_id, target, reason, outcome, "
        "message, request_id, ip, user_agent, detail, prev_hash, hash) "
        "SELECT 6, now(), 'x', 'x', '', '', '', '', 'success', '', '', '', '', '{}', hash, repeat('0', 64) "
        f"FROM {TABLE} WHERE seq = 5")
    code, output = verify()
    assert code == 1 and "BROKEN at row #6" in output


def test_expect_anchor_catches_a_rewritten_chain(five):
    anchor = f"3:{five[2].hash}"
    assert verify("--expect", anchor)[0] == 0
    code, output = verify("--expect", f"3:{'a' * 64}")
    assert code == 1 and "expected anchor" in output
    code, output = verify("--expect", f"9:{'a' * 64}")
    assert code == 1 and "not in the log" in output
    assert verify("--expect", "nonsense")[0] == 1


def test_after_anchor_verifies_a_log_whose_start_was_archived(five, triggers_off):
    sql(f"DELETE FROM {TABLE} WHERE seq <= 2")
    assert verify()[0] == 1  # without the anchor the missing start is reported
    code, output = verify("--after", f"2:{five[1].hash}")
    assert code == 0 and "3 rows verified (#3–#5)" in output


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_zero_then_non_zero():
    """The real process exit codes, against the test database."""
    for i in range(3):
        record("cli.test", detail={"i": i})
    env = {**os.environ, "DATABASE_URL": f"postgres:///{connection.settings_dict['NAME']}"}
    ok = subprocess.run([sys.executable, "manage.py", "verify_audit_log"], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "3 rows verified" in ok.stdout
    with pgtrigger.ignore("audit.AuditEvent:append_only_update"):
        AuditEvent.objects.filter(seq=2).update(message="edited")
    broken = subprocess.run([sys.executable, "manage.py", "verify_audit_log"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert "BROKEN at row #2" in broken.stderr
    assert settings.DATABASES["default"]["NAME"].startswith("test_")
