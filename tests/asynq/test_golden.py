"""Our reader against what asynq's own Inspector reported for the same state.

The golden state (tests/fixtures/asynq-golden/mixed) was written by the real
asynq library; inspector.json is asynq's Inspector output for it. We restore
the snapshot into an empty DB and compare every field of every result.

Two clocks are used:

- ``at_generation``: an Inspector whose ``now`` is inspector.json's
  ``generated_at``. Time-dependent fields then match asynq's (heartbeats are
  live, leases not yet expired, "today" is the golden day), so almost
  everything is compared exactly.
- the real clock: the README's "restored later" expectations (stale
  heartbeats, orphaned active tasks), compared loosely.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from dlqadmin.asynq import (
    TASK_STATES,
    BrokenTask,
    DailyStats,
    GroupInfo,
    Inspector,
    QueueInfo,
    TaskInfo,
    keys,
)
from dlqadmin.asynq.inspector import MAX_PAGE_SIZE

from .conftest import BACKENDS, MIXED, b64_or_none, parse_go_time

# The same tests on one Redis and on a real Redis Cluster.
REDIS_BACKENDS = BACKENDS

with open(MIXED / "inspector.json", encoding="utf-8") as _fh:
    GOLDEN = json.load(_fh)

QUEUES = GOLDEN["queues"]
PAGE_SIZE = GOLDEN["page_size"]
PAGE = GOLDEN["page"]
PLAIN_STATES = [s for s in TASK_STATES if s != "aggregating"]
GROUP_CASES = [(q, g) for q in QUEUES for g in GOLDEN["tasks"][q]["aggregating"]]
ALL_TASKS = [
    (q, t)
    for q in QUEUES
    for s in PLAIN_STATES
    for t in GOLDEN["tasks"][q][s]
] + [
    (q, t)
    for q in QUEUES
    for tasks in GOLDEN["tasks"][q]["aggregating"].values()
    for t in tasks
]

# Fields of TaskInfo and the golden key each one is compared with.
TASK_FIELDS = {
    "id": "id",
    "queue": "queue",
    "type": "type",
    "payload": "payload_b64",
    "headers": "headers",
    "state": "state",
    "max_retry": "max_retry",
    "retried": "retried",
    "last_err": "last_err",
    "last_failed_at": "last_failed_at",
    "timeout_seconds": "timeout_seconds",
    "deadline": "deadline",
    "group": "group",
    "next_process_at": "next_process_at",
    "is_orphaned": "is_orphaned",
    "retention_seconds": "retention_seconds",
    "completed_at": "completed_at",
    "result": "result_b64",
}


def test_fixture_shape_is_what_we_compare():
    # Guards the comparison itself: every TaskInfo field has a golden twin and
    # the golden page parameters are the ones we request.
    assert PAGE == 1 and PAGE_SIZE == 100 <= MAX_PAGE_SIZE
    assert set(TASK_FIELDS) == {f.name for f in TaskInfo.__dataclass_fields__.values()}
    sample = ALL_TASKS[0][1]
    for golden_key in TASK_FIELDS.values():
        assert golden_key in sample
    assert len(ALL_TASKS) == 58  # every task hash of the snapshot


def _unix(value: dt.datetime | None) -> int:
    return 0 if value is None else int(value.timestamp())


def assert_task_matches(got: TaskInfo, want: dict, now: dt.datetime) -> None:
    """Every TaskInfo field against asynq's; time fields as the README allows."""
    assert isinstance(got, TaskInfo), got
    assert got.id == want["id"]
    assert got.queue == want["queue"]
    assert got.type == want["type"]
    assert got.payload == b64_or_none(want["payload_b64"])
    assert got.headers == want["headers"]
    assert got.state == want["state"]
    assert got.max_retry == want["max_retry"]
    assert got.retried == want["retried"]
    assert got.last_err == want["last_err"]
    assert got.timeout_seconds == want["timeout_seconds"]
    assert got.group == want["group"]
    assert got.retention_seconds == want["retention_seconds"]
    assert got.result == b64_or_none(want["result_b64"])
    assert got.is_orphaned is want["is_orphaned"]
    # Times stored in the msg or the zset score: read from the same bytes, so
    # they match exactly (the README would allow a loose comparison).
    for name in ("last_failed_at", "deadline", "completed_at"):
        assert getattr(got, name) == parse_go_time(want[name]), name
        assert _unix(getattr(got, name)) == want[f"{name}_unix"], name
    if want["state"] == "pending":
        # asynq fills in "now" at call time: ours is our clock, theirs was a
        # few microseconds after generated_at.
        assert got.next_process_at == now
        theirs = parse_go_time(want["next_process_at"])
        assert abs(theirs - now) < dt.timedelta(seconds=1)
    else:
        assert got.next_process_at == parse_go_time(want["next_process_at"])
        assert _unix(got.next_process_at) == want["next_process_at_unix"]
    for value in (got.last_failed_at, got.deadline, got.completed_at, got.next_process_at):
        assert value is None or value.tzinfo == dt.timezone.utc


# --- queues ------------------------------------------------------------------------


def test_queues(at_generation):
    assert at_generation.queues() == GOLDEN["queues"]
    assert sorted(GOLDEN["queues_as_returned"]) == GOLDEN["queues"]


def _assert_queue_info(got: QueueInfo, want: dict, now: dt.datetime, redis_version: str,
                       cluster: bool = False):
    exact = (
        "queue size groups pending active scheduled retry archived completed "
        "aggregating processed failed processed_total failed_total paused"
    ).split()
    for name in exact:
        assert getattr(got, name) == want[name], name
    assert isinstance(got.paused, bool)
    # asynq read the clock a little after generated_at, we read it at
    # generated_at: the latency differs by that much only.
    assert isinstance(got.latency, dt.timedelta)
    assert abs(got.latency_seconds - want["latency_seconds"]) < 0.05
    assert abs(got.latency - dt.timedelta(microseconds=want["latency_ns"] // 1000)) < dt.timedelta(
        milliseconds=50
    )
    assert got.timestamp == now
    assert abs(parse_go_time(want["timestamp"]) - now) < dt.timedelta(seconds=1)
    # MEMORY USAGE sampling: exact on the Redis version (and mode) that made the
    # data. In cluster mode Redis keeps 16 more bytes per key (its slot index), which
    # the sampling extrapolates: a few per cent more.
    if redis_version == "7.0.15" and not cluster:
        assert got.memory_usage == want["memory_usage"]
    elif redis_version == "7.0.15":
        assert 0 <= got.memory_usage - want["memory_usage"] <= want["memory_usage"] * 0.05
    else:
        assert abs(got.memory_usage - want["memory_usage"]) <= want["memory_usage"] * 0.5


@pytest.mark.parametrize("queue", QUEUES)
def test_queue_info(at_generation, generated_at, queue, redis_backend):
    version = at_generation.redis_info()["redis_version"]
    got = at_generation.queue_info(queue)
    _assert_queue_info(got, GOLDEN["queue_info"][queue], generated_at, version,
                       redis_backend == "cluster")


def test_all_queue_info(at_generation, generated_at, redis_backend):
    version = at_generation.redis_info()["redis_version"]
    infos = at_generation.all_queue_info()
    assert [i.queue for i in infos] == QUEUES
    for info in infos:
        _assert_queue_info(info, GOLDEN["queue_info"][info.queue], generated_at, version,
                           redis_backend == "cluster")
    # Same numbers as the one-queue call.
    assert infos == [at_generation.queue_info(q) for q in QUEUES]


def test_all_queue_info_of_named_queues(at_generation):
    # Callers that already read the queue names (the overview) ask for just those.
    infos = at_generation.all_queue_info(names=["reports", "emails"])
    assert infos == [at_generation.queue_info(q) for q in ("emails", "reports")]


def test_queue_info_without_memory_usage(at_generation):
    info = at_generation.queue_info("critical", memory_usage=False)
    assert info.memory_usage == -1
    assert info.size == GOLDEN["queue_info"]["critical"]["size"]


def test_queue_info_real_clock(golden_db):
    # Needs the real clock: proves an Inspector without `now` reads the system's.
    # Restored "later": latency grows with the real clock, all else the same.
    before = dt.datetime.now(dt.timezone.utc)
    info = Inspector(golden_db).queue_info("critical")
    want = GOLDEN["queue_info"]["critical"]
    assert info.pending == want["pending"] and info.size == want["size"]
    assert before <= info.timestamp <= dt.datetime.now(dt.timezone.utc)
    assert info.latency_seconds >= want["latency_seconds"] - 0.05


# --- history and groups ------------------------------------------------------------------


@pytest.mark.parametrize("queue", QUEUES)
def test_history(at_generation, queue):
    got = at_generation.history(queue, 7)
    want = GOLDEN["history"][queue]
    assert len(got) == len(want) == 7
    for day, w in zip(got, want):
        assert isinstance(day, DailyStats)
        assert day.queue == w["queue"]
        assert day.processed == w["processed"]
        assert day.failed == w["failed"]
        assert day.date == dt.date.fromisoformat(w["date"])


def test_histories_of_many_queues_in_one_round_trip(at_generation):
    got = at_generation.histories([*QUEUES, "no-such-queue"], 7)
    assert sorted(got) == sorted(QUEUES)  # a queue asynq does not know is left out
    for queue in QUEUES:
        assert got[queue] == at_generation.history(queue, 7)
        assert [(d.processed, d.failed) for d in got[queue]] == [
            (w["processed"], w["failed"]) for w in GOLDEN["history"][queue]]
    assert at_generation.histories([], 7) == {}


def test_history_real_clock(golden_db):
    # Needs the real clock: proves an Inspector without `now` reads the system's.
    # The day may turn between two readings (the suite also runs just before midnight).
    before = dt.datetime.now(dt.timezone.utc).date()
    days = Inspector(golden_db).history("default", 7)
    after = dt.datetime.now(dt.timezone.utc).date()
    today = days[0].date
    assert before <= today <= after
    assert [d.date for d in days] == [today - dt.timedelta(days=i) for i in range(7)]
    assert all(isinstance(d.processed, int) and isinstance(d.failed, int) for d in days)


@pytest.mark.parametrize("queue", QUEUES)
def test_groups(at_generation, queue):
    got = at_generation.groups(queue)
    assert all(isinstance(g, GroupInfo) for g in got)
    assert [{"group": g.group, "size": g.size} for g in got] == GOLDEN["groups"][queue]


# --- tasks ---------------------------------------------------------------------------


@pytest.mark.parametrize("queue", QUEUES)
@pytest.mark.parametrize("state", PLAIN_STATES)
def test_list_tasks(at_generation, generated_at, queue, state):
    want = GOLDEN["tasks"][queue][state]
    page = at_generation.list_tasks(queue, state, page=PAGE, page_size=PAGE_SIZE)
    assert page.page == PAGE and page.page_size == PAGE_SIZE
    assert page.broken == 0
    assert page.total == GOLDEN["queue_info"][queue][state] == len(want)
    assert [t.id for t in page.tasks] == [w["id"] for w in want]
    for got, w in zip(page.tasks, want):
        assert_task_matches(got, w, generated_at)


@pytest.mark.parametrize(("queue", "group"), GROUP_CASES)
def test_list_aggregating(at_generation, generated_at, queue, group):
    want = GOLDEN["tasks"][queue]["aggregating"][group]
    page = at_generation.list_tasks(queue, "aggregating", page=PAGE, page_size=PAGE_SIZE, group=group)
    assert page.total == len(want) and page.broken == 0
    assert [t.id for t in page.tasks] == [w["id"] for w in want]
    for got, w in zip(page.tasks, want):
        assert_task_matches(got, w, generated_at)


@pytest.mark.parametrize(("queue", "want"), ALL_TASKS, ids=[t["id"] for _, t in ALL_TASKS])
def test_get_task(at_generation, generated_at, queue, want):
    got = at_generation.get_task(queue, want["id"])
    assert_task_matches(got, want, generated_at)


def test_every_task_hash_is_listed(snapshot):
    # The golden lists cover every task hash of the snapshot (no task skipped).
    hashes = {
        k["key"] for k in snapshot if k["type"] == "hash" and ":t:" in k["key"]
    }
    listed = {keys.task(q, t["id"]).decode() for q, t in ALL_TASKS}
    assert hashes == listed


def test_real_clock_active_tasks_are_orphaned(golden_db):
    # README: restored later, the leases lie in the past.
    inspector = Inspector(golden_db)
    for queue in ("critical", "payments"):
        page = inspector.list_tasks(queue, "active")
        assert [t.is_orphaned for t in page.tasks] == [True]
        task = inspector.get_task(queue, page.tasks[0].id)
        assert task.is_orphaned is True
    # Not-active tasks are never orphaned.
    assert not any(t.is_orphaned for t in inspector.list_tasks("critical", "pending").tasks)


# --- servers and schedulers ----------------------------------------------------------


def test_servers(at_generation):
    got = at_generation.servers()
    want = GOLDEN["servers"]
    assert len(got) == len(want) == 1
    for s, w in zip(got, want):
        assert s.id == w["id"]
        assert s.host == w["host"]
        assert s.pid == w["pid"]
        assert s.concurrency == w["concurrency"]
        assert s.queues == w["queues"]
        assert s.strict_priority == w["strict_priority"]
        assert s.status == w["status"]
        assert s.started == parse_go_time(w["started"])
        assert [x.task_id for x in s.active_workers] == [x["task_id"] for x in w["active_workers"]]
        for worker, ww in zip(s.active_workers, w["active_workers"]):
            assert worker.task_type == ww["task_type"]
            assert worker.task_payload == b64_or_none(ww["task_payload_b64"])
            assert worker.queue == ww["queue"]
            assert worker.started == parse_go_time(ww["started"])
            assert worker.deadline == parse_go_time(ww["deadline"])


def _assert_entries(got, want):
    assert [e.id for e in got] == [w["id"] for w in want]
    for e, w in zip(got, want):
        assert e.spec == w["spec"]
        assert e.task_type == w["task_type"]
        assert e.task_payload == b64_or_none(w["payload_b64"])
        assert e.opts == w["opts"]
        assert e.next == parse_go_time(w["next"])
        assert e.prev == parse_go_time(w["prev"])


def test_scheduler_entries(at_generation):
    got = at_generation.scheduler_entries()
    assert len(got) == 3
    _assert_entries(got, GOLDEN["scheduler_entries"])


@pytest.mark.parametrize("entry_id", sorted(GOLDEN["scheduler_enqueue_events"]))
def test_scheduler_enqueue_events(at_generation, entry_id):
    got = at_generation.scheduler_enqueue_events(entry_id, page=1, page_size=100)
    want = GOLDEN["scheduler_enqueue_events"][entry_id]
    assert [(e.task_id, e.enqueued_at) for e in got] == [
        (w["task_id"], parse_go_time(w["enqueued_at"])) for w in want
    ]


def test_real_clock_heartbeats_are_stale_and_left_alone(golden_db):
    # README: restored later, servers and scheduler entries come back empty.
    inspector = Inspector(golden_db)
    assert inspector.servers() == []
    assert inspector.scheduler_entries() == []
    # asynq's Inspector would delete the stale members; our read path writes
    # nothing, so they are still there.
    assert golden_db.zcard(keys.ALL_SERVERS) == 1
    assert golden_db.zcard(keys.ALL_WORKERS) == 1
    assert golden_db.zcard(keys.ALL_SCHEDULERS) == 1
    # History is not a heartbeat: still readable.
    events = inspector.scheduler_enqueue_events(GOLDEN["scheduler_entries"][1]["id"])
    assert [e.task_id for e in events] == ["8b42100f-c489-4076-aeca-bc08e338e5c8"]


def test_reads_do_not_write(golden_db, snapshot):
    # Every public read, then the DB must be byte-for-byte what was restored.
    from tests.support.redis_snapshot import dump

    inspector = Inspector(golden_db)
    inspector.queues()
    inspector.all_queue_info()
    for q in QUEUES:
        inspector.history(q)
        inspector.groups(q)
        for s in PLAIN_STATES:
            inspector.list_tasks(q, s)
    for q, t in ALL_TASKS:
        inspector.get_task(q, t["id"])
    inspector.servers()
    inspector.scheduler_entries()
    inspector.redis_info()

    def strip(entries):
        return [{k: v for k, v in e.items() if k != "ttl_ms"} for e in entries]

    assert strip(dump(golden_db)) == strip(snapshot)
    assert all(e["ttl_ms"] == -1 for e in dump(golden_db))


def test_no_broken_tasks_in_golden_data(at_generation):
    for q in QUEUES:
        for s in PLAIN_STATES:
            page = at_generation.list_tasks(q, s, page_size=PAGE_SIZE)
            assert not any(isinstance(t, BrokenTask) for t in page.tasks)


def test_large_payload_round_trips(at_generation):
    # pending/large: the ~200 KB JSON payload comes back whole.
    task = at_generation.get_task("critical", "83d1c0b3-11a7-5c8a-9473-64b64c17fc97")
    assert len(task.payload) > 190_000
    json.loads(task.payload)


def test_binary_and_nil_payloads(at_generation):
    binary = at_generation.get_task("default", "a7fb4238-5905-5439-8bd0-4a0d8d2ae39b")
    assert isinstance(binary.payload, bytes)
    with pytest.raises(UnicodeDecodeError):
        binary.payload.decode("utf-8")
    nil = at_generation.get_task("default", "c4428812-84a8-5e75-b4ea-86efa9820baf")
    assert nil.payload is None


def test_payload_b64_helper_consistency():
    # Guard against a silently wrong helper: decoding is plain base64.
    assert b64_or_none(base64.b64encode(b"\x00\xff").decode()) == b"\x00\xff"
    assert b64_or_none(None) is None
