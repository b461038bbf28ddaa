"""Pages and orderings, as the golden README's "Orderings" define them."""

from __future__ import annotations

import datetime as dt

import pytest

from dlqadmin.asynq import Inspector, TaskInfo, keys
from dlqadmin.asynq.inspector import MAX_PAGE_SIZE

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.timezone.utc)
NOW_S = int(NOW.timestamp())


def ids(page) -> list[str]:
    return [t.id for t in page.tasks]


@pytest.fixture
def inspector(r):
    return Inspector(r, now=lambda: NOW)


@pytest.fixture
def pending_250(seed):
    """t000..t249 enqueued in that order: LPUSH puts t249 at the head."""
    pipe = seed.r.pipeline(transaction=False)
    for i in range(250):
        seed.add("q", "pending", seed.message("q", f"t{i:03d}"), pipe=pipe)
    pipe.execute()
    return [f"t{i:03d}" for i in range(250)]


def test_pending_is_oldest_first(inspector, pending_250, r):
    # The raw list is newest first; asynq shows it reversed.
    assert r.lindex(keys.pending("q"), 0) == b"t249"
    page = inspector.list_tasks("q", "pending", page=1, page_size=100)
    assert ids(page) == pending_250[:100]
    assert page.total == 250 and page.broken == 0


def test_pending_pages(inspector, pending_250):
    assert ids(inspector.list_tasks("q", "pending", page=2, page_size=100)) == pending_250[100:200]
    last = inspector.list_tasks("q", "pending", page=3, page_size=100)
    assert ids(last) == pending_250[200:]
    assert (last.page, last.page_size, last.total) == (3, 100, 250)


@pytest.mark.parametrize("page", [4, 5, 1000])
def test_page_beyond_the_end_is_empty(inspector, pending_250, page):
    beyond = inspector.list_tasks("q", "pending", page=page, page_size=100)
    assert beyond.tasks == [] and beyond.total == 250 and beyond.broken == 0


@pytest.mark.parametrize("page_size", [1, 7, 20, 99, 100, 249, 250, 251, MAX_PAGE_SIZE])
def test_pages_concatenate_to_the_whole_list(inspector, pending_250, page_size):
    seen, page = [], 1
    while True:
        got = inspector.list_tasks("q", "pending", page=page, page_size=page_size)
        if not got.tasks:
            break
        assert len(got.tasks) <= page_size
        seen += ids(got)
        page += 1
    assert seen == pending_250


def test_pending_next_process_at_is_now(inspector, pending_250):
    page = inspector.list_tasks("q", "pending", page_size=5)
    assert all(t.next_process_at == NOW for t in page.tasks)


@pytest.fixture
def archived_zset(seed):
    """Scores out of insertion order, with ties broken by member bytes."""
    entries = [("b", 300), ("a", 300), ("z", 100), ("m", 200), ("c", 300), ("y", 50)]
    pipe = seed.r.pipeline(transaction=False)
    for task_id, score in entries:
        msg = seed.message("q", task_id, last_failed_at=score, error_msg=f"boom {task_id}")
        seed.add("q", "archived", msg, score=score, pipe=pipe)
    pipe.execute()
    return ["y", "z", "m", "a", "b", "c"]


def test_zset_is_by_score_then_member(inspector, archived_zset):
    page = inspector.list_tasks("q", "archived", page_size=100)
    assert ids(page) == archived_zset
    assert [t.last_err for t in page.tasks] == [f"boom {i}" for i in archived_zset]
    # Archived tasks have no next process time.
    assert all(t.next_process_at is None for t in page.tasks)


@pytest.mark.parametrize("page_size", [1, 2, 4, 5, 6])
def test_zset_pages(inspector, archived_zset, page_size):
    seen = []
    for page in range(1, 8):
        seen += ids(inspector.list_tasks("q", "archived", page=page, page_size=page_size))
    assert seen == archived_zset


@pytest.mark.parametrize("state", ["scheduled", "retry"])
def test_scheduled_and_retry_next_process_at_is_the_score(inspector, seed, state):
    for i, score in enumerate([NOW_S + 30, NOW_S + 10, NOW_S + 20]):
        seed.add("q", state, seed.message("q", f"s{i}"), score=score)
    page = inspector.list_tasks("q", state)
    assert ids(page) == ["s1", "s2", "s0"]
    assert [t.next_process_at for t in page.tasks] == [
        NOW + dt.timedelta(seconds=s) for s in (10, 20, 30)
    ]


def test_completed_order_and_result(inspector, seed):
    seed.add("q", "completed", seed.message("q", "late", completed_at=NOW_S, retention=60),
             score=NOW_S + 60, result=b"\x00result")
    seed.add("q", "completed", seed.message("q", "early", completed_at=NOW_S - 10, retention=5),
             score=NOW_S - 5)
    page = inspector.list_tasks("q", "completed")
    assert ids(page) == ["early", "late"]
    early, late = page.tasks
    assert early.result is None and late.result == b"\x00result"
    assert late.completed_at == NOW and late.retention_seconds == 60
    assert late.next_process_at is None


def test_active_list_and_orphans(inspector, seed):
    # Lease in the past (or exactly now: asynq's cutoff is inclusive) ->
    # orphaned; in the future -> a live worker holds it.
    seed.add("q", "active", seed.message("q", "expired"), score=NOW_S - 1)
    seed.add("q", "active", seed.message("q", "edge"), score=NOW_S)
    seed.add("q", "active", seed.message("q", "live"), score=NOW_S + 30)
    page = inspector.list_tasks("q", "active")
    assert ids(page) == ["expired", "edge", "live"]
    assert [t.is_orphaned for t in page.tasks] == [True, True, False]
    assert [inspector.get_task("q", i).is_orphaned for i in ids(page)] == [True, True, False]
    assert all(t.next_process_at is None for t in page.tasks)


def test_active_without_lease_is_not_orphaned(inspector, seed, r):
    seed.add("q", "active", seed.message("q", "a"), score=NOW_S - 100)
    r.zrem(keys.lease("q"), "a")
    assert inspector.list_tasks("q", "active").tasks[0].is_orphaned is False


def test_aggregating_needs_a_group(inspector, seed):
    for i, score in enumerate([30, 10, 20]):
        seed.add("q", "aggregating", seed.message("q", f"g{i}", group_key="user:1"),
                 score=score, group="user:1")
    page = inspector.list_tasks("q", "aggregating", group="user:1")
    assert ids(page) == ["g1", "g2", "g0"]
    assert all(t.group == "user:1" and t.next_process_at is None for t in page.tasks)
    assert ids(inspector.list_tasks("q", "aggregating", page=2, page_size=2, group="user:1")) == ["g0"]
    with pytest.raises(ValueError, match="group"):
        inspector.list_tasks("q", "aggregating")
    with pytest.raises(ValueError, match="group"):
        inspector.list_tasks("q", "archived", group="user:1")
    unknown = inspector.list_tasks("q", "aggregating", group="nobody")
    assert unknown.tasks == [] and unknown.total == 0


@pytest.mark.parametrize(
    ("page", "page_size"),
    [(0, 20), (-1, 20), (1, 0), (1, MAX_PAGE_SIZE + 1), ("1", 20), (1, "20"), (True, 20), (1.0, 20)],
)
def test_bad_page_arguments(inspector, seed, page, page_size):
    seed.queue("q")
    with pytest.raises(ValueError):
        inspector.list_tasks("q", "pending", page=page, page_size=page_size)


@pytest.mark.parametrize("state", ["", "PENDING", "dead", None, "aggregating "])
def test_bad_state(inspector, seed, state):
    seed.queue("q")
    with pytest.raises(ValueError, match="state"):
        inspector.list_tasks("q", state)


def test_empty_states_of_an_existing_queue(inspector, seed):
    seed.queue("q")
    for state in ("pending", "active", "scheduled", "retry", "archived", "completed"):
        page = inspector.list_tasks("q", state)
        assert page.tasks == [] and page.total == 0 and page.broken == 0


def test_default_page_size(inspector, pending_250):
    page = inspector.list_tasks("q", "pending")
    assert page.page == 1 and page.page_size == 20 and ids(page) == pending_250[:20]
    assert all(isinstance(t, TaskInfo) for t in page.tasks)


def test_scheduler_enqueue_events_pages(inspector, r):
    from dlqadmin.asynq import messages

    key = keys.scheduler_history("entry-1")
    for i in range(25):
        event = messages.SchedulerEnqueueEventMessage(
            task_id=f"task-{i:02d}", enqueued_at=NOW + dt.timedelta(seconds=i)
        )
        r.zadd(key, {messages.encode(event): NOW_S + i})
    first = inspector.scheduler_enqueue_events("entry-1", page=1, page_size=10)
    assert [e.task_id for e in first] == [f"task-{i:02d}" for i in range(24, 14, -1)]
    last = inspector.scheduler_enqueue_events("entry-1", page=3, page_size=10)
    assert [e.task_id for e in last] == [f"task-{i:02d}" for i in range(4, -1, -1)]
    assert last[0].enqueued_at == NOW + dt.timedelta(seconds=4)
    assert inspector.scheduler_enqueue_events("entry-1", page=4, page_size=10) == []
    assert inspector.scheduler_enqueue_events("no-such-entry") == []
    with pytest.raises(ValueError):
        inspector.scheduler_enqueue_events("entry-1", page=0)


def test_cluster_code_path_gives_the_same_page(inspector, pending_250, r):
    # On Redis Cluster the queue-exists test cannot run inside the script
    # (asynq:queues is in another slot): it goes in a pipeline beside it.
    # Both paths run on a single Redis, so compare them here.
    cluster_style = Inspector(r, now=lambda: NOW)
    cluster_style._cluster = True
    for page in (1, 3, 4):
        assert cluster_style.list_tasks("q", "pending", page=page, page_size=100) == \
            inspector.list_tasks("q", "pending", page=page, page_size=100)
    from dlqadmin.asynq import QueueNotFound

    with pytest.raises(QueueNotFound):
        cluster_style.list_tasks("nope", "pending")
    with pytest.raises(QueueNotFound):
        inspector.list_tasks("nope", "pending")


# --- newest first (order="desc"): Redis reads the reverse range, nothing more -------------

def test_pending_newest_first_is_the_reverse(inspector, pending_250):
    first = inspector.list_tasks("q", "pending", page=1, page_size=100, order="desc")
    assert ids(first) == pending_250[::-1][:100]
    assert first.total == 250
    last = inspector.list_tasks("q", "pending", page=3, page_size=100, order="desc")
    assert ids(last) == pending_250[::-1][200:]


@pytest.mark.parametrize("page_size", [1, 2, 4, 5, 6])
def test_archived_newest_first_pages(inspector, archived_zset, page_size):
    seen = []
    for page in range(1, 8):
        seen += ids(inspector.list_tasks("q", "archived", page=page, page_size=page_size, order="desc"))
    assert seen == archived_zset[::-1]


def test_newest_first_keeps_the_scores(inspector, seed):
    for i, score in enumerate([NOW_S + 30, NOW_S + 10, NOW_S + 20]):
        seed.add("q", "retry", seed.message("q", f"s{i}"), score=score)
    page = inspector.list_tasks("q", "retry", order="desc")
    assert ids(page) == ["s0", "s2", "s1"]
    assert [t.next_process_at for t in page.tasks] == [NOW + dt.timedelta(seconds=s) for s in (30, 20, 10)]


def test_unknown_order_is_refused(inspector):
    with pytest.raises(ValueError):
        inspector.list_tasks("q", "archived", order="sideways")


# --- neighbours: previous / next of one task in the same order ------------------------------

def test_neighbours_follow_the_page_order(inspector, archived_zset, pending_250):
    z = archived_zset
    assert inspector.neighbours("q", "archived", z[0]) == (None, z[1])
    assert inspector.neighbours("q", "archived", z[2]) == (z[1], z[3])
    assert inspector.neighbours("q", "archived", z[2], order="desc") == (z[3], z[1])
    assert inspector.neighbours("q", "archived", z[-1], order="desc") == (None, z[-2])
    assert inspector.neighbours("q", "archived", "nope") is None
    p = pending_250
    assert inspector.neighbours("q", "pending", p[0]) == (None, p[1])
    assert inspector.neighbours("q", "pending", p[100]) == (p[99], p[101])
    assert inspector.neighbours("q", "pending", p[100], order="desc") == (p[101], p[99])
    assert inspector.neighbours("q", "pending", p[-1], order="desc") == (None, p[-2])
