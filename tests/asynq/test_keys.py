"""keys.py builds exactly the key names asynq wrote."""

from __future__ import annotations

import base64
import datetime as dt
import json

from dlqadmin.asynq import keys, messages

from .conftest import MIXED

with open(MIXED / "snapshot.json", encoding="utf-8") as _fh:
    SNAPSHOT_KEYS = {e["key"].encode() for e in json.load(_fh)}

DAY = dt.date(2026, 11, 22)


def test_every_golden_key_is_built_by_keys_py():
    built = {keys.ALL_QUEUES, keys.ALL_SERVERS, keys.ALL_WORKERS, keys.ALL_SCHEDULERS}
    for q in ("critical", "default", "emails", "payments", "reports"):
        built |= {
            keys.pending(q), keys.active(q), keys.scheduled(q), keys.retry(q),
            keys.archived(q), keys.completed(q), keys.lease(q), keys.paused(q),
            keys.groups(q), keys.processed_total(q), keys.failed_total(q),
            keys.processed(q, DAY), keys.failed(q, DAY),
        }
    built |= {keys.group("critical", "alerts:eu-west"), keys.group("emails", "digest:user-42"),
              keys.group("emails", "digest:user-77")}
    built.add(keys.scheduler_history("3a290004-6e89-4313-99ba-fef8ca317798"))
    built.add(keys.server_info("vm", 32698, "5b63887a-72cf-41a8-b638-5c5d59c6d25e"))
    built.add(keys.workers("vm", 32698, "5b63887a-72cf-41a8-b638-5c5d59c6d25e"))
    built.add(keys.scheduler_entries("vm:32698:72dea769-40b9-4485-8786-07eef10fea7a"))
    rest = {k for k in SNAPSHOT_KEYS - built}
    # What remains are task hashes and uniqueness locks: check their shape.
    for key in rest:
        assert key.startswith(b"asynq:{"), key
        queue = key[len(b"asynq:{"):key.index(b"}")].decode()
        if b":t:" in key:
            task_id = key.split(b":t:", 1)[1].decode()
            assert keys.task(queue, task_id) == key
        else:
            assert b":unique:" in key, key
    assert keys.processed("critical", DAY) in SNAPSHOT_KEYS


def test_unique_lock_matches_asynq():
    # Every task hash with a unique_key names the lock asynq built from its
    # queue, type and payload.
    with open(MIXED / "snapshot.json", encoding="utf-8") as fh:
        snapshot = json.load(fh)
    checked = 0
    for entry in snapshot:
        fields = entry["value"] if entry["type"] == "hash" else {}
        if "unique_key" in fields:
            m = messages.decode_task_message(base64.b64decode(fields["msg"]["b64"]))
            lock = base64.b64decode(fields["unique_key"]["b64"])
            assert keys.unique_lock(m.queue, m.type, m.payload or None) == lock
            checked += 1
    assert checked == 6
    assert keys.unique_lock("q", "t", None) == b"asynq:{q}:unique:t:"


def test_names_are_taken_verbatim():
    assert keys.pending("a:b/c d") == b"asynq:{a:b/c d}:pending"
    assert keys.task("{x}", "id:1") == b"asynq:{{x}}:t:id:1"
    assert keys.group("q", "g:1") == b"asynq:{q}:g:g:1"
    assert keys.pending("队列") == "asynq:{队列}:pending".encode()


def test_names_round_trip_even_when_not_utf8():
    raw = b"\xff\xfeq"
    name = keys.decode_name(raw)
    assert keys.encode_name(name) == raw
    assert keys.pending(name) == b"asynq:{" + raw + b"}:pending"
