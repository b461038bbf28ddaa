"""Operations beyond the golden fixtures: every state x op, races, chunking,
crash safety, our deliberate differences from asynq, damaged data, odd
names, Redis down.

asynq's own effects are proved in test_ops_golden.py; here the same
semantics are pinned on seeded states (conftest.Seeder writes asynq's exact
layout).
"""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest

import redis

from dlqadmin.asynq import (
    AsynqError,
    ChunkResult,
    Operations,
    OpOutcome,
    OpResult,
    QueueNotFound,
    RedisUnavailable,
    connect,
    keys,
    messages,
)
from dlqadmin.asynq import operations as operations_module
from tests.asynq.conftest import BACKENDS
from tests.support.redis_snapshot import dump

# The same tests on one Redis and on a real Redis Cluster.
REDIS_BACKENDS = BACKENDS

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.timezone.utc)
NOW_S = int(NOW.timestamp())
DONE, NOT_FOUND, QNF = OpOutcome.DONE, OpOutcome.NOT_FOUND, OpOutcome.QUEUE_NOT_FOUND
WRONG, CHANGED, BROKEN = OpOutcome.WRONG_STATE, OpOutcome.CHANGED, OpOutcome.BROKEN
NOT_EMPTY = OpOutcome.QUEUE_NOT_EMPTY
STATES = ["pending", "active", "scheduled", "retry", "archived", "completed", "aggregating"]
GROUP = "digest:user:42"


@pytest.fixture(params=["single", "cluster-path"])
def ops(request, r):
    """Operations on the test DB. "cluster-path" runs the code path used
    with Redis Cluster (queue-exists test as a separate command, no
    asynq:queues key in the scripts) against the same single Redis."""
    o = Operations(r, now=lambda: NOW)
    o._cluster = request.param == "cluster-path"
    return o


@pytest.fixture
def op1(r):
    return Operations(r, now=lambda: NOW)


def b(text: str) -> bytes:
    return keys.encode_name(text)


def pending_ids(r, queue="q") -> list[str]:
    """The pending list head first (as stored)."""
    return [keys.decode_name(x) for x in r.lrange(keys.pending(queue), 0, -1)]


def zset_ids(r, key) -> list[str]:
    return [keys.decode_name(x) for x in r.zrange(key, 0, -1)]


def state_of(r, task_id, queue="q"):
    raw = r.hget(keys.task(queue, task_id), "state")
    return raw.decode() if raw is not None else None


def add(seed, state, task_id, queue="q", score=None, **fields):
    msg = seed.message(queue, task_id, **fields)
    group = GROUP if state == "aggregating" else None
    if group:
        msg.group_key = group
    seed.add(queue, state, msg, score=NOW_S - 100 if score is None else score, group=group)
    return msg


def archived_n(seed, n, queue="q", start=1_000):
    """n archived tasks a00000.. with increasing scores (oldest first)."""
    pipe = seed.r.pipeline(transaction=False)
    ids = []
    for i in range(n):
        task_id = f"a{i:05d}"
        seed.add(queue, "archived", seed.message(queue, task_id, retried=3, retry=3,
                                                 error_msg="boom", last_failed_at=start + i),
                 score=start + i, pipe=pipe)
        ids.append(task_id)
    pipe.execute()
    return ids


# --- one task: every state x op -----------------------------------------------------------

# What each op does to a task in each state: (outcome, state afterwards).
MATRIX = {
    "run": {
        "pending": (WRONG, "pending"), "active": (WRONG, "active"),
        "scheduled": (DONE, "pending"), "retry": (DONE, "pending"),
        "archived": (DONE, "pending"), "completed": (DONE, "pending"),
        "aggregating": (DONE, "pending"),
    },
    "archive": {
        "pending": (DONE, "archived"), "active": (WRONG, "active"),
        "scheduled": (DONE, "archived"), "retry": (DONE, "archived"),
        "archived": (WRONG, "archived"), "completed": (DONE, "archived"),
        "aggregating": (DONE, "archived"),
    },
    "delete": {
        "pending": (DONE, None), "active": (WRONG, "active"),
        "scheduled": (DONE, None), "retry": (DONE, None), "archived": (DONE, None),
        "completed": (DONE, None), "aggregating": (DONE, None),
    },
}


def where(r, task_id, queue="q") -> list[str]:
    """Every key of the queue that holds the id (state keys, groups)."""
    found = []
    member = b(task_id)
    for state in ["pending", "active"]:
        if member in r.lrange(keys.state_key(queue, state), 0, -1):
            found.append(state)
    for state in ["scheduled", "retry", "archived", "completed"]:
        if r.zscore(keys.state_key(queue, state), member) is not None:
            found.append(state)
    if r.zscore(keys.group(queue, GROUP), member) is not None:
        found.append("aggregating")
    return found


def call(ops, op, queue, task_id, **kw) -> OpResult:
    return {"run": ops.run_task, "archive": ops.archive_task, "delete": ops.delete_task}[op](
        queue, task_id, **kw
    )


@pytest.mark.parametrize("op", ["run", "archive", "delete"])
@pytest.mark.parametrize("state", STATES)
def test_state_op_matrix(ops, seed, r, op, state):
    add(seed, state, "t1")
    add(seed, "archived", "other", score=5)  # a neighbour that must not move
    outcome, after = MATRIX[op][state]
    result = call(ops, op, "q", "t1")
    assert result == OpResult(outcome, after)
    assert state_of(r, "t1") == after
    assert where(r, "t1") == ([after] if after else [])
    assert state_of(r, "other") == "archived" and where(r, "other") == ["archived"]
    if outcome is DONE and op == "run":
        assert pending_ids(r)[0] == "t1"
    if outcome is DONE and op == "archive":
        assert r.zscore(keys.archived("q"), "t1") == NOW_S
    if state == "aggregating" and outcome is DONE:
        assert not r.exists(keys.group("q", GROUP)) and not r.exists(keys.groups("q"))


@pytest.mark.parametrize("op", ["run", "archive", "delete"])
def test_expected_state_mismatch_is_changed_and_changes_nothing(ops, seed, r, op):
    add(seed, "retry", "t1")
    before = dump(r)
    expected = "archived" if op != "archive" else "scheduled"
    assert call(ops, op, "q", "t1", expected_state=expected) == OpResult(CHANGED, "retry")
    assert dump(r) == before
    assert call(ops, op, "q", "t1", expected_state="retry").outcome is DONE


@pytest.mark.parametrize("op", ["run", "archive", "delete"])
def test_not_found_and_queue_not_found(ops, seed, r, op):
    add(seed, "archived", "t1")
    assert call(ops, op, "q", "nope") == OpResult(NOT_FOUND, None)
    assert call(ops, op, "no-such-queue", "t1") == OpResult(QNF, None)
    assert state_of(r, "t1") == "archived"


@pytest.mark.parametrize(
    ("op", "bad"),
    [("run", "pending"), ("run", "active"), ("archive", "archived"), ("archive", "active"),
     ("delete", "active"), ("run", "bogus")],
)
def test_expected_state_the_op_cannot_take_is_a_programming_error(op1, op, bad):
    with pytest.raises(ValueError):
        call(op1, op, "q", "t1", expected_state=bad)


def test_bad_arguments(op1):
    for bad_call in [
        lambda: op1.run_task("", "t"),
        lambda: op1.run_task("q", ""),
        lambda: op1.run_task(None, "t"),
        lambda: op1.run_tasks("q", "abc", expected_state="archived"),
        lambda: op1.run_tasks("q", ["a"], expected_state=None),
        lambda: op1.iter_run_all("q", "pending"),
        lambda: op1.iter_archive_all("q", "archived"),
        lambda: op1.iter_run_all("q", "aggregating"),
        lambda: op1.iter_run_all("q", "archived", group="g"),
        lambda: op1.iter_run_all("q", "archived", chunk=0),
        lambda: op1.iter_run_all("q", "archived", chunk=operations_module.MAX_CHUNK + 1),
        lambda: op1.iter_delete_all("q", "active"),
    ]:
        with pytest.raises(ValueError):
            bad_call()
    with pytest.raises(TypeError):
        op1.update_payload_and_run("q", "t", "text", expected_msg=b"")


def test_run_keeps_msg_group_unique_key_and_adds_no_pending_since(op1, seed, r):
    msg = add(seed, "archived", "t1", unique_key="asynq:{q}:unique:x:y", group_key="g")
    r.hset(keys.task("q", "t1"), mapping={"unique_key": "asynq:{q}:unique:x:y", "group": "g"})
    assert op1.run_task("q", "t1").ok
    h = r.hgetall(keys.task("q", "t1"))
    assert h == {b"msg": messages.encode(msg), b"state": b"pending",
                 b"unique_key": b"asynq:{q}:unique:x:y", b"group": b"g"}


def test_delete_releases_only_a_lock_that_holds_the_task(op1, seed, r):
    for task_id, holder in [("t1", "t1"), ("t2", "someone-else")]:
        lock = f"asynq:{{q}}:unique:x:{task_id}"
        add(seed, "archived", task_id, unique_key=lock)
        r.hset(keys.task("q", task_id), "unique_key", lock)
        r.set(lock, holder)
    assert op1.delete_task("q", "t1").ok and op1.delete_task("q", "t2").ok
    assert not r.exists("asynq:{q}:unique:x:t1")
    assert r.get("asynq:{q}:unique:x:t2") == b"someone-else"


def test_delete_ignores_a_unique_key_of_another_queue(op1, seed, r):
    add(seed, "archived", "t1")
    r.hset(keys.task("q", "t1"), "unique_key", "asynq:{other}:unique:x")
    r.set("asynq:{other}:unique:x", "t1")
    assert op1.delete_task("q", "t1").ok
    assert r.get("asynq:{other}:unique:x") == b"t1"


# --- races -----------------------------------------------------------------------------


def _race(n, fn):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def worker(i):
        try:
            barrier.wait()
            results.append(fn(i))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors
    return results


def test_concurrent_runs_of_one_task_exactly_one_done(r, seed):
    for attempt in range(5):
        r.flushdb()
        add(seed, "archived", "t1")
        results = _race(16, lambda i: Operations(r).run_task(
            "q", "t1", expected_state="archived"))
        outcomes = [res.outcome for res in results]
        assert outcomes.count(DONE) == 1, outcomes
        assert set(outcomes) <= {DONE, CHANGED}
        assert pending_ids(r) == ["t1"] and state_of(r, "t1") == "pending"


def test_concurrent_run_delete_archive_exactly_one_done(r, seed):
    ops_by_kind = ["run", "delete", "archive"]
    for attempt in range(5):
        r.flushdb()
        add(seed, "retry", "t1")
        results = _race(12, lambda i: call(Operations(r), ops_by_kind[i % 3], "q", "t1",
                                           expected_state="retry"))
        assert [x.outcome for x in results].count(DONE) == 1
        # Whatever won, the task is wholly in one place (or wholly gone).
        state = state_of(r, "t1")
        assert where(r, "t1") == ([state] if state else [])
        assert not r.exists(keys.retry("q"))


def test_concurrent_bulk_runs_move_each_task_once(r, seed):
    ids = archived_n(seed, 300)
    results = _race(6, lambda i: Operations(r).run_tasks(
        "q", ids[i * 20:] + ids[: i * 20], expected_state="archived", chunk=50))
    for task_id in ids:
        assert sum(res[task_id].outcome is DONE for res in results) == 1
    assert sorted(pending_ids(r)) == ids and len(pending_ids(r)) == 300


def test_concurrent_redrives_move_each_task_once(r, seed):
    ids = archived_n(seed, 1000)
    totals = _race(4, lambda i: sum(c.done for c in Operations(r).iter_run_all(
        "q", "archived", chunk=37)))
    assert sum(totals) == 1000
    assert sorted(pending_ids(r)) == ids


# --- bulk by ids ---------------------------------------------------------------------------


def test_run_tasks_results_per_id(ops, seed, r):
    add(seed, "archived", "a1", score=10)
    add(seed, "archived", "a2", score=11)
    add(seed, "retry", "r1")
    add(seed, "archived", "stale")
    r.delete(keys.task("q", "stale"))
    res = ops.run_tasks("q", ["a2", "a1", "r1", "nope", "stale", "a1"], expected_state="archived")
    assert res == {
        "a2": OpResult(DONE, "pending"), "a1": OpResult(DONE, "pending"),
        "r1": OpResult(CHANGED, "retry"), "nope": OpResult(NOT_FOUND),
        "stale": OpResult(NOT_FOUND),
    }
    assert pending_ids(r) == ["a1", "a2"]  # in the order given, each LPUSHed
    assert zset_ids(r, keys.archived("q")) == []  # the stale id is gone too
    assert not r.exists(keys.task("q", "stale"))


def test_bulk_by_ids_chunks(op1, seed, r, monkeypatch):
    ids = archived_n(seed, 45)
    calls = []
    original = Operations._tasks_call

    def spy(self, *args, **kwargs):
        calls.append(args[-1][0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Operations, "_tasks_call", spy)
    res = op1.archive_tasks("q", ids, expected_state="retry", chunk=10)
    assert len(calls) == 5 and set(calls) == {"ids"}
    assert set(res.values()) == {OpResult(CHANGED, "archived")}
    res = op1.delete_tasks("q", ids, expected_state="archived", chunk=10)
    assert all(x == OpResult(DONE) for x in res.values())
    assert dump(r) == [e for e in dump(r) if e["key"] == "asynq:queues"]


def test_bulk_queue_not_found(ops):
    assert ops.run_tasks("nq", ["a", "b"], expected_state="archived") == {
        "a": OpResult(QNF), "b": OpResult(QNF)}
    with pytest.raises(QueueNotFound):
        ops.iter_run_all("nq", "archived")


# --- chunked *_all -----------------------------------------------------------------------


def asynq_order(oldest_first: list[str]) -> list[str]:
    """The pending list (head first) asynq's RunAll leaves: ids pushed in
    zset order, so the oldest ends nearest the tail."""
    return list(reversed(oldest_first))


@pytest.mark.parametrize("chunk", [1, 7, 100, 500])
def test_run_all_chunked_matches_asynq_order(ops, seed, r, chunk):
    ids = archived_n(seed, 250)
    add(seed, "pending", "p0")
    chunks = list(ops.iter_run_all("q", "archived", chunk=chunk))
    assert all(isinstance(c, ChunkResult) and 0 < c.done <= chunk and c.failed == 0
               for c in chunks)
    assert len(chunks) == -(-250 // chunk)
    assert sum(c.done for c in chunks) == 250
    assert pending_ids(r) == asynq_order(ids) + ["p0"]
    assert not r.exists(keys.archived("q"))
    assert {state_of(r, i) for i in ids} == {"pending"}


def test_redrive_is_crash_safe_and_resumes(op1, seed, r):
    ids = archived_n(seed, 100)
    first = op1.iter_run_all("q", "archived", chunk=10)
    half = [next(first) for _ in range(5)]
    del first  # abandoned midway, as a crashed worker would
    assert sum(c.done for c in half) == 50
    assert r.zcard(keys.archived("q")) == 50 and len(pending_ids(r)) == 50
    # Every task is wholly in one place.
    for task_id in ids:
        assert where(r, task_id) == [state_of(r, task_id)]
    rest = list(op1.iter_run_all("q", "archived", chunk=10))
    assert sum(c.done for c in rest) == 50 and all(c.failed == 0 for c in rest)
    assert pending_ids(r) == asynq_order(ids)  # each exactly once, asynq's order


def test_run_all_ends_even_if_tasks_keep_coming_back(op1, seed, r):
    """Redriven tasks that fail straight back into the archive are not
    chased: the iteration takes only what was there when it started."""
    ids = archived_n(seed, 60)
    done = 0
    for chunk in op1.iter_run_all("q", "archived", chunk=10):
        done += chunk.done
        # A worker takes every pending task and archives it again at once.
        for raw in r.lrange(keys.pending("q"), 0, -1):
            r.lrem(keys.pending("q"), 0, raw)
            r.hset(keys.task("q", keys.decode_name(raw)), "state", "archived")
            r.zadd(keys.archived("q"), {raw: NOW_S})
    assert done == 60
    assert sorted(zset_ids(r, keys.archived("q"))) == ids


@pytest.mark.parametrize("verb", ["run", "delete"])
@pytest.mark.parametrize("state", ["archived", "retry", "scheduled"])
def test_all_of_each_zset_state(ops, seed, r, verb, state):
    for i in range(30):
        add(seed, state, f"t{i:02d}", score=NOW_S + i)
    add(seed, "archived" if state != "archived" else "retry", "bystander")
    iterate = ops.iter_run_all if verb == "run" else ops.iter_delete_all
    assert sum(c.done for c in iterate("q", state, chunk=8)) == 30
    assert not r.exists(keys.state_key("q", state))
    if verb == "run":
        assert pending_ids(r) == [f"t{i:02d}" for i in reversed(range(30))]
    else:
        assert not any(r.exists(keys.task("q", f"t{i:02d}")) for i in range(30))
    assert state_of(r, "bystander") is not None


@pytest.mark.parametrize("state", ["pending", "scheduled", "retry"])
def test_archive_all(ops, seed, r, state):
    for i in range(25):
        add(seed, state, f"t{i:02d}", score=NOW_S + i)
    assert sum(c.done for c in ops.iter_archive_all("q", state, chunk=6)) == 25
    assert not r.exists(keys.state_key("q", state))
    assert r.zrange(keys.archived("q"), 0, -1, withscores=True) == sorted(
        (b(f"t{i:02d}"), float(NOW_S)) for i in range(25))
    assert {state_of(r, f"t{i:02d}") for i in range(25)} == {"archived"}


def test_delete_all_pending_and_completed(ops, seed, r):
    for i in range(25):
        add(seed, "pending", f"p{i:02d}")
        add(seed, "completed", f"c{i:02d}", score=NOW_S + 3600)
    assert sum(c.done for c in ops.iter_delete_all("q", "pending", chunk=4)) == 25
    assert sum(c.done for c in ops.iter_delete_all("q", "completed", chunk=4)) == 25
    assert [e["key"] for e in dump(r)] == ["asynq:queues"]


@pytest.mark.parametrize("verb", ["run", "archive", "delete"])
def test_all_of_a_group(ops, seed, r, verb):
    for i in range(9):
        add(seed, "aggregating", f"g{i}", score=NOW_S + i)
    seed.add("q", "aggregating", seed.message("q", "other-group"), score=1, group="other")
    iterate = {"run": ops.iter_run_all, "archive": ops.iter_archive_all,
               "delete": ops.iter_delete_all}[verb]
    assert sum(c.done for c in iterate("q", "aggregating", group=GROUP, chunk=4)) == 9
    assert not r.exists(keys.group("q", GROUP))
    assert r.smembers(keys.groups("q")) == {b"other"}
    if verb == "run":
        assert pending_ids(r) == [f"g{i}" for i in reversed(range(9))]


def test_delete_all_locks_follow_asynq(op1, seed, r):
    for state in ["archived", "pending"]:
        lock = f"asynq:{{q}}:unique:{state}"
        add(seed, state, f"{state}-t", unique_key=lock)
        r.hset(keys.task("q", f"{state}-t"), "unique_key", lock)
        r.set(lock, f"{state}-t")
    list(op1.iter_delete_all("q", "archived"))
    list(op1.iter_delete_all("q", "pending"))
    assert not r.exists("asynq:{q}:unique:archived")  # DeleteAllArchivedTasks releases
    assert r.get("asynq:{q}:unique:pending") == b"pending-t"  # DeleteAllPendingTasks keeps
    # Selected ids are deleted like DeleteTask: lock released.
    add(seed, "pending", "sel", unique_key="asynq:{q}:unique:sel")
    r.hset(keys.task("q", "sel"), "unique_key", "asynq:{q}:unique:sel")
    r.set("asynq:{q}:unique:sel", "sel")
    list(op1.iter_delete_all("q", "pending", ids=["sel"]))
    assert not r.exists("asynq:{q}:unique:sel")


def test_all_with_explicit_ids(ops, seed, r):
    ids = archived_n(seed, 30)
    add(seed, "retry", "r1")
    chosen = ids[5:25:2] + ["r1", "missing"]
    chunks = list(ops.iter_run_all("q", "archived", ids=chosen, chunk=4))
    assert len(chunks) == 3
    assert sum(c.done for c in chunks) == 10
    failures = {k: v for c in chunks for k, v in c.failures.items()}
    assert failures == {"r1": OpResult(CHANGED, "retry"), "missing": OpResult(NOT_FOUND)}
    assert [i for c in chunks for i in c.ids_failed] == ["r1", "missing"]
    assert pending_ids(r) == list(reversed(ids[5:25:2]))
    assert r.zcard(keys.archived("q")) == 20


def test_iteration_raises_queue_not_found_if_the_queue_goes(op1, seed, r):
    archived_n(seed, 20)
    it = op1.iter_run_all("q", "archived", chunk=5)
    next(it)
    r.srem(keys.ALL_QUEUES, "q")
    with pytest.raises(QueueNotFound):
        next(it)


# --- our deliberate differences from asynq ------------------------------------------------


# One Redis only: the cluster runs the same script, and seeding 10,000 tasks through
# redis-py's cluster pipeline costs seconds the suite's budget does not have.
@pytest.mark.parametrize("redis_backend", ["redis"], indirect=True)
def test_archive_never_trims_the_archive(op1, seed, r):
    """asynq trims the archived zset to 9,999 members / 90 days on every
    archive (and its Inspector leaves the trimmed hashes orphaned)."""
    ids = archived_n(seed, 10_000, start=NOW_S - 200 * 86400)  # all older than 90 days
    add(seed, "pending", "p1")
    add(seed, "retry", "r1")
    assert op1.archive_task("q", "p1").ok
    assert sum(c.done for c in op1.iter_archive_all("q", "retry")) == 1
    assert r.zcard(keys.archived("q")) == 10_002
    assert r.zscore(keys.archived("q"), ids[0]) == NOW_S - 200 * 86400
    # No task hash without its id, no id without its hash.
    hashes = {keys.decode_name(k)[len("asynq:{q}:t:"):] for k in r.scan_iter(
        match=b"asynq:{q}:t:*", count=5000)}
    assert hashes == set(zset_ids(r, keys.archived("q")))


@pytest.mark.parametrize("verb", ["run", "archive", "delete"])
def test_stale_ids_are_dropped_never_turned_into_half_hashes(ops, seed, r, verb):
    """An id without its hash: asynq's RunAll/ArchiveAll would push it on and
    create a hash holding only "state"; we drop it and report NOT_FOUND."""
    state = "pending" if verb == "archive" else "archived"
    for i in range(6):
        add(seed, state, f"t{i}", score=NOW_S + i)
    for stale in ["t1", "t4"]:
        r.delete(keys.task("q", stale))
    iterate = {"run": ops.iter_run_all, "archive": ops.iter_archive_all,
               "delete": ops.iter_delete_all}[verb]
    chunks = list(iterate("q", state, chunk=2))
    assert sum(c.done for c in chunks) == 4
    failures = {k: v for c in chunks for k, v in c.failures.items()}
    assert failures == {"t1": OpResult(NOT_FOUND), "t4": OpResult(NOT_FOUND)}
    for stale in ["t1", "t4"]:
        assert not r.exists(keys.task("q", stale))
        assert where(r, stale) == []


def test_inconsistent_entries_are_left_alone_and_skipped(op1, seed, r):
    """An id in the archive whose hash says otherwise is reported and left;
    the iteration goes past it instead of looping on it."""
    ids = archived_n(seed, 20)
    r.hset(keys.task("q", ids[0]), "state", "pending")  # also (wrongly) still archived
    r.hdel(keys.task("q", ids[1]), "state")  # hash without state
    r.hset(keys.task("q", ids[2]), "state", "weird")
    chunks = list(op1.iter_run_all("q", "archived", chunk=3))
    assert sum(c.done for c in chunks) == 17
    failures = {k: v for c in chunks for k, v in c.failures.items()}
    assert failures == {ids[0]: OpResult(CHANGED, "pending"), ids[1]: OpResult(BROKEN),
                        ids[2]: OpResult(CHANGED, "weird")}
    assert zset_ids(r, keys.archived("q")) == ids[:3]
    assert pending_ids(r) == asynq_order(ids[3:])


def test_single_op_on_damaged_tasks_is_broken_and_changes_nothing(op1, seed, r):
    add(seed, "archived", "no-state")
    r.hdel(keys.task("q", "no-state"), "state")
    add(seed, "archived", "unknown")
    r.hset(keys.task("q", "unknown"), "state", "limbo")
    add(seed, "archived", "unindexed")
    r.zrem(keys.archived("q"), "unindexed")  # hash says archived, zset disagrees
    r.set(keys.task("q", "string"), "not a hash")
    before = dump(r)
    for task_id in ["no-state", "unknown", "unindexed", "string"]:
        for op in ["run", "archive", "delete"]:
            expected = BROKEN
            if (task_id, op) == ("unindexed", "archive"):
                expected = WRONG  # already archived, by its hash
            assert call(op1, op, "q", task_id).outcome is expected, (task_id, op)
    assert dump(r) == before


def test_wrongly_typed_queue_key_raises_without_half_moving(op1, seed, r):
    add(seed, "archived", "t1")
    r.set(keys.pending("q"), "oops")
    before = dump(r)
    with pytest.raises(AsynqError) as info:
        op1.run_task("q", "t1")
    assert not isinstance(info.value, RedisUnavailable)
    assert dump(r) == before


# --- reset_retried and payload edits --------------------------------------------------------


def _unknown_field(raw: bytes) -> bytes:
    """A msg from a newer asynq with a field we do not know (number 99)."""
    return raw + bytes([0x9A, 0x06, 0x03]) + b"new"


def test_reset_retried_rewrites_only_retried(ops, seed, r):
    msg = add(seed, "archived", "t1", retried=5, retry=5, error_msg="boom",
              last_failed_at=NOW_S - 10, headers={"k": "v"})
    raw = _unknown_field(messages.encode(msg))
    r.hset(keys.task("q", "t1"), "msg", raw)
    assert ops.run_task("q", "t1", expected_state="archived", reset_retried=True) == OpResult(
        DONE, "pending")
    new_raw = r.hget(keys.task("q", "t1"), "msg")
    new = messages.decode_task_message(new_raw)
    old = messages.decode_task_message(raw)
    old.retried = 0
    assert new == old  # error_msg and last_failed_at kept, see the module docstring
    assert new_raw.endswith(bytes([0x9A, 0x06, 0x03]) + b"new")  # unknown field kept
    assert pending_ids(r) == ["t1"]


def test_reset_retried_for_many_and_all(ops, seed, r):
    ids = archived_n(seed, 30)
    res = ops.run_tasks("q", ids[:5], expected_state="archived", reset_retried=True)
    assert all(x.ok for x in res.values())
    chunks = list(ops.iter_run_all("q", "archived", reset_retried=True, chunk=7))
    assert sum(c.done for c in chunks) == 25 and len(chunks) == 4
    assert pending_ids(r) == asynq_order(ids[5:]) + list(reversed(ids[:5]))
    for task_id in ids:
        assert messages.decode_task_message(r.hget(keys.task("q", task_id), "msg")).retried == 0


def test_reset_retried_refuses_undecodable_msg(op1, seed, r):
    add(seed, "archived", "t1")
    r.hset(keys.task("q", "t1"), "msg", b"\xff\xff\xff")
    assert op1.run_task("q", "t1", reset_retried=True) == OpResult(BROKEN, "archived")
    assert state_of(r, "t1") == "archived"
    assert op1.run_task("q", "nope", reset_retried=True) == OpResult(NOT_FOUND)
    assert op1.run_task("nq", "t1", reset_retried=True) == OpResult(QNF)


def test_reset_retried_loses_a_race_cleanly(op1, seed, r, monkeypatch):
    add(seed, "archived", "t1", retried=3)
    original = operations_module._rewrite

    def racing(raw, task_id, queue, **kw):
        new = original(raw, task_id, queue, **kw)
        # Someone else changes the msg between our read and our write.
        r.hset(keys.task(queue, task_id), "msg", raw + b"\x30\x07")
        return new

    monkeypatch.setattr(operations_module, "_rewrite", racing)
    assert op1.run_task("q", "t1", reset_retried=True) == OpResult(CHANGED, "archived")
    assert state_of(r, "t1") == "archived" and where(r, "t1") == ["archived"]


def test_update_payload_and_run(ops, seed, r):
    msg = add(seed, "archived", "t1", payload=b'{"a":1}', retried=2, retry=2,
              error_msg="bad", headers={"h": "1"})
    raw = messages.encode(msg)
    assert ops.update_payload_and_run("q", "t1", b'{"a":2}', expected_msg=raw) == OpResult(
        DONE, "pending")
    new = messages.decode_task_message(r.hget(keys.task("q", "t1"), "msg"))
    msg.payload = b'{"a":2}'
    assert new == msg
    assert pending_ids(r) == ["t1"] and not r.exists(keys.archived("q"))


def test_update_payload_and_run_with_fresh_budget(op1, seed, r):
    msg = add(seed, "archived", "t1", retried=2, retry=2)
    assert op1.update_payload_and_run("q", "t1", b"", expected_msg=messages.encode(msg),
                                      reset_retried=True).ok
    new = messages.decode_task_message(r.hget(keys.task("q", "t1"), "msg"))
    assert (new.payload, new.retried, new.retry) == (b"", 0, 2)


def test_update_payload_and_run_refusals(ops, seed, r):
    msg = add(seed, "archived", "t1", payload=b"old")
    raw = messages.encode(msg)
    before = dump(r)
    other = messages.encode(seed.message("q", "t1", payload=b"else"))
    assert ops.update_payload_and_run("q", "t1", b"x", expected_msg=other) == OpResult(
        CHANGED, "archived")
    assert ops.update_payload_and_run("q", "t1", b"x", expected_msg=b"\xff\xfe") == OpResult(
        BROKEN)
    foreign = messages.encode(seed.message("q", "t2"))
    assert ops.update_payload_and_run("q", "t1", b"x", expected_msg=foreign).outcome is BROKEN
    assert ops.update_payload_and_run("nq", "t1", b"x", expected_msg=raw) == OpResult(QNF)
    assert dump(r) == before
    # Stored msg undecodable: the caller can only have those bytes, and we
    # cannot rebuild a message from them.
    r.hset(keys.task("q", "t1"), "msg", b"\xff\xfe")
    assert ops.update_payload_and_run("q", "t1", b"x", expected_msg=b"\xff\xfe").outcome is BROKEN
    r.hset(keys.task("q", "t1"), "msg", raw)
    # No longer archived: CHANGED with the state it is in.
    assert ops.run_task("q", "t1").ok
    assert ops.update_payload_and_run("q", "t1", b"x", expected_msg=raw) == OpResult(
        CHANGED, "pending")
    assert r.hget(keys.task("q", "t1"), "msg") == raw
    assert ops.update_payload_and_run("q", "gone", b"x", expected_msg=messages.encode(
        seed.message("q", "gone"))) == OpResult(NOT_FOUND)


def test_update_payload_and_run_race(r, seed):
    msg = add(seed, "archived", "t1")
    raw = messages.encode(msg)
    results = _race(10, lambda i: Operations(r).update_payload_and_run(
        "q", "t1", f"v{i}".encode(), expected_msg=raw))
    assert [x.outcome for x in results].count(DONE) == 1
    assert pending_ids(r) == ["t1"]


def test_update_payload_scheduled_like_asynq(op1, seed, r):
    msg = add(seed, "scheduled", "s1", payload=b"a", score=NOW_S + 60)
    add(seed, "archived", "a1")
    raw = messages.encode(msg)
    assert op1.update_payload("q", "s1", b"b", expected_msg=raw) == OpResult(DONE, "scheduled")
    assert messages.decode_task_message(r.hget(keys.task("q", "s1"), "msg")).payload == b"b"
    assert r.zscore(keys.scheduled("q"), "s1") == NOW_S + 60
    assert op1.update_payload("q", "s1", b"c", expected_msg=raw) == OpResult(CHANGED, "scheduled")
    a1 = messages.encode(seed.message("q", "a1"))
    assert op1.update_payload("q", "a1", b"c", expected_msg=a1) == OpResult(WRONG, "archived")
    assert op1.update_payload("q", "zz", b"c", expected_msg=messages.encode(
        seed.message("q", "zz"))) == OpResult(NOT_FOUND)


# --- queues ------------------------------------------------------------------------------


def test_pause_unpause(ops, seed, r):
    add(seed, "pending", "p1")
    assert ops.pause_queue("q") == OpResult(DONE, "paused")
    assert r.get(keys.paused("q")) == str(NOW_S).encode()
    assert ops.pause_queue("q") == OpResult(WRONG, "paused")
    assert ops.unpause_queue("q") == OpResult(DONE, "running")
    assert ops.unpause_queue("q") == OpResult(WRONG, "running")
    assert not r.exists(keys.paused("q"))
    assert ops.pause_queue("nq") == OpResult(QNF)
    assert not r.exists(keys.paused("nq"))


def test_concurrent_pause_exactly_one_done(r, seed):
    add(seed, "pending", "p1")
    results = _race(10, lambda i: Operations(r).pause_queue("q"))
    assert [x.outcome for x in results].count(DONE) == 1


def test_cancel_task_publishes_on_asynq_cancel(op1, r):
    pubsub = r.pubsub()
    pubsub.subscribe(keys.CANCEL_CHANNEL)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    assert op1.cancel_task("task-ü:1") >= 1
    message = pubsub.get_message(timeout=2)
    assert message["channel"] == b"asynq:cancel" and message["data"] == b("task-ü:1")
    pubsub.close()


def test_cancel_tasks_publishes_only_active_ids_and_changes_nothing(ops, seed, r):
    for i in ("a:1", "a\x00ü"):
        add(seed, "active", i, score=NOW_S + 30)
    add(seed, "archived", "dead")
    r.set(keys.task("q", "not-a-hash"), b"x")
    r.hset(keys.task("q", "no-state"), "msg", b"")
    pubsub = r.pubsub()
    pubsub.subscribe(keys.CANCEL_CHANNEL)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    before = dump(r)
    got = ops.cancel_tasks("q", ["a:1", "dead", "gone", "a\x00ü", "not-a-hash", "no-state", "a:1"])
    assert dump(r) == before
    assert {i: (x.outcome, x.state) for i, x in got.items()} == {
        "a:1": (DONE, "active"), "a\x00ü": (DONE, "active"), "dead": (WRONG, "archived"),
        "gone": (NOT_FOUND, None), "not-a-hash": (BROKEN, None), "no-state": (BROKEN, None)}
    assert got["a:1"].receivers is None if ops._cluster else got["a:1"].receivers >= 1
    sent = [pubsub.get_message(timeout=2)["data"] for _ in range(2)]
    assert sent == [b("a:1"), b("a\x00ü")]
    assert pubsub.get_message(timeout=0.2) is None
    pubsub.close()
    assert ops.cancel_tasks("nq", ["a:1"])["a:1"].outcome is QNF


def test_cancel_tasks_in_chunks_and_active_ids_bounded(op1, seed, r):
    for n in range(7):
        add(seed, "active", f"x{n}", score=NOW_S + 30)
    ids = op1.active_ids("q", 5)
    assert len(ids) == 5 and set(ids) < {f"x{n}" for n in range(7)}
    assert sorted(op1.active_ids("q", 100)) == [f"x{n}" for n in range(7)]
    got = op1.cancel_tasks("q", op1.active_ids("q", 100), chunk=3)
    assert {x.outcome for x in got.values()} == {DONE} and len(got) == 7
    with pytest.raises(ValueError):
        op1.active_ids("q", 0)


def test_delete_queue_refusals(ops, seed, r):
    add(seed, "completed", "c1", score=NOW_S + 3600)
    add(seed, "aggregating", "g1")
    add(seed, "retry", "r1")
    before = dump(r)
    assert ops.delete_queue("q") == OpResult(NOT_EMPTY, "retry")
    add(seed, "active", "x1", score=NOW_S + 30)
    before = dump(r)
    assert ops.delete_queue("q", force=True) == OpResult(NOT_EMPTY, "active")
    assert dump(r) == before
    assert ops.delete_queue("nq") == OpResult(QNF)
    assert ops.delete_queue("nq", force=True) == OpResult(QNF)


def test_delete_queue_completed_and_groups_do_not_count(ops, seed, r):
    add(seed, "completed", "c1", score=NOW_S + 3600)
    add(seed, "aggregating", "g1")
    r.zadd(keys.lease("q"), {"old": 1})
    assert ops.delete_queue("q") == OpResult(DONE)
    assert not r.sismember(keys.ALL_QUEUES, "q")
    assert not r.exists(keys.lease("q"))
    assert state_of(r, "c1") == "completed" and state_of(r, "g1") == "aggregating"


def test_delete_queue_force_purges_in_chunks(op1, seed, r, monkeypatch):
    monkeypatch.setattr(operations_module, "DEFAULT_CHUNK", 50)
    pipe = r.pipeline(transaction=False)
    for i in range(120):
        for state in ["pending", "scheduled", "retry", "archived"]:
            seed.add("q", state, seed.message("q", f"{state}{i}"), score=NOW_S + i, pipe=pipe)
    pipe.execute()
    add(seed, "completed", "c1", score=NOW_S + 3600)
    add(seed, "aggregating", "g1")
    r.set("asynq:{q}:unique:t:x", "pending1")
    r.set(keys.paused("q"), NOW_S)
    r.set(keys.processed_total("q"), 7)
    calls = []
    original = Operations._tasks_call
    monkeypatch.setattr(Operations, "_tasks_call",
                        lambda self, *a, **k: calls.append(a[0]) or original(self, *a, **k))
    assert op1.delete_queue("q", force=True) == OpResult(DONE)
    assert calls.count("purge") == 4 * 3
    left = {e["key"] for e in dump(r)}
    assert left == {
        "asynq:{q}:completed", "asynq:{q}:t:c1", "asynq:{q}:groups", f"asynq:{{q}}:g:{GROUP}",
        "asynq:{q}:t:g1", "asynq:{q}:unique:t:x", "asynq:{q}:paused", "asynq:{q}:processed",
    }


def test_delete_queue_force_stops_when_a_task_becomes_active(op1, seed, r, monkeypatch):
    monkeypatch.setattr(operations_module, "DEFAULT_CHUNK", 10)
    for i in range(40):
        add(seed, "pending", f"p{i:02d}")
    original = Operations._tasks_call
    state = {"calls": 0}

    def worker_takes_one(self, *args, **kwargs):
        state["calls"] += 1
        if state["calls"] == 2:  # a worker dequeues between two chunks
            raw = r.rpop(keys.pending("q"))
            r.lpush(keys.active("q"), raw)
            r.hset(keys.task("q", keys.decode_name(raw)), "state", "active")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Operations, "_tasks_call", worker_takes_one)
    assert op1.delete_queue("q", force=True) == OpResult(NOT_EMPTY, "active")
    assert r.sismember(keys.ALL_QUEUES, "q")
    assert r.llen(keys.pending("q")) == 29  # first chunk purged, then stopped
    for raw in r.lrange(keys.pending("q"), 0, -1):
        assert state_of(r, keys.decode_name(raw)) == "pending"


# --- names --------------------------------------------------------------------------------

ODD = ["a:b", "path/to/q", "with space", "ünïcødé 队列 🚀", "{braces}", "}{", "a}b{c", ":", "t:"]


@pytest.mark.parametrize("queue", ODD)
def test_odd_queue_and_task_names(ops, seed, r, queue, redis_backend):
    if redis_backend == "cluster" and queue.startswith("}"):
        # "asynq:{}{}:..." has an empty hash tag: the queue's keys spread over slots and
        # asynq cannot use such a queue on a cluster either. A clear error, not a crash.
        add(seed, "archived", "x", queue=queue)
        with pytest.raises(AsynqError, match="Redis Cluster cannot serve this queue"):
            ops.run_task(queue, "x")
        return
    odd_id = "id:{x}/ü 1"
    for i, state in enumerate(["archived", "retry", "scheduled", "pending"]):
        add(seed, state, f"{odd_id}{i}", queue=queue, score=NOW_S + i)
    seed.add(queue, "aggregating", seed.message(queue, f"{odd_id}g", group_key="g:{1}/ü"),
             score=NOW_S, group="g:{1}/ü")
    # A neighbour whose name extends this one must stay untouched.
    add(seed, "archived", "neighbour", queue=queue + ":")
    assert ops.run_task(queue, f"{odd_id}0").ok
    assert ops.archive_task(queue, f"{odd_id}1", expected_state="retry").ok
    assert ops.delete_task(queue, f"{odd_id}2").ok
    assert sum(c.done for c in ops.iter_run_all(queue, "aggregating", group="g:{1}/ü")) == 1
    assert not r.exists(keys.groups(queue))
    assert pending_ids(r, queue) == [f"{odd_id}g", f"{odd_id}0", f"{odd_id}3"]
    assert sum(c.done for c in ops.iter_archive_all(queue, "pending", chunk=2)) == 3
    assert sum(c.done for c in ops.iter_delete_all(queue, "archived", chunk=2)) == 4
    assert ops.pause_queue(queue).ok and ops.unpause_queue(queue).ok
    assert ops.delete_queue(queue) == OpResult(DONE)
    assert r.smembers(keys.ALL_QUEUES) == {b(queue + ":")}
    assert state_of(r, "neighbour", queue + ":") == "archived"


# --- Redis down ------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redis_down_raises_redis_unavailable():
    ops = Operations(connect(f"redis://127.0.0.1:{_closed_port()}/0"))
    calls = [
        lambda: ops.run_task("q", "t"),
        lambda: ops.run_task("q", "t", reset_retried=True),
        lambda: ops.delete_task("q", "t"),
        lambda: ops.archive_task("q", "t"),
        lambda: ops.update_payload_and_run("q", "t", b"", expected_msg=messages.encode(
            messages.TaskMessage(id="t", queue="q"))),
        lambda: ops.update_payload("q", "t", b"", expected_msg=b""),
        lambda: ops.pause_queue("q"),
        lambda: ops.unpause_queue("q"),
        lambda: ops.delete_queue("q"),
        lambda: ops.delete_queue("q", force=True),
        lambda: ops.cancel_task("t"),
        lambda: ops.cancel_tasks("q", ["t"]),
        lambda: ops.active_ids("q", 10),
        lambda: ops.run_tasks("q", ["t"], expected_state="archived"),
        lambda: ops.delete_tasks("q", ["t"], expected_state="archived"),
        lambda: ops.archive_tasks("q", ["t"], expected_state="retry"),
        lambda: ops.iter_run_all("q", "archived"),
        lambda: ops.iter_delete_all("q", "archived"),
        lambda: ops.iter_archive_all("q", "pending"),
    ]
    for fn in calls:
        with pytest.raises(RedisUnavailable, match="^Redis unreachable: "):
            fn()


def test_redis_lost_midway_through_an_iteration(op1, seed, r, monkeypatch):
    archived_n(seed, 30)
    it = op1.iter_run_all("q", "archived", chunk=10)
    assert next(it).done == 10

    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("connection lost")

    monkeypatch.setattr(r, "execute_command", down)
    with pytest.raises(RedisUnavailable):
        next(it)
    # Give the client back before the fixture empties the DB with it.
    monkeypatch.undo()


# --- scripts ------------------------------------------------------------------------------


def test_scripts_load_themselves(op1, seed, r, monkeypatch):
    import hashlib

    add(seed, "archived", "t1")
    fresh = operations_module._Script("op_tasks")
    fresh.source += f"\n-- {id(fresh)} {dt.datetime.now().isoformat()}\n"
    fresh.sha = hashlib.sha1(fresh.source.encode()).hexdigest()
    monkeypatch.setattr(operations_module, "_OP_TASKS", fresh)
    monkeypatch.setattr(operations_module, "_SCRIPTS", (fresh,))
    assert r.script_exists(fresh.sha) == [False]
    assert op1.run_task("q", "t1").ok
    assert r.script_exists(fresh.sha) == [True]


def test_lua_files_document_keys_argv_and_returns():
    for script in operations_module._SCRIPTS:
        head = script.source[:3000]
        assert "KEYS[1]" in head and "ARGV[1]" in head and "Return" in head, script.name


def test_group_of_explicit_ids_is_checked(op1, seed, r):
    add(seed, "aggregating", "mine")
    seed.add("q", "aggregating", seed.message("q", "theirs", group_key="other"), score=1,
             group="other")
    chunks = list(op1.iter_run_all("q", "aggregating", group=GROUP, ids=["mine", "theirs"]))
    assert chunks[0].done == 1
    assert chunks[0].failures == {"theirs": OpResult(CHANGED, "aggregating")}
    assert r.zscore(keys.group("q", "other"), "theirs") is not None


def test_rewrite_refuses_a_task_without_msg(op1, seed, r):
    for task_id in ["no-msg", "empty-msg"]:
        add(seed, "archived", task_id)
    r.hdel(keys.task("q", "no-msg"), "msg")
    r.hset(keys.task("q", "empty-msg"), "msg", b"")
    before = dump(r)
    res = op1.run_tasks("q", ["no-msg", "empty-msg"], expected_state="archived",
                        reset_retried=True)
    assert res == {"no-msg": OpResult(BROKEN, "archived"),
                   "empty-msg": OpResult(BROKEN, "archived")}
    assert dump(r) == before


# --- a msg that is missing or not a TaskMessage of this task ---------------------------------

DAMAGED_MSGS = {
    "no-msg": None,
    "garbage": b"\xff\xfe not protobuf \x00\x01",
    "truncated": None,  # filled in below from a valid msg
    "bad-utf8-type": None,
    "other-id": None,
    "other-queue": None,
    "empty": b"",
}


def _damage(seed, r, kind, task_id, state):
    msg = add(seed, state, task_id, error_msg="boom", retried=1)
    raw = messages.encode(msg)
    key = keys.task("q", task_id)
    if kind == "no-msg":
        r.hdel(key, "msg")
        return
    value = {
        "truncated": raw[:-1],  # inside the last varint
        "bad-utf8-type": messages.encode(seed.message("q", task_id)).replace(b"test:task", b"test:\xc0\xaf"),
        "other-id": messages.encode(seed.message("q", task_id + "x")),
        "other-queue": messages.encode(seed.message("q2", task_id)),
    }.get(kind, DAMAGED_MSGS[kind])
    r.hset(key, "msg", value)


@pytest.mark.parametrize("kind", list(DAMAGED_MSGS))
def test_run_and_archive_refuse_a_damaged_msg_and_change_nothing(ops, seed, r, kind):
    """asynq's RunTask / ArchiveTask look only at the hash's state, so they would
    move such a task, and asynq's Dequeue would then fail on it ("cannot decode
    message"). We answer BROKEN instead; delete still works, as asynq's."""
    _damage(seed, r, kind, "a1", "archived")
    _damage(seed, r, kind, "r1", "retry")
    _damage(seed, r, kind, "p1", "pending")
    before = dump(r)
    assert ops.run_task("q", "a1") == OpResult(BROKEN, "archived")
    assert ops.run_task("q", "a1", expected_state="archived") == OpResult(BROKEN, "archived")
    assert ops.archive_task("q", "r1") == OpResult(BROKEN, "retry")
    assert ops.archive_task("q", "p1", expected_state="pending") == OpResult(BROKEN, "pending")
    assert ops.run_tasks("q", ["a1"], expected_state="archived")["a1"] == OpResult(BROKEN, "archived")
    assert ops.archive_tasks("q", ["p1"], expected_state="pending")["p1"] == OpResult(BROKEN, "pending")
    assert dump(r) == before
    assert ops.delete_task("q", "a1") == OpResult(DONE)
    assert not r.exists(keys.task("q", "a1"))


def test_redrive_skips_damaged_msgs_and_moves_the_rest(ops, seed, r):
    ids = archived_n(seed, 12)
    r.hdel(keys.task("q", ids[3]), "msg")
    r.hset(keys.task("q", ids[7]), "msg", b"\x0a\xff")
    chunks = list(ops.iter_run_all("q", "archived", chunk=5))
    failures = {k: v for c in chunks for k, v in c.failures.items()}
    assert failures == {ids[3]: OpResult(BROKEN, "archived"), ids[7]: OpResult(BROKEN, "archived")}
    assert sum(c.done for c in chunks) == 10
    assert zset_ids(r, keys.archived("q")) == [ids[3], ids[7]]
    assert [state_of(r, i) for i in (ids[3], ids[7])] == ["archived", "archived"]
    r.hdel(keys.task("q", ids[0]), "msg")  # now pending, damaged: archive-all leaves it
    chunks = list(ops.iter_archive_all("q", "pending", chunk=4))
    assert {k for c in chunks for k in c.failures} == {ids[0]} and state_of(r, ids[0]) == "pending"


def _python_verdict(raw: bytes, task_id: str) -> bool:
    """True if our decoder (upb) reads raw as this task's msg, as a task page would."""
    try:
        m = messages.parse_task_message(raw)
    except messages.MessageDecodeError:
        return False
    return m.id == task_id and m.queue == "q"


def test_the_scripts_msg_check_agrees_with_the_decoder(op1, seed, r):
    """The Lua check and the protobuf runtime agree on every msg of a large sample:
    valid msgs (headers, unknown fields, odd text) and their truncations, byte flips
    and insertions."""
    import random

    rng = random.Random(1313)
    bases = [
        messages.encode(seed.message("q", "t", error_msg="ошибка 🔒", headers={"k": "v", "ü": "ß"}, group_key="g",
                                     unique_key="asynq:{q}:unique:x", retried=3, last_failed_at=NOW_S)),
        _unknown_field(messages.encode(seed.message("q", "t", payload=bytes(range(256))))),
        messages.encode(seed.message("q", "t", type="")),
    ]
    samples = list(bases)
    for _ in range(600):
        raw = bytearray(rng.choice(bases))
        how = rng.randrange(4)
        pos = rng.randrange(len(raw))
        if how == 0:
            del raw[pos:]
        elif how == 1:
            raw[pos] = rng.randrange(256)
        elif how == 2:
            raw[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
        else:
            raw[pos] ^= 0x80
        samples.append(bytes(raw))
    disagree = []
    for raw in samples:
        r.delete(keys.task("q", "t"), keys.archived("q"), keys.pending("q"))
        add(seed, "archived", "t")
        r.hset(keys.task("q", "t"), "msg", raw)
        moved = op1.run_task("q", "t").outcome is DONE
        if moved != _python_verdict(raw, "t"):
            disagree.append(raw)
    assert disagree == [] and sum(_python_verdict(s, "t") for s in samples) > 50
