"""The protobuf codec against the bytes asynq wrote (no Redis needed)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from dlqadmin.asynq import messages
from dlqadmin.asynq.errors import AsynqError, MessageDecodeError
from dlqadmin.asynq.messages import (
    GO_ZERO_TIME_SECONDS,
    SchedulerEnqueueEventMessage,
    SchedulerEntryMessage,
    ServerInfoMessage,
    TaskMessage,
    WorkerInfoMessage,
)
from dlqadmin.asynq.proto import asynq_pb2

from .conftest import MIXED, b64_or_none, parse_go_time

with open(MIXED / "snapshot.json", encoding="utf-8") as _fh:
    SNAPSHOT = json.load(_fh)
with open(MIXED / "inspector.json", encoding="utf-8") as _fh:
    GOLDEN = json.load(_fh)

TASK_HASHES = [k for k in SNAPSHOT if k["type"] == "hash" and "msg" in k["value"]]
GOLDEN_TASKS = {
    t["id"]: t
    for q in GOLDEN["tasks"].values()
    for state, tasks in q.items()
    for t in (tasks if state != "aggregating" else [x for g in tasks.values() for x in g])
}


def _raw(b64: str) -> bytes:
    return base64.b64decode(b64)


def _key(prefix: str) -> dict:
    (entry,) = [k for k in SNAPSHOT if k["key"].startswith(prefix)]
    return entry


def test_generated_module_loads_with_pinned_runtime():
    import google.protobuf

    assert google.protobuf.__version__ == "7.36.2"
    fields = {f.name: f.number for f in asynq_pb2.TaskMessage.DESCRIPTOR.fields}
    assert fields == {
        "type": 1, "payload": 2, "id": 3, "queue": 4, "retry": 5, "retried": 6,
        "error_msg": 7, "timeout": 8, "deadline": 9, "unique_key": 10,
        "last_failed_at": 11, "retention": 12, "completed_at": 13, "group_key": 14,
        "headers": 15,
    }


@pytest.mark.parametrize("entry", TASK_HASHES, ids=[k["key"] for k in TASK_HASHES])
def test_task_message_matches_asynq(entry):
    m = messages.decode_task_message(_raw(entry["value"]["msg"]["b64"]))
    want = GOLDEN_TASKS[m.id]
    assert entry["key"].endswith(":t:" + m.id)
    assert m.type == want["type"]
    assert (m.payload or None) == b64_or_none(want["payload_b64"])
    assert m.queue == want["queue"]
    assert m.retry == want["max_retry"]
    assert m.retried == want["retried"]
    assert m.error_msg == want["last_err"]
    assert m.timeout == want["timeout_seconds"]
    assert m.deadline == want["deadline_unix"]
    assert m.last_failed_at == want["last_failed_at_unix"]
    assert m.retention == want["retention_seconds"]
    assert m.completed_at == want["completed_at_unix"]
    assert m.group_key == want["group"]
    assert (m.headers or None) == want["headers"]
    if "unique_key" in entry["value"]:
        assert m.unique_key == _raw(entry["value"]["unique_key"]["b64"]).decode()


@pytest.mark.parametrize("entry", TASK_HASHES, ids=[k["key"] for k in TASK_HASHES])
def test_task_message_round_trip(entry):
    raw = _raw(entry["value"]["msg"]["b64"])
    m = messages.decode_task_message(raw)
    again = messages.encode(m)
    assert messages.decode_task_message(again) == m
    if len(m.headers) <= 1:
        # Go writes fields in the same order as upb; only a map of several
        # entries may come out in another (equally valid) order.
        assert again == raw


def test_server_and_worker_info_match_asynq():
    server = messages.decode_server_info(_raw(_key("asynq:servers:{")["value"]["b64"]))
    (want,) = GOLDEN["servers"]
    assert isinstance(server, ServerInfoMessage)
    assert (server.server_id, server.host, server.pid) == (want["id"], want["host"], want["pid"])
    assert server.concurrency == want["concurrency"]
    assert server.queues == want["queues"]
    assert server.strict_priority is want["strict_priority"]
    assert server.status == want["status"]
    assert server.started == parse_go_time(want["started"])
    assert server.active_worker_count == len(want["active_workers"])

    workers = _key("asynq:workers:{")["value"]
    by_id = {w["task_id"]: w for w in want["active_workers"]}
    assert set(workers) == set(by_id)
    for task_id, value in workers.items():
        w = messages.decode_worker_info(_raw(value["b64"]))
        ww = by_id[task_id]
        assert isinstance(w, WorkerInfoMessage)
        assert (w.host, w.pid, w.server_id) == (want["host"], want["pid"], want["id"])
        assert w.task_id == task_id
        assert w.task_type == ww["task_type"]
        assert w.task_payload == b64_or_none(ww["task_payload_b64"])
        assert w.queue == ww["queue"]
        assert w.started == parse_go_time(ww["started"])
        assert w.deadline == parse_go_time(ww["deadline"])


def test_scheduler_entries_match_asynq():
    raw_entries = _key("asynq:schedulers:{")["value"]
    entries = [messages.decode_scheduler_entry(_raw(v)) for v in raw_entries]
    by_id = {e["id"]: e for e in GOLDEN["scheduler_entries"]}
    assert {e.id for e in entries} == set(by_id)
    for e in entries:
        w = by_id[e.id]
        assert isinstance(e, SchedulerEntryMessage)
        assert e.spec == w["spec"]
        assert e.task_type == w["task_type"]
        assert (e.task_payload or None) == b64_or_none(w["payload_b64"])
        assert e.opts == w["opts"]
        assert e.next == parse_go_time(w["next"])
        assert e.prev == parse_go_time(w["prev"])  # Go zero time -> None


def test_enqueue_events_match_asynq():
    for entry_id, want in GOLDEN["scheduler_enqueue_events"].items():
        key = [k for k in SNAPSHOT if k["key"] == f"asynq:scheduler_history:{entry_id}"]
        members = key[0]["value"] if key else []
        events = [messages.decode_enqueue_event(_raw(m)) for m, _ in reversed(members)]
        assert [(e.task_id, e.enqueued_at) for e in events] == [
            (w["task_id"], parse_go_time(w["enqueued_at"])) for w in want
        ]
        assert all(isinstance(e, SchedulerEnqueueEventMessage) for e in events)


def test_server_scheduler_round_trip():
    t = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc)
    values = [
        ServerInfoMessage("h", 1, "sid", 4, {"a": 1, "b": 2}, True, "active", t, 3),
        WorkerInfoMessage("h", 1, "sid", "tid", "type", b"\x00\x01", "q", t, t),
        SchedulerEntryMessage("eid", "@every 1m", "type", b"{}", ['Queue("q")'], t, None),
        SchedulerEnqueueEventMessage("tid", t),
    ]
    decoders = [
        messages.decode_server_info,
        messages.decode_worker_info,
        messages.decode_scheduler_entry,
        messages.decode_enqueue_event,
    ]
    for value, decode in zip(values, decoders):
        assert decode(messages.encode(value)) == value


def test_none_time_is_written_as_go_zero_time():
    raw = messages.encode(SchedulerEntryMessage(id="x", prev=None, next=None))
    pb = asynq_pb2.SchedulerEntry.FromString(raw)
    assert pb.prev_enqueue_time.seconds == GO_ZERO_TIME_SECONDS
    assert messages.decode_scheduler_entry(raw).prev is None


def test_unset_timestamp_is_none():
    raw = asynq_pb2.WorkerInfo(task_id="x").SerializeToString()
    w = messages.decode_worker_info(raw)
    assert w.started is None and w.deadline is None


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xff\xff",  # truncated varint
        b"\x0a\x05ab",  # length past the end
        b"hello world",  # text, wrong wire types
        b"\x0a\x02\xff\xfe",  # string field with invalid UTF-8
    ],
)
def test_garbage_raises_decode_error(raw):
    with pytest.raises(MessageDecodeError) as info:
        messages.decode_task_message(raw)
    assert isinstance(info.value, AsynqError) and isinstance(info.value, ValueError)


def test_encode_rejects_unknown_types():
    with pytest.raises(TypeError):
        messages.encode(object())


def test_encode_nil_payload_and_headers():
    m = TaskMessage(type="t", id="i", queue="q", payload=b"", headers={})
    decoded = messages.decode_task_message(messages.encode(m))
    assert decoded.payload == b"" and decoded.headers == {}
