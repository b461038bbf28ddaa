"""Beyond the golden sample: thousands of tasks we write ourselves in asynq's
layout, and every small state asynq produced in the ops/ fixtures."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from dlqadmin.asynq import BrokenTask, Inspector, TaskInfo, keys
from tests.support.redis_snapshot import restore

from .conftest import GOLDEN

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.timezone.utc)
NOW_S = int(NOW.timestamp())
N_ARCHIVED = 5000
N_PENDING = 2000


@pytest.fixture
def big_queue(seed):
    rng = random.Random(7)
    pipe = seed.r.pipeline(transaction=False)
    expected_archived = []
    for i in range(N_ARCHIVED):
        task_id = f"arch-{i:05d}"
        failed_at = NOW_S - 86400 + rng.randrange(3600)  # many ties on purpose
        msg = seed.message(
            "big",
            task_id,
            type=f"type:{i % 7}",
            payload=json.dumps({"i": i, "email": f"user{i}@example.com"}).encode(),
            error_msg=f"error {i}: upstream said no",
            last_failed_at=failed_at,
            retry=i % 4,
            retried=i % 4,
            headers={"n": str(i)} if i % 3 == 0 else {},
        )
        seed.add("big", "archived", msg, score=failed_at, pipe=pipe)
        expected_archived.append((failed_at, task_id.encode(), task_id))
    for i in range(N_PENDING):
        seed.add("big", "pending", seed.message("big", f"pend-{i:05d}"), pipe=pipe)
    pipe.execute()
    # asynq's zset order: score, then member bytes.
    archived_order = [task_id for _, _, task_id in sorted(expected_archived)]
    return archived_order


def test_big_queue_stats(r, big_queue):
    info = Inspector(r, now=lambda: NOW).queue_info("big")
    assert info.archived == N_ARCHIVED and info.pending == N_PENDING
    assert info.size == N_ARCHIVED + N_PENDING
    # Sampled estimate: at least the raw msg bytes of the tasks.
    assert info.memory_usage > N_ARCHIVED * 100


@pytest.mark.parametrize("page_size", [100, 333, 1000])
def test_big_archived_pages_cover_everything_in_order(r, big_queue, page_size):
    inspector = Inspector(r, now=lambda: NOW)
    seen, page = [], 1
    while True:
        got = inspector.list_tasks("big", "archived", page=page, page_size=page_size)
        assert got.total == N_ARCHIVED and got.broken == 0
        if not got.tasks:
            break
        seen += [t.id for t in got.tasks]
        page += 1
    assert seen == big_queue


def test_big_archived_fields(r, big_queue):
    inspector = Inspector(r, now=lambda: NOW)
    middle = (N_ARCHIVED // 100) // 2
    page = inspector.list_tasks("big", "archived", page=middle, page_size=100)
    for task in page.tasks:
        i = int(task.id.split("-")[1])
        assert isinstance(task, TaskInfo)
        assert task.type == f"type:{i % 7}"
        assert json.loads(task.payload) == {"i": i, "email": f"user{i}@example.com"}
        assert task.last_err == f"error {i}: upstream said no"
        assert task.max_retry == task.retried == i % 4
        assert task.headers == ({"n": str(i)} if i % 3 == 0 else None)
        assert task.state == "archived" and task.next_process_at is None
        assert task.last_failed_at is not None
        assert inspector.get_task("big", task.id) == task


def test_big_pending_order(r, big_queue):
    inspector = Inspector(r, now=lambda: NOW)
    last = inspector.list_tasks("big", "pending", page=N_PENDING // 100, page_size=100)
    assert [t.id for t in last.tasks] == [f"pend-{i:05d}" for i in range(N_PENDING - 100, N_PENDING)]


OPS_SNAPSHOTS = sorted(
    p for d in (GOLDEN / "ops").iterdir() for p in (d / "before.json", d / "after.json")
)


@pytest.mark.parametrize("path", OPS_SNAPSHOTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_ops_state_reads_cleanly(r, path):
    """Each small state asynq produced: every listed id decodes, lands in the
    state it is listed in, and the counts match the keys' cardinalities."""
    with open(path, encoding="utf-8") as fh:
        snap = json.load(fh)
    restore(r, snap, with_ttl=False)
    inspector = Inspector(r)
    hashes_seen = set()
    for queue in inspector.queues():
        info = inspector.queue_info(queue)
        states = ("pending", "active", "scheduled", "retry", "archived", "completed")
        for state in states:
            page = inspector.list_tasks(queue, state, page_size=1000)
            assert page.total == getattr(info, state) == len(page.tasks)
            assert not any(isinstance(t, BrokenTask) for t in page.tasks)
            for task in page.tasks:
                assert task.state == state and task.queue == queue
                assert inspector.get_task(queue, task.id).state == state
                hashes_seen.add((queue, task.id))
        for group in inspector.groups(queue):
            page = inspector.list_tasks(queue, "aggregating", group=group.group, page_size=1000)
            assert page.total == group.size == len(page.tasks)
            for task in page.tasks:
                assert task.group == group.group
                assert inspector.get_task(queue, task.id).state == "aggregating"
                hashes_seen.add((queue, task.id))
        assert info.size == sum(getattr(info, s) for s in states) + info.aggregating
    # No task of a known queue is unreachable through the lists.
    known = [keys.task_prefix(q).decode() for q in inspector.queues()]
    task_hashes = {
        e["key"] for e in snap
        if e["type"] == "hash" and any(e["key"].startswith(p) for p in known)
    }
    assert task_hashes == {keys.task(q, i).decode() for q, i in hashes_seen}
