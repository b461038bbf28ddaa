"""Our writes against what asynq's own operations did to the same state.

Each directory of tests/fixtures/asynq-golden/ops holds a state built by the
real asynq library (before.json), the Inspector call applied to it (op.json),
what it returned (result.json) and the state right after (after.json). We
restore before.json into the empty test DB, perform our equivalent operation
with a clock standing at op.json's ``performed_at``, dump the DB and compare
it with after.json key by key, byte for byte. Only TTLs are compared loosely
(they count down; the golden README lists them as time-dependent): same
presence, and within a minute of asynq's.

The chunked operations run twice: with the default chunk and with chunks of
one task, which must give exactly the same end state (same pending order).
"""

from __future__ import annotations

import base64
import json

import pytest

from dlqadmin.asynq import Operations, OpOutcome
from tests.support.redis_snapshot import dump, restore

from .conftest import BACKENDS, GOLDEN, parse_go_time

# The same tests on one Redis and on a real Redis Cluster.
REDIS_BACKENDS = BACKENDS

OPS_DIR = GOLDEN / "ops"
OP_NAMES = sorted(p.name for p in OPS_DIR.iterdir() if p.is_dir())
TTL_TOLERANCE_MS = 60_000


def _load(name: str, part: str):
    with open(OPS_DIR / name / f"{part}.json", encoding="utf-8") as fh:
        return json.load(fh)


def _expected_outcome(result: dict) -> OpOutcome:
    if result["ok"]:
        return OpOutcome.DONE
    kinds = result["error_is"]
    if kinds["ErrTaskNotFound"]:
        return OpOutcome.NOT_FOUND
    if kinds["ErrQueueNotFound"]:
        return OpOutcome.QUEUE_NOT_FOUND
    if kinds["ErrQueueNotEmpty"]:
        return OpOutcome.QUEUE_NOT_EMPTY
    if "FAILED_PRECONDITION" in result["error"]:
        return OpOutcome.WRONG_STATE
    raise AssertionError(f"unmapped golden error {result['error']!r}")


def _current_msg(before: list[dict], queue: str, task_id: str) -> bytes:
    key = f"asynq:{{{queue}}}:t:{task_id}"
    entry = next(e for e in before if e["key"] == key)
    return base64.b64decode(entry["value"]["msg"]["b64"])


ALL_STATE = {
    "run-all-archived": "archived",
    "run-all-retry": "retry",
    "run-all-aggregating": "aggregating",
    "delete-all-archived": "archived",
    "delete-all-pending": "pending",
    "delete-all-aggregating": "aggregating",
    "archive-all-pending": "pending",
    "archive-all-aggregating": "aggregating",
}


def perform(ops: Operations, op: dict, before: list[dict], chunk: int):
    """Our equivalent of the golden op: (outcome, count or None)."""
    name, queue, task_id = op["op"], op["queue"], op["id"]
    if name in ALL_STATE:
        verb = name.split("-all-")[0]
        iterate = {
            "run": ops.iter_run_all,
            "delete": ops.iter_delete_all,
            "archive": ops.iter_archive_all,
        }[verb]
        state = ALL_STATE[name]
        group = op["group"] if state == "aggregating" else None
        chunks = list(iterate(queue, state, chunk=chunk, group=group))
        assert all(c.failed == 0 and c.ids_failed == [] for c in chunks), chunks
        assert all(c.done <= chunk for c in chunks)
        return OpOutcome.DONE, sum(c.done for c in chunks)
    if name == "run-task":
        return ops.run_task(queue, task_id).outcome, None
    if name == "delete-task":
        return ops.delete_task(queue, task_id).outcome, None
    if name == "archive-task":
        return ops.archive_task(queue, task_id).outcome, None
    if name == "pause":
        return ops.pause_queue(queue).outcome, None
    if name == "unpause":
        return ops.unpause_queue(queue).outcome, None
    if name == "delete-queue":
        return ops.delete_queue(queue, force=op["force"]).outcome, None
    if name == "update-task-payload":
        payload = base64.b64decode(op["payload_b64"])
        result = ops.update_payload(
            queue, task_id, payload, expected_msg=_current_msg(before, queue, task_id)
        )
        return result.outcome, None
    raise AssertionError(f"no equivalent for golden op {name!r}")


def assert_same_db(ours: list[dict], theirs: list[dict]) -> None:
    assert [e["key"] for e in ours] == [e["key"] for e in theirs]
    for mine, gold in zip(ours, theirs):
        where = gold["key"]
        assert mine["type"] == gold["type"], where
        assert mine["value"] == gold["value"], where
        if gold["ttl_ms"] == -1:
            assert mine["ttl_ms"] == -1, where
        else:
            assert mine["ttl_ms"] > 0, where
            assert abs(mine["ttl_ms"] - gold["ttl_ms"]) <= TTL_TOLERANCE_MS, where


def test_every_golden_op_is_covered():
    names = {_load(n, "op")["op"] for n in OP_NAMES}
    assert names == {
        "archive-all-aggregating", "archive-all-pending", "archive-task",
        "delete-all-aggregating", "delete-all-archived", "delete-all-pending",
        "delete-queue", "delete-task", "pause", "run-all-aggregating",
        "run-all-archived", "run-all-retry", "run-task", "unpause",
        "update-task-payload",
    }
    assert len(OP_NAMES) == 30


CASES = [(n, 500) for n in OP_NAMES] + [
    (n, 1) for n in OP_NAMES if _load(n, "op")["op"] in ALL_STATE
]


@pytest.mark.parametrize(("name", "chunk"), CASES, ids=[f"{n}-chunk{c}" for n, c in CASES])
def test_golden_op(r, name, chunk):
    op = _load(name, "op")
    before, after, result = _load(name, "before"), _load(name, "after"), _load(name, "result")
    restore(r, before)
    performed_at = parse_go_time(op["performed_at"])
    assert int(performed_at.timestamp()) == op["performed_at_unix"]
    ops = Operations(r, now=lambda: performed_at)

    outcome, count = perform(ops, op, before, chunk)

    assert outcome is _expected_outcome(result), result
    if "count" in result:
        assert count == result["count"]
    assert_same_db(dump(r), after)


@pytest.mark.parametrize("name", ["archive-task-pending", "archive-all-pending", "pause-queue"])
def test_time_stamped_values_use_the_real_clock(r, name):
    """Without a fake clock the stamped scores / values are "now".

    Needs the real clock: proves Operations without `now` stamps the system's time."""
    import time

    op = _load(name, "op")
    restore(r, _load(name, "before"))
    t0 = int(time.time())
    perform(Operations(r), op, _load(name, "before"), 500)
    t1 = int(time.time())
    for entry in dump(r):
        if entry["key"].endswith(":archived"):
            stamped = [s for _, s in entry["value"] if s >= t0 - 1]
            assert stamped and all(t0 <= s <= t1 for s in stamped)
        if entry["key"].endswith(":paused"):
            assert t0 <= int(base64.b64decode(entry["value"]["b64"])) <= t1
