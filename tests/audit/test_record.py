"""record(): what a row holds, what it never holds, and how rows chain."""

import json
from datetime import timedelta

import pytest
from django.test import RequestFactory

from dlqadmin.audit import AuditWriteError, record
from dlqadmin.audit import chain
from dlqadmin.audit.models import AuditEvent, ChainHead
from dlqadmin.audit.sanitize import REDACTED, clean_detail
from dlqadmin.audit.verify import verify_database
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _request(user=None, **meta):
    meta = {"HTTP_USER_AGENT": "Mozilla/5.0 (audit test)", "REMOTE_ADDR": "203.0.113.9", **meta}
    request = RequestFactory().post("/somewhere/", **meta)
    request.request_id = "req-abc-123"
    if user is not None:
        request.user = user
    return request


def test_a_row_holds_who_what_when_where_and_why(roles):
    alice = make_user("alice")
    event = record("task.retry", request=_request(alice), queue="payments", task_id="t-1", target="task",
                   reason="customer asked", outcome="intent", message="about to retry", detail={"n": 1})
    row = AuditEvent.objects.get(seq=event.seq)
    assert (row.actor_id, row.actor_name) == (alice.pk, "alice")
    assert (row.action, row.queue, row.task_id, row.target) == ("task.retry", "payments", "t-1", "task")
    assert (row.reason, row.outcome, row.message) == ("customer asked", "intent", "about to retry")
    assert (row.request_id, row.ip, row.user_agent) == ("req-abc-123", "203.0.113.9", "Mozilla/5.0 (audit test)")
    assert row.detail == {"n": 1}
    assert row.created_at.utcoffset() == timedelta(0)


def test_actor_name_is_frozen_at_the_time(roles):
    bob = make_user("bob")
    event = record("x.y", actor=bob)
    bob.username = "robert"
    bob.save()
    bob.delete()  # neither a rename nor a deletion touches the row
    row = AuditEvent.objects.get(seq=event.seq)
    assert (row.actor_id, row.actor_name) == (event.actor_id, "bob")


def test_system_and_anonymous_actors(db):
    from django.contrib.auth.models import AnonymousUser

    assert record("scheduler.tick").actor_name == "system"
    assert record("x", request=_request(AnonymousUser())).actor_name == "anonymous"


def test_user_agent_is_truncated(db):
    event = record("x", request=_request(HTTP_USER_AGENT="A" * 5000))
    assert len(AuditEvent.objects.get(seq=event.seq).user_agent) == 512


def test_outcome_must_be_known(db):
    with pytest.raises(ValueError):
        record("x", outcome="maybe")


def test_secrets_and_payloads_never_enter_a_row(db):
    detail = {
        "password": "hunter2hunter2", "api_token": "dlq_supersecret", "Authorization": "Bearer abc",
        "client_secret": "s3", "sessionid": "sess", "otp": "123456",
        "payload": b'{"card":"4111111111111111"}', "headers": {"x-api-key": "k"}, "last_err": "card 4111...",
        "nested": {"db_password": "pw", "ok": "fine", "body": "raw body"},
        "hint": "dlq_abcdefgh", "count": 3,
    }
    event = record("x", detail=detail)
    stored = json.dumps(AuditEvent.objects.get(seq=event.seq).detail)
    for secret in ("hunter2", "supersecret", "Bearer", "s3\"", "sess\"", "123456", "4111", "x-api-key", "raw body",
                   "\"pw\""):
        assert secret not in stored, secret
    row = AuditEvent.objects.get(seq=event.seq).detail
    assert row["password"] == REDACTED and row["nested"]["db_password"] == REDACTED
    assert row["payload"]["omitted"] is True and row["payload"]["bytes"] == len(detail["payload"])
    assert row["nested"]["ok"] == "fine" and row["hint"] == "dlq_abcdefgh" and row["count"] == 3
    # The same payload gives the same fingerprint, so two records can be compared.
    again = record("x", detail={"payload": detail["payload"]})
    assert AuditEvent.objects.get(seq=again.seq).detail["payload"] == row["payload"]


def test_awkward_values_are_stored_so_the_row_still_verifies(db):
    record("x\x00y", queue="q\x00ueue", message="bad \ud800 surrogate", detail={
        "big": 1e300, "nan": float("nan"), "neg0": -0.0, "small": 1e-7, "f": 1.5, "huge_int": 10**30,
        "tuple": (1, 2), "set": {"b", "a"}, "obj": object, 5: "int key", "deep": {"a": {"b": {"c": {"d": {"e": {}}}}}},
        "long": "x" * 10_000, "many": list(range(1000)),
    })
    result = verify_database()
    assert result.ok, result.problem
    row = AuditEvent.objects.get()
    # A queue name is any bytes: the row shows NUL escaped (so "q\x00ueue" and "queue" differ)
    # and names the exact bytes by their sha256.
    assert row.action == "xy" and row.queue == "q\\x00ueue" and "queue_sha256" in row.detail
    assert row.detail["big"] == "1e+300" and row.detail["nan"] == "nan" and row.detail["tuple"] == [1, 2]
    assert len(row.detail["long"]) == 2000 and len(row.detail["many"]) == 201


def test_clean_detail_wraps_non_dicts():
    assert clean_detail(None) == {}
    assert clean_detail([1]) == {"value": [1]}


def test_rows_chain_by_hash(db):
    first, second = record("a"), record("b")
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == chain.GENESIS and second.prev_hash == first.hash
    stored = AuditEvent.objects.values(*chain.CHAINED_FIELDS).get(seq=2)
    assert chain.row_hash(stored, first.hash) == second.hash
    head = ChainHead.objects.get()
    assert (head.seq, head.hash) == (2, second.hash)


def test_time_never_goes_backwards_along_the_chain(db, clock):
    first = record("a")
    clock.advance(minutes=-5)  # the clock stepped back (NTP, another host)
    second = record("b")
    assert second.created_at == first.created_at
    assert verify_database().ok


def test_record_rolls_back_with_the_surrounding_transaction(db):
    from django.db import transaction

    record("kept")
    with pytest.raises(RuntimeError), transaction.atomic():
        record("gone")
        raise RuntimeError
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["kept"]
    assert ChainHead.objects.get().seq == 1
    assert record("next").seq == 2  # no gap
    assert verify_database().ok


def test_a_database_failure_is_an_audit_write_error(db, monkeypatch):
    from django.db import DatabaseError

    def boom(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(AuditEvent, "save", boom)
    with pytest.raises(AuditWriteError):
        record("x")


def test_long_names_are_cut_to_fit_their_indexes(db):
    # A multi-byte 5,000-character task id would not fit a btree entry; it is cut, not refused.
    event = record("x", queue="q" * 5000, task_id="é" * 5000)
    row = AuditEvent.objects.get(seq=event.seq)
    assert len(row.queue) == 500 and len(row.task_id) == 500 and row.task_id.endswith("…")
    assert verify_database().ok
