"""The vault's capture loop against real Redis and Postgres, with tasks dying exactly
the way asynq's archive script makes them die (tests/support/asynq_archiver.py)."""

import hashlib
import threading
import time

import pytest
from django.core.management import call_command

from dlqadmin.asynq import keys
from dlqadmin.vault import capture, crypto
from dlqadmin.vault.models import IN_ASYNQ, LEFT, TRIMMED, VaultCursor, VaultEntry, VaultLoss
from tests.conftest import GOLDEN, ON_EVERY_REDIS
from tests.support.asynq_archiver import Archiver
from tests.support.fake_slack import fake_slack  # noqa: F401 - fixture

# Each test in one rolled-back transaction (the capture's own transactions become
# savepoints): emptying every table after a transactional test costs seconds. Only the
# test whose scheduler process must see the rows commits them.
pytestmark = pytest.mark.django_db


@pytest.fixture
def archiver(asynq_redis, clock):
    return Archiver(asynq_redis, "payments", now=clock)


def rows(queue="payments"):
    return list(VaultEntry.objects.filter(queue=queue).order_by("archived_score", "task_id"))


def test_every_death_is_captured_with_its_facts(archiver, clock):
    task_id, msg = archiver.die(payload=b'{"card_number": "4111111111111111", "to": "ann@example.com"}',
                                error="smtp to ann@example.com: 550")
    result = capture.capture_pass()
    assert result.captured == 1
    (row,) = rows()
    assert row.task_id == task_id and bytes(row.task_member) == keys.encode_name(task_id)
    assert row.task_type == "email:send" and row.retried == 3 and row.max_retry == 3
    assert row.archived_score == int(clock().timestamp()) and row.status == IN_ASYNQ
    assert row.size == len(msg) and row.sha256 == hashlib.sha256(msg).hexdigest()
    # Raw bytes only encrypted; the searchable text is masked.
    assert crypto.decrypt(row.msg_encrypted) == msg
    assert msg not in bytes(row.msg_encrypted)
    assert "ann@example.com" not in row.error_masked and "550" in row.error_masked
    assert "4111111111111111" not in row.payload_masked and "1111" in row.payload_masked
    assert row.payload_json["card_number"] != "4111111111111111"
    # A second pass finds nothing new.
    assert capture.capture_pass().captured == 0
    assert VaultCursor.objects.get(queue="payments").captured_total == 1


@ON_EVERY_REDIS
def test_equal_scores_in_chunks_and_late_arrivals_into_a_passed_second(archiver, clock, monkeypatch):
    monkeypatch.setattr("dlqadmin.asynq.vault.SCAN_COUNT", 7)
    at = clock().timestamp()
    archiver.die_many(50, at=at, prefix="m")  # all in one second: ordered by id
    assert capture.capture_pass().captured == 50
    # Same second, ids that sort before the cursor's: asynq servers a little apart.
    archiver.die_many(5, at=at, prefix="a")
    archiver.die_many(3, at=at - 1, prefix="z")
    archiver.die_many(4, at=at, prefix="n")  # after the cursor
    assert capture.capture_pass().captured == 12
    assert len(rows()) == 62
    assert capture.capture_pass().captured == 0


@ON_EVERY_REDIS
def test_the_golden_dead_tasks_are_captured_as_asynq_listed_them(golden):
    """The dead tasks real asynq wrote (restored into one Redis, or into a cluster where
    each queue lives in its own slot): every one captured, with the facts asynq's own
    Inspector reported."""
    import json

    with open(GOLDEN / "mixed" / "inspector.json", encoding="utf-8") as fh:
        want = json.load(fh)["tasks"]
    result = capture.capture_pass()
    assert result.captured == sum(len(t["archived"]) for t in want.values())
    for queue, tasks in want.items():
        got = {r.task_id: r for r in rows(queue)}
        assert set(got) == {t["id"] for t in tasks["archived"]}, queue
        for t in tasks["archived"]:
            row = got[t["id"]]
            assert (row.task_type, row.retried, row.max_retry) == (t["type"], t["retried"], t["max_retry"])
            assert row.archived_score == t["last_failed_at_unix"] and row.status == IN_ASYNQ
            assert row.damaged == ""
    assert capture.capture_pass().captured == 0


@ON_EVERY_REDIS
def test_hostile_ids_and_types_are_stored_and_redriven_exactly(archiver, asynq_redis):
    from dlqadmin.vault.services import redrive_entries

    odd = "nul\x00id \u202e:{x}*"  # NUL, a bidi control, braces and a glob character
    archiver.die(odd, task_type="type\x00with nul")
    assert capture.capture_pass().captured == 1
    (row,) = rows()
    assert bytes(row.task_member) == keys.encode_name(odd) and "\x00" not in row.task_id
    asynq_redis.delete(keys.task("payments", odd))
    asynq_redis.zrem(keys.archived("payments"), keys.encode_name(odd))
    (result,) = redrive_entries("payments", [row]).values()
    assert result.ok and asynq_redis.lindex(keys.pending("payments"), 0) == keys.encode_name(odd)


def test_run_once_command(archiver, capsys):
    archiver.die_many(3)
    call_command("run_vault", "--once")
    assert "payments: captured 3, lost 0" in capsys.readouterr().out
    assert len(rows()) == 3


@ON_EVERY_REDIS
def test_statuses_follow_asynq_and_a_task_that_dies_again_is_a_new_death(archiver, clock, asynq_redis):
    from dlqadmin.core.asynq_client import operations

    a, _ = archiver.die("task-a")
    b, _ = archiver.die("task-b")
    c, _ = archiver.die("task-c")
    capture.capture_pass()
    ops = operations()
    assert ops.run_task("payments", a).ok  # retried by someone (asynqmon, the CLI...)
    assert ops.delete_task("payments", c).ok
    clock.advance(seconds=5)
    capture.capture_pass()
    status = {r.task_id: (r.status, r.left_state) for r in rows()}
    assert status == {"task-a": (LEFT, "pending"), "task-b": (IN_ASYNQ, ""), "task-c": (LEFT, "deleted")}
    # task-a fails for good again: a second death row of the same task.
    asynq_redis.lrem(keys.pending("payments"), 0, b"task-a")
    archiver.die("task-a", error="second failure")
    capture.capture_pass()
    deaths = list(VaultEntry.objects.filter(task_id="task-a").order_by("archived_score"))
    assert [d.status for d in deaths] == [LEFT, IN_ASYNQ]
    assert "second failure" in deaths[1].error_masked


@ON_EVERY_REDIS
def test_trimmed_while_capture_runs_every_death_captured(asynq_redis, asynq_redis_url, clock, monkeypatch):
    """asynq's cap (here 500 instead of 9,999, to keep the test short) trims while a
    writer thread archives 250 tasks/s and the capture loop runs: nothing is lost."""
    monkeypatch.setattr(capture, "ARCHIVE_CAP", 499)
    total = 1500

    def write():
        from dlqadmin.asynq import connect

        w = Archiver(connect(asynq_redis_url), "payments", now=clock, cap=500)
        for k in range(0, total, 25):
            w.die_many(25, start=k, at=clock().timestamp() + k // 100)
            time.sleep(0.1)  # not Event.wait: under libfaketime that timed wait never returns

    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():
        capture.capture_pass()
    writer.join()
    capture.capture_pass()
    capture.capture_pass()
    assert VaultEntry.objects.count() == total
    assert VaultLoss.objects.count() == 0 and VaultCursor.objects.get().lost_total == 0
    in_set = {m for m in asynq_redis.zrange(keys.archived("payments"), 0, -1)}
    assert len(in_set) == 499
    for _ in range(5):  # the rolling sweep reaches every row
        capture.capture_pass()
    by_status = {r.task_id: r.status for r in VaultEntry.objects.all()}
    assert {t for t, s in by_status.items() if s == IN_ASYNQ} == {m.decode() for m in in_set}
    assert sum(1 for s in by_status.values() if s == TRIMMED) == total - 499


def test_orphans_left_by_old_asynq_trims_count_as_trimmed(asynq_redis, clock, monkeypatch):
    monkeypatch.setattr(capture, "ARCHIVE_CAP", 9)
    archiver = Archiver(asynq_redis, "payments", now=clock, cap=10, delete_trimmed=False)
    archiver.die_many(9)
    capture.capture_pass()
    clock.advance(seconds=1)
    archiver.die_many(3, prefix="later")
    capture.capture_pass()
    capture.capture_pass()
    assert VaultEntry.objects.filter(status=TRIMMED).count() == 3
    assert VaultEntry.objects.count() == 12


@ON_EVERY_REDIS
def test_trimmed_before_capture_is_counted_and_alerted(asynq_redis, clock, monkeypatch, fake_slack):  # noqa: F811
    from dlqadmin.policies.services import save_channel, save_policy

    save_channel(name="ops", kind="slack", target=fake_slack.url())
    save_policy({"name": "default", "pattern": "*", "channels": ["ops"]})
    monkeypatch.setattr(capture, "ARCHIVE_CAP", 99)
    archiver = Archiver(asynq_redis, "payments", now=clock, cap=100)
    # Capture falls behind: one small chunk, then 80 more deaths before the next pass.
    monkeypatch.setattr("dlqadmin.asynq.vault.SCAN_COUNT", 10)
    monkeypatch.setattr(capture, "CALLS_PER_TRANSACTION", 1)
    archiver.die_many(40, at=clock().timestamp())
    capture.capture_queue("payments", max_seconds=0)
    assert VaultEntry.objects.count() == 10
    assert VaultCursor.objects.get().behind == 30
    archiver.die_many(80, start=40, at=clock().timestamp() + 1)
    monkeypatch.setattr("dlqadmin.asynq.vault.SCAN_COUNT", 200)
    result = capture.capture_pass()
    # 120 died; 99 are in the set, 10 were captured: 11 were trimmed before capture.
    assert result.lost == 11
    loss = VaultLoss.objects.get()
    assert loss.count == 11 and loss.detail["exact"] is True
    assert VaultCursor.objects.get().lost_total == 11
    assert VaultEntry.objects.count() == 10 + 99
    (sent,) = fake_slack.bodies()
    assert "CRITICAL" in sent["text"] and "payments" in sent["text"]
    # More loss soon after: counted and shown, not notified again within the repeat interval.
    archiver.die_many(150, start=120, at=clock().timestamp() + 2)
    monkeypatch.setattr("dlqadmin.asynq.vault.SCAN_COUNT", 10)
    capture.capture_queue("payments", max_seconds=0)
    archiver.die_many(100, start=270, at=clock().timestamp() + 3)
    assert capture.capture_pass().lost > 0
    assert VaultLoss.objects.count() >= 2 and len(fake_slack.bodies()) == 1


def test_a_policy_can_switch_the_vault_off(archiver):
    from dlqadmin.policies.services import save_policy

    save_policy({"name": "quiet", "pattern": "payments", "vault_enabled": False})
    archiver.die_many(2)
    assert capture.capture_pass().captured == 0
    assert VaultEntry.objects.count() == 0


def test_key_rotation_reencrypts(archiver, settings):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.DLQADMIN_VAULT_KEYS = [old]
    _, msg = archiver.die()
    capture.capture_pass()
    settings.DLQADMIN_VAULT_KEYS = [new, old]
    call_command("rotate_vault_keys")
    settings.DLQADMIN_VAULT_KEYS = [new]
    assert crypto.decrypt(VaultEntry.objects.get().msg_encrypted) == msg


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_leader_captures(asynq_redis):
    """A real run_scheduler process: its leader captures, within seconds."""
    from tests.alerts.test_scheduler import Scheduler, wait_until

    leader = Scheduler("a")
    try:
        leader.wait_for("became leader", timeout=90)
        Archiver(asynq_redis, "payments").die_many(20)
        wait_until(lambda: VaultEntry.objects.filter(queue="payments").count() == 20, timeout=90,
                   what="20 captured")
        assert VaultCursor.objects.get(queue="payments").captured_total == 20
    finally:
        leader.stop()
