"""Damaged data, odd names, big and binary values, unknown names, Redis down."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading

import pytest

from dlqadmin.asynq import (
    AsynqError,
    DamagedData,
    BrokenTask,
    Inspector,
    QueueNotFound,
    RedisUnavailable,
    TaskInfo,
    TaskNotFound,
    connect,
    keys,
    messages,
)
from dlqadmin.asynq import inspector as inspector_module

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.timezone.utc)
NOW_S = int(NOW.timestamp())


@pytest.fixture
def inspector(r):
    return Inspector(r, now=lambda: NOW)


def _three_archived(seed):
    for i in range(3):
        seed.add("q", "archived", seed.message("q", f"a{i}", error_msg="boom"), score=100 + i)


# --- damaged tasks ---------------------------------------------------------------------


def test_undecodable_msg_is_a_broken_task(inspector, seed, r):
    _three_archived(seed)
    r.hset(keys.task("q", "a1"), "msg", b"\xff\xff\xff not protobuf")
    page = inspector.list_tasks("q", "archived")
    assert page.total == 3 and page.broken == 1
    good0, bad, good2 = page.tasks
    assert isinstance(good0, TaskInfo) and isinstance(good2, TaskInfo)
    assert bad == BrokenTask("a1", "q", "archived", bad.problem)
    assert bad.problem.startswith("msg undecodable: ")
    assert len(bad.problem) < 200
    got = inspector.get_task("q", "a1")
    assert isinstance(got, BrokenTask) and got.problem.startswith("msg undecodable")
    assert got.state == "archived"


def test_stale_id_without_hash(inspector, seed, r):
    _three_archived(seed)
    r.delete(keys.task("q", "a0"))
    page = inspector.list_tasks("q", "archived")
    assert page.broken == 1
    assert page.tasks[0] == BrokenTask("a0", "q", "archived", "task hash missing")
    with pytest.raises(TaskNotFound) as info:
        inspector.get_task("q", "a0")
    assert (info.value.queue, info.value.task_id) == ("q", "a0")
    # A stale id in a list works the same as in a zset.
    r.lpush(keys.pending("q"), "ghost")
    assert inspector.list_tasks("q", "pending").tasks == [
        BrokenTask("ghost", "q", "pending", "task hash missing")
    ]
    # Queue stats (including memory sampling) survive the stale ids.
    info = inspector.queue_info("q")
    assert info.pending == 1 and info.archived == 3 and info.memory_usage > 0


def test_hash_without_msg(inspector, seed, r):
    _three_archived(seed)
    r.hdel(keys.task("q", "a2"), "msg")
    page = inspector.list_tasks("q", "archived")
    assert page.tasks[2] == BrokenTask("a2", "q", "archived", "msg field missing")
    assert inspector.get_task("q", "a2") == BrokenTask("a2", "q", "archived", "msg field missing")


@pytest.mark.parametrize("garbage", [b"", b"ARCHIVED", b"dead", b"\xff\xfe", b"archived "])
def test_garbage_state(inspector, seed, r, garbage):
    _three_archived(seed)
    r.hset(keys.task("q", "a0"), "state", garbage)
    got = inspector.get_task("q", "a0")
    assert isinstance(got, BrokenTask) and got.problem.startswith("unknown state")
    assert got.state == keys.decode_name(garbage)
    # Listing goes by the zset the id is in (as asynq does): still readable.
    page = inspector.list_tasks("q", "archived")
    assert page.broken == 0 and page.tasks[0].state == "archived"


def test_missing_state_field(inspector, seed, r):
    _three_archived(seed)
    r.hdel(keys.task("q", "a0"), "state")
    got = inspector.get_task("q", "a0")
    assert isinstance(got, BrokenTask) and got.state == ""


def test_msg_of_another_task_or_queue(inspector, seed, r):
    _three_archived(seed)
    r.hset(keys.task("q", "a0"), "msg", messages.encode(seed.message("q", "other-id")))
    r.hset(keys.task("q", "a1"), "msg", messages.encode(seed.message("elsewhere", "a1")))
    page = inspector.list_tasks("q", "archived")
    assert page.broken == 2
    assert "differs from the stored id" in page.tasks[0].problem
    assert "differs from the queue" in page.tasks[1].problem
    assert isinstance(inspector.get_task("q", "a0"), BrokenTask)


def test_empty_hash_value_that_parses_as_protobuf(inspector, seed, r):
    # b"" is a valid (empty) protobuf: its id is "" so it is caught as damaged.
    _three_archived(seed)
    r.hset(keys.task("q", "a0"), "msg", b"")
    assert isinstance(inspector.list_tasks("q", "archived").tasks[0], BrokenTask)


@pytest.mark.parametrize(
    "fields",
    [{"deadline": 2**62}, {"last_failed_at": -(2**62)}, {"completed_at": 2**63 - 1}],
)
def test_time_beyond_datetime_range(inspector, seed, fields):
    # Go reads any int64 second; Python's datetime stops at year 9999.
    _three_archived(seed)
    seed.add("q", "archived", seed.message("q", "far", **fields), score=500)
    page = inspector.list_tasks("q", "archived")
    assert page.broken == 1 and page.tasks[3].problem.startswith("time out of range")
    assert inspector.get_task("q", "far").problem.startswith("time out of range")


def test_infinite_score(inspector, seed, r):
    seed.add("q", "retry", seed.message("q", "inf"), score=10)
    r.zadd(keys.retry("q"), {"inf": float("inf")})
    assert inspector.list_tasks("q", "retry").tasks[0].problem.startswith("time out of range")
    assert isinstance(inspector.get_task("q", "inf"), BrokenTask)


def test_garbage_pending_since_gives_zero_latency(inspector, seed, r):
    seed.add("q", "pending", seed.message("q", "p"))
    r.hset(keys.task("q", "p"), "pending_since", b"not-a-number")
    assert inspector.queue_info("q").latency == dt.timedelta(0)
    r.hdel(keys.task("q", "p"), "pending_since")
    assert inspector.queue_info("q").latency == dt.timedelta(0)


def test_latency_from_pending_since(inspector, seed):
    ns = (NOW_S - 90) * 1_000_000_000 + 123_456_789
    seed.add("q", "pending", seed.message("q", "old"), pending_since_ns=ns)
    seed.add("q", "pending", seed.message("q", "new"), pending_since_ns=NOW_S * 1_000_000_000)
    info = inspector.queue_info("q")
    assert info.latency == dt.timedelta(seconds=89, microseconds=876_544)
    assert info.latency_seconds == pytest.approx(89.876544)


def test_garbage_stats_counters(inspector, seed, r):
    seed.queue("q")
    r.set(keys.processed_total("q"), b"lots")
    r.set(keys.processed("q", NOW.date()), b"7")
    info = inspector.queue_info("q")
    assert info.processed_total == 0 and info.processed == 7
    r.set(keys.failed("q", NOW.date()), b"x")
    assert inspector.history("q", 1)[0].failed == 0


def test_wrong_key_type_is_damaged_data(inspector, seed, r):
    seed.queue("q")
    seed.queue("fine")
    r.set(keys.archived("q"), b"not a zset")
    with pytest.raises(DamagedData, match="WRONGTYPE") as info:
        inspector.list_tasks("q", "archived")
    assert isinstance(info.value, AsynqError) and not isinstance(info.value, RedisUnavailable)
    # The queue's stats name the damaged key instead of failing; other queues are unaffected.
    one = inspector.queue_info("q")
    assert one.damaged and one.problem.startswith("archived: WRONGTYPE") and one.archived == 0
    both = {i.queue: i for i in inspector.all_queue_info()}
    assert both["q"].damaged and not both["fine"].damaged and both["fine"].problem == ""


# --- values ------------------------------------------------------------------------------


def test_binary_payload_headers_and_result(inspector, seed):
    payload = bytes(range(256)) * 3
    msg = seed.message("q", "bin", payload=payload, headers={"k": "v", "ünï": "😀"})
    seed.add("q", "completed", msg, score=NOW_S + 10, result=b"\x00\xff\x00")
    task = inspector.get_task("q", "bin")
    assert task.payload == payload
    assert task.headers == {"k": "v", "ünï": "😀"}
    assert task.result == b"\x00\xff\x00"


def test_big_payload_and_error(inspector, seed):
    payload = json.dumps({"blob": "x" * 200_000}).encode()
    error = "E" * 4000 + "\n" + "trace " * 500
    msg = seed.message("q", "big", payload=payload, error_msg=error, last_failed_at=NOW_S)
    seed.add("q", "archived", msg, score=NOW_S)
    page = inspector.list_tasks("q", "archived")
    assert page.tasks[0].payload == payload and page.tasks[0].last_err == error
    assert page.tasks[0].last_failed_at == NOW
    assert inspector.get_task("q", "big").payload == payload


def test_nil_values_are_none(inspector, seed):
    seed.add("q", "archived", seed.message("q", "nil", payload=b""), score=1)
    task = inspector.get_task("q", "nil")
    assert task.payload is None and task.headers is None and task.result is None
    assert task.last_failed_at is None and task.deadline is None and task.completed_at is None


def test_deadline_and_timeout(inspector, seed):
    deadline = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    msg = seed.message("q", "d", timeout=0, deadline=int(deadline.timestamp()))
    seed.add("q", "scheduled", msg, score=NOW_S + 5)
    task = inspector.get_task("q", "d")
    assert task.deadline == deadline and task.timeout_seconds == 0
    assert task.next_process_at == NOW + dt.timedelta(seconds=5)


# --- names -----------------------------------------------------------------------------

ODD_QUEUES = [
    "a:b",
    "a:b:c",
    "path/to/queue",
    "with space",
    "ünïcødé 队列 🚀",
    "{braces}",
    "}{",
    "a}b{c",
    ":",
    "t:",
    "x" * 300,
]


@pytest.mark.parametrize("queue", ODD_QUEUES)
def test_odd_queue_names(inspector, seed, queue):
    states = ["pending", "active", "scheduled", "retry", "archived", "completed"]
    for i, state in enumerate(states):
        seed.add(queue, state, seed.message(queue, f"{state}:{i}"), score=NOW_S + 100)
    group = "user:42:eu/west"
    seed.add(queue, "aggregating", seed.message(queue, "agg:1", group_key=group),
             score=NOW_S, group=group)
    # A neighbour queue whose name is a prefix must not leak into counts.
    seed.add(queue + ":", "archived", seed.message(queue + ":", "other"), score=1)

    assert queue in inspector.queues()
    info = inspector.queue_info(queue)
    assert (info.queue, info.size, info.groups, info.aggregating) == (queue, 7, 1, 1)
    for i, state in enumerate(states):
        assert getattr(info, state) == 1
        page = inspector.list_tasks(queue, state)
        assert [t.id for t in page.tasks] == [f"{state}:{i}"]
        assert page.tasks[0].queue == queue
        assert inspector.get_task(queue, f"{state}:{i}").state == state
    assert [(g.group, g.size) for g in inspector.groups(queue)] == [(group, 1)]
    agg = inspector.list_tasks(queue, "aggregating", group=group)
    assert [t.id for t in agg.tasks] == ["agg:1"] and agg.tasks[0].group == group
    assert inspector.history(queue, 2)[0].queue == queue
    assert [q.queue for q in inspector.all_queue_info()] == sorted([queue, queue + ":"])


def test_queue_without_any_keys(inspector, seed):
    seed.queue("empty")
    info = inspector.queue_info("empty")
    assert info.size == 0 and info.latency == dt.timedelta(0) and not info.paused
    assert info.memory_usage == 0
    assert inspector.groups("empty") == []
    assert [d.processed for d in inspector.history("empty", 3)] == [0, 0, 0]


def test_paused_queue(inspector, seed, r):
    seed.queue("q")
    r.set(keys.paused("q"), NOW_S)
    assert inspector.queue_info("q").paused is True


# --- unknown names ---------------------------------------------------------------------


def test_unknown_queue(inspector, seed):
    # Keys alone do not make a queue: asynq checks asynq:queues.
    seed.add("real", "archived", seed.message("real", "x"), score=1)
    seed.r.srem(keys.ALL_QUEUES, "real")
    calls = [
        lambda: inspector.queue_info("real"),
        lambda: inspector.history("real"),
        lambda: inspector.groups("real"),
        lambda: inspector.list_tasks("real", "archived"),
        lambda: inspector.get_task("real", "x"),
    ]
    for call in calls:
        with pytest.raises(QueueNotFound) as info:
            call()
        assert info.value.queue == "real"
    assert inspector.queues() == []
    assert inspector.all_queue_info() == []


def test_unknown_task(inspector, seed):
    seed.queue("q")
    with pytest.raises(TaskNotFound):
        inspector.get_task("q", "nope")


def test_bad_history_days(inspector, seed):
    seed.queue("q")
    for days in (0, -1, "7", 1.5, True):
        with pytest.raises(ValueError):
            inspector.history("q", days)
    assert len(inspector.history("q", 90)) == 90


# --- servers and schedulers ------------------------------------------------------------


def _server(r, server_id: str, expiry: int, queues=None, pid=1):
    info = messages.ServerInfoMessage(
        host="h", pid=pid, server_id=server_id, concurrency=2, queues=queues or {"q": 1},
        status="active", started=NOW - dt.timedelta(hours=1), active_worker_count=1,
    )
    skey = keys.server_info("h", pid, server_id)
    wkey = keys.workers("h", pid, server_id)
    r.set(skey, messages.encode(info))
    r.zadd(keys.ALL_SERVERS, {skey: expiry})
    worker = messages.WorkerInfoMessage(
        host="h", pid=pid, server_id=server_id, task_id=f"task-of-{server_id}",
        task_type="t", task_payload=b"", queue="q", started=NOW, deadline=NOW,
    )
    r.hset(wkey, f"task-of-{server_id}", messages.encode(worker))
    r.zadd(keys.ALL_WORKERS, {wkey: expiry})


def test_servers_live_stale_and_broken(inspector, r):
    _server(r, "live-b", NOW_S + 5, pid=2)
    _server(r, "live-a", NOW_S, pid=3)  # expiry == now still counts as live
    _server(r, "stale", NOW_S - 1, pid=4)
    _server(r, "broken", NOW_S + 5, pid=5)
    r.set(keys.server_info("h", 5, "broken"), b"\xff garbage")
    # A worker whose server is not live is dropped, as asynq does.
    orphan = messages.WorkerInfoMessage(server_id="gone", task_id="x")
    r.hset(keys.workers("h", 2, "live-b"), "x", messages.encode(orphan))
    r.hset(keys.workers("h", 2, "live-b"), "y", b"\xff garbage")
    got = inspector.servers()
    assert [s.id for s in got] == ["live-a", "live-b"]
    assert [w.task_id for w in got[1].active_workers] == ["task-of-live-b"]
    assert got[1].active_workers[0].task_payload is None
    assert got[1].queues == {"q": 1} and got[1].started == NOW - dt.timedelta(hours=1)
    # Read-only: the stale member stays.
    assert r.zcard(keys.ALL_SERVERS) == 4


def test_server_key_expired_but_member_live(inspector, r):
    _server(r, "s", NOW_S + 5)
    r.delete(keys.server_info("h", 1, "s"))
    assert inspector.servers() == []


def test_scheduler_entries_live_stale_and_broken(inspector, r):
    def scheduler(sid, expiry, entries):
        key = keys.scheduler_entries(sid)
        r.rpush(key, *entries)
        r.zadd(keys.ALL_SCHEDULERS, {key: expiry})

    entry = messages.SchedulerEntryMessage(
        id="e1", spec="@every 1m", task_type="t", task_payload=b"", opts=['Queue("q")'],
        next=NOW + dt.timedelta(minutes=1), prev=None,
    )
    other = messages.SchedulerEntryMessage(id="e0", spec="@every 1m", task_type="t")
    scheduler("h:1:live", NOW_S + 2, [messages.encode(entry), b"\xffbad", messages.encode(other)])
    scheduler("h:2:stale", NOW_S - 10, [messages.encode(entry)])
    got = inspector.scheduler_entries()
    assert [e.id for e in got] == ["e0", "e1"]
    assert got[1].task_payload is None and got[1].prev is None
    assert got[1].next == NOW + dt.timedelta(minutes=1)


def test_broken_enqueue_event_is_skipped(inspector, r):
    key = keys.scheduler_history("e")
    good = messages.SchedulerEnqueueEventMessage(task_id="t1", enqueued_at=NOW)
    r.zadd(key, {messages.encode(good): 1, b"\xff\xffbad": 2})
    assert [e.task_id for e in inspector.scheduler_enqueue_events("e")] == ["t1"]


# --- scripts ---------------------------------------------------------------------------


def test_scripts_load_themselves(inspector, seed, monkeypatch):
    # A script Redis has never seen (unique source -> unique sha) is loaded
    # on the NOSCRIPT reply and the call succeeds, without SCRIPT FLUSH.
    _three_archived(seed)
    fresh = inspector_module._Script("list_page")
    fresh.source += f"\n-- {id(fresh)} {dt.datetime.now().isoformat()}\n"
    fresh.sha = __import__("hashlib").sha1(fresh.source.encode()).hexdigest()
    monkeypatch.setattr(inspector_module, "_LIST_PAGE", fresh)
    monkeypatch.setattr(
        inspector_module, "_SCRIPTS",
        tuple(fresh if s.name == "list_page" else s for s in inspector_module._SCRIPTS),
    )
    assert seed.r.script_exists(fresh.sha) == [False]
    assert len(inspector.list_tasks("q", "archived").tasks) == 3
    assert seed.r.script_exists(fresh.sha) == [True]


def test_lua_files_document_keys_argv_and_returns():
    for script in inspector_module._SCRIPTS:
        head = script.source[:1500]
        assert "KEYS[1]" in head and "ARGV[1]" in head and "Return" in head, script.name


# --- Redis unavailable ------------------------------------------------------------------


def _all_calls(inspector):
    return [
        inspector.queues,
        lambda: inspector.queue_info("q"),
        inspector.all_queue_info,
        lambda: inspector.history("q"),
        lambda: inspector.groups("q"),
        lambda: inspector.list_tasks("q", "archived"),
        lambda: inspector.get_task("q", "x"),
        inspector.servers,
        inspector.scheduler_entries,
        lambda: inspector.scheduler_enqueue_events("e"),
        inspector.redis_info,
    ]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends


def test_redis_down_raises_redis_unavailable():
    inspector = Inspector(connect(f"redis://127.0.0.1:{_closed_port()}/0"))
    for call in _all_calls(inspector):
        with pytest.raises(RedisUnavailable, match="^Redis unreachable: "):
            call()


def test_redis_silent_raises_redis_unavailable():
    # A server that accepts connections but never answers: the socket
    # timeout must turn into RedisUnavailable, not a hang.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        inspector = Inspector(connect(f"redis://127.0.0.1:{port}/0", socket_timeout=0.2))
        with pytest.raises(RedisUnavailable, match="^Redis unreachable: "):
            inspector.queues()
        with pytest.raises(RedisUnavailable):
            inspector.list_tasks("q", "archived")
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        listener.close()
