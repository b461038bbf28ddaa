"""Writes to asynq's Redis state: run, delete, archive, redrive, pause, cancel.

    from dlqadmin.asynq import Operations, OpOutcome
    ops = Operations(client)
    result = ops.run_task("payments", task_id, expected_state="archived")
    if result.outcome is OpOutcome.CHANGED: ...   # someone else got there first
    for chunk in ops.iter_run_all("payments", "archived"):   # redrive the DLQ
        progress(chunk.done, chunk.failed)

Every state change is one Lua script call (``lua/op_*.lua``), atomic and
idempotent: each task is checked against its hash inside the script and is
either moved completely or not at all. Nothing raises for the state of a task
or queue; the result says what happened:

``OpResult(outcome, state)``, ``outcome`` an ``OpOutcome``:

- ``DONE``             the change was made;
- ``NOT_FOUND``        no such task in the queue;
- ``QUEUE_NOT_FOUND``  the queue is not in ``asynq:queues``;
- ``WRONG_STATE``      the op is not allowed in the task's state (run on
  pending/active, archive on archived/active, delete on active; pause of a
  paused queue, unpause of a running one);
- ``CHANGED``          the task is no longer in the state the caller expected
  (``expected_state``), or for a compare-and-set its msg is no longer the one
  the caller read;
- ``QUEUE_NOT_EMPTY``  ``delete_queue`` refused (``state`` says why:
  the first non-empty state, or ``"active"``);
- ``BROKEN``           the task's data is damaged (hash without state or msg,
  an unknown state, an id missing from its state's key; for run and archive
  also a msg that is missing or not a valid TaskMessage of this task, see
  difference 8 below): nothing was changed.

``state`` is the task's state after the call where known (``None`` once
deleted), or ``"paused"`` / ``"running"`` for a queue.

Redis connection failures raise ``RedisUnavailable``; other Redis error
replies raise ``AsynqError``; bad arguments raise ``ValueError``.

Bulk work
---------

``run_tasks`` / ``delete_tasks`` / ``archive_tasks`` act on selected ids, one
script call per chunk, and return a result per id. ``iter_run_all`` /
``iter_delete_all`` / ``iter_archive_all`` act on every task of a state (or an
explicit id list) and are generators yielding a ``ChunkResult`` per script
call, so the caller can report progress, pause, cancel or rate-limit between
chunks. A chunk is sized so that one call stays well under 5 ms of Redis time
(median 1.4 ms, max 3.5 ms for 250 tasks on 100,000; bench/bench_redrive.py,
bench/README.md): asynq's RunAllArchivedTasks moves everything in one call
(420 ms at 100,000 on the same machine, every other client blocked meanwhile).
The "all" iterations let the script take the next chunk from the state's key
itself (one round trip per chunk, only failed ids come back).

Chunked runs are crash safe: every chunk is atomic and re-checks each id, so
an abandoned iteration leaves each task either fully moved or untouched and a
new iteration simply continues with what is left. An ``*_all`` iteration
takes the tasks oldest first (zset score order; pending lists from the tail)
and only those present when it started (score at most the highest score seen
at the start, and at most as many tasks as there were), so it ends even while
new tasks keep arriving, e.g. redriven tasks that fail straight back into the
archive. Redrive pushes ids in asynq's order: the oldest archived task ends
up nearest the tail of the pending list, i.e. runs first.

Where we match asynq exactly (proved against the golden fixtures in
tests/fixtures/asynq-golden/ops, see tests/asynq/test_ops_golden.py)
--------------------------------------------------------------------------

- run: the id goes to the head of the pending list and only the hash's
  ``state`` changes (msg, group, unique_key kept; no pending_since added);
  from a group, the group leaves ``:groups`` with its last task.
- archive: score = now, only ``state`` changes (pending_since kept).
- delete: hash deleted; delete_task/delete_tasks and the delete-all of
  archived/retry/scheduled/completed also delete the uniqueness lock when it
  still holds the task's id; delete-all of pending and of a group leave locks,
  as asynq's DeleteAllPendingTasks / DeleteAllAggregatingTasks do.
- delete_queue: see its docstring.

Deliberate differences from asynq
---------------------------------

1. No trimming of the archive. asynq trims the archived zset to its newest
   9,999 members and drops members older than 90 days on every archive
   (ArchiveTask and ArchiveAll*), and when its Inspector does it the trimmed
   tasks' hashes stay behind, orphaned. Archiving from the dashboard never
   trims: it never deletes other dead tasks as a side effect and never
   leaves an orphaned task hash. (asynq's own server still trims when it
   archives a failed task; that is not ours to change.)
2. No orphans of either kind. An id whose task hash is missing (a stale id)
   is removed from the key it was found in and reported ``NOT_FOUND``;
   asynq's RunAll*/ArchiveAll* would push it on and create a hash holding
   only ``state``, which workers then trip over. A hash is never left without
   an id in its state's key, nor an id without a hash.
3. Every id of a bulk operation is re-checked inside the script (its hash's
   state, and membership of its state's key); asynq's *All* scripts trust
   the key. An id whose hash disagrees with the key it sits in (damaged
   data) is reported (CHANGED / BROKEN) and left where it is; the iteration
   goes on past it.
4. Damaged data is refused with ``BROKEN`` instead of a Lua error reply
   midway through a script.
5. pause_queue / unpause_queue require the queue to exist (asynq would
   create the paused flag of any name).
6. delete_queue(force=True) purges in chunks instead of one call (see its
   docstring for what that means for concurrent writers).
7. A pending task leaves the pending list with ``LREM key -1 id`` (one
   occurrence, scanning from the tail, where the oldest tasks that bulk
   operations take first sit) where asynq uses count 1 (archive) or 0
   (delete). asynq never puts an id twice in a list, so the effect is the
   same; the scan is O(1) instead of O(list) for bulk work.
8. run and archive refuse a task whose msg is missing, is not valid protobuf,
   holds a string field that is not UTF-8, or names another id or queue
   (checked inside the script, field headers only). asynq's RunTask /
   ArchiveTask read only the hash's ``state`` and would move it; its
   Dequeue would then fail to decode it ("cannot decode message") and the
   task would sit in active. delete works on such a task, like asynq's
   DeleteTask: it is how an operator gets rid of one.

``update_payload`` is asynq's UpdateTaskPayload (scheduled tasks only; golden
``update-task-payload-scheduled``); ``update_payload_and_run`` is ours
(archived tasks, then pending), both compare-and-set on the msg bytes and
keep every other msg field, unknown (newer asynq) fields included.

``reset_retried=True`` ("retry with a fresh retry budget") rewrites the msg
with ``retried = 0`` in the same atomic call that moves the task (a
compare-and-set on the msg bytes read just before). ``error_msg`` and
``last_failed_at`` are kept: asynq only compares ``retried`` with ``retry``
to decide between retrying and archiving, so the task gets its full budget
either way, and asynq itself produces tasks with ``retried = 0`` and a last
error (a task archived without retries, e.g. SkipRetry), so readers handle
it; the operator keeps seeing why the task died until its next attempt
overwrites both fields.
"""

from __future__ import annotations

import datetime as _dt
import enum
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator


import redis
from redis.sentinel import SentinelConnectionPool

from . import keys, messages
from .errors import MessageDecodeError, QueueNotFound
from .scripts import _Script, ScriptClient, _wrap_unavailable

UTC = _dt.timezone.utc

_OP_TASKS = _Script("op_tasks")
_OP_UPDATE_PAYLOAD = _Script("op_update_payload")
_OP_QUEUE = _Script("op_queue")
_OP_CANCEL = _Script("op_cancel")
_SCRIPTS = (_OP_TASKS, _OP_UPDATE_PAYLOAD, _OP_QUEUE, _OP_CANCEL)

# Tasks per script call, measured with bench/bench_redrive.py (100,000
# archived tasks, quiet host; see bench/README.md). Since each task's msg is
# checked before it moves, 250 took 2.9 ms median, 6.5 ms p99 and calls over
# 5 ms; 150 takes 1.7-1.9 ms median, 3-4.3 ms p99, and a 100,000-task redrive
# 1.4-1.6 s in 667 round trips (100: 1.1 ms median, 1,000 round trips).
# - "all" chunks (the script takes the next ids from the state's key itself):
DEFAULT_CHUNK = 150
# - chunks of given ids (selected tasks, a search result, or a redrive with
#   reset_retried, which rewrites each msg): each id is looked up where its
#   hash says it is, which costs more per task.
IDS_CHUNK = 150
MAX_CHUNK = 1000
# Given ids of pending tasks: each LREM may scan the list (about 1 µs per
# 1,000 elements), so such chunks are kept small.
PENDING_IDS_CHUNK = 20
# delete_queue(force=True): purge rounds before giving up on a queue that
# keeps receiving tasks.
_PURGE_ROUNDS = 5

# Where each op is allowed (asynq's rules; completed tasks can be run and
# archived through asynq's Inspector too).
RUN_STATES = frozenset({"scheduled", "retry", "archived", "completed", "aggregating"})
ARCHIVE_STATES = frozenset({"pending", "scheduled", "retry", "completed", "aggregating"})
DELETE_STATES = frozenset(
    {"pending", "scheduled", "retry", "archived", "completed", "aggregating"}
)
# What the *_all iterations accept (asynq's Run/Archive/DeleteAll* set).
RUN_ALL_STATES = frozenset({"archived", "retry", "scheduled", "aggregating"})
ARCHIVE_ALL_STATES = frozenset({"pending", "scheduled", "retry", "aggregating"})
DELETE_ALL_STATES = frozenset(
    {"archived", "retry", "scheduled", "pending", "completed", "aggregating"}
)
# asynq's delete-all of these leaves uniqueness locks (golden: delete-all-pending,
# delete-all-aggregating); the others delete a lock that holds the task's id.
_DELETE_ALL_KEEPS_LOCKS = frozenset({"pending", "aggregating"})


class OpOutcome(enum.Enum):
    DONE = "done"
    NOT_FOUND = "not_found"
    QUEUE_NOT_FOUND = "queue_not_found"
    WRONG_STATE = "wrong_state"
    CHANGED = "changed"
    QUEUE_NOT_EMPTY = "queue_not_empty"
    BROKEN = "broken"


_CODES = {
    1: OpOutcome.DONE,
    0: OpOutcome.NOT_FOUND,
    -1: OpOutcome.QUEUE_NOT_FOUND,
    -2: OpOutcome.WRONG_STATE,
    -3: OpOutcome.CHANGED,
    -4: OpOutcome.BROKEN,
    -5: OpOutcome.QUEUE_NOT_EMPTY,
}


@dataclass(frozen=True)
class OpResult:
    outcome: OpOutcome
    state: str | None = None  # the task's (or queue's) state after the call, if known

    @property
    def ok(self) -> bool:
        return self.outcome is OpOutcome.DONE


@dataclass(frozen=True)
class ChunkResult:
    """What one script call of a chunked operation did."""

    done: int
    failed: int
    ids_failed: list[str]
    # Why each failed id failed (same keys as ids_failed).
    failures: dict[str, OpResult] = field(default_factory=dict)
    # The ids moved (always for given ids; for "all" iterations only when the
    # Operations was made with ``track_ids``/``wait_replicas``).
    ids_done: list[str] = field(default_factory=list)
    # Replicas that acknowledged the chunk's writes (WAIT in the same round trip);
    # None when not asked (``wait_replicas`` 0, or a cluster).
    replicas: int | None = None
    # "all" iterations of a zset: the highest score the iteration takes. A move
    # lost in a failover leaves its id back in the source at most at this score.
    cutoff: bytes = b""


_QUEUE_NOT_FOUND = OpResult(OpOutcome.QUEUE_NOT_FOUND)


@dataclass(frozen=True)
class CancelResult(OpResult):
    """cancel_tasks' answer for one id; ``receivers``: servers that got the
    cancellation (DONE only; 0 means no server was listening; None on a
    cluster, where PUBLISH counts only the subscribers of the node it ran on)."""

    receivers: int | None = 0


# op_cancel.lua's codes (0 and up: published, the number of receivers).
_CANCEL_CODES = {-10: OpOutcome.NOT_FOUND, -2: OpOutcome.WRONG_STATE, -4: OpOutcome.BROKEN}


def _text(raw) -> str | None:
    if raw is None or raw is False:
        return None
    return keys.decode_name(raw) if isinstance(raw, bytes) else str(raw)


def _check_queue(queue) -> None:
    if not isinstance(queue, str) or not queue.strip():
        raise ValueError(f"queue must be a non-empty string, got {queue!r}")


def _check_id(task_id) -> None:
    if not isinstance(task_id, str) or not task_id:
        raise ValueError(f"task id must be a non-empty string, got {task_id!r}")


def _check_chunk(chunk) -> None:
    if chunk is None:
        return
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= MAX_CHUNK:
        raise ValueError(f"chunk must be an int in 1..{MAX_CHUNK}, got {chunk!r}")


def _check_state(op: str, state, allowed: frozenset, *, optional: bool) -> None:
    if state is None and optional:
        return
    if state not in allowed:
        raise ValueError(f"{op}: state must be one of {sorted(allowed)}, got {state!r}")


def _unique_ids(ids: Iterable[str]) -> list[str]:
    if isinstance(ids, (str, bytes)):
        raise ValueError("ids must be an iterable of task ids, not a single string")
    out = list(dict.fromkeys(ids))
    for task_id in out:
        _check_id(task_id)
    return out


def _source_for(queue: str, expected: str | None) -> bytes:
    """The key an id in state ``expected`` lives in ("" when unknown: no
    expected state, or a group whose name the caller did not give)."""
    if not expected or expected == "aggregating":
        return b""
    return keys.state_key(queue, expected)


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rewrite(raw: bytes, task_id: str, queue: str, *, payload=None, reset_retried=False):
    """New msg bytes from ``raw``: payload replaced and/or retried reset,
    every other field (unknown future fields included) kept. None if ``raw``
    is not this task's valid msg."""
    try:
        parsed = messages.parse_task_message(raw)
    except MessageDecodeError:
        return None
    if parsed.id != task_id or parsed.queue != queue:
        return None
    m = type(parsed)()
    m.CopyFrom(parsed)
    if payload is not None:
        m.payload = payload
    if reset_retried:
        m.retried = 0
    return m.SerializeToString(deterministic=True)


_DONE_STATE = {"run": "pending", "archive": "archived", "delete": None}


class Operations(ScriptClient):
    """State changes of asynq tasks and queues. ``client`` is a redis-py
    client (see ``connection.connect``); ``now`` an optional callable
    returning the current time (tz-aware), used for archive scores and the
    paused flag.

    ``wait_replicas``: every task-moving script call is
    followed, on the same connection and in the same round trip, by ``WAIT
    wait_replicas wait_timeout_ms``, and ChunkResult.replicas says how many
    replicas acknowledged it. ``track_ids`` makes "all" iterations return the
    moved ids too (implied by ``wait_replicas``); ``before_chunk`` (see
    __init__) names each chunk's ids before it runs."""

    def __init__(self, client, now=None, *, wait_replicas: int = 0,
                 wait_timeout_ms: int = 1000, track_ids: bool = False):
        super().__init__(client, now)
        # WAIT has no key: a cluster client cannot send it with the script's
        # connection, so a cluster is not asked (replicas stays None).
        self.wait_replicas = 0 if self._cluster else int(wait_replicas)
        self.wait_timeout_ms = int(wait_timeout_ms)
        self.track_ids = bool(track_ids or wait_replicas)
        # WAIT's answer for the last task-moving script call (None: not asked).
        self.last_replicas: int | None = None
        # Called with (ids, cutoff) before each chunk of a bulk iteration moves
        # them: a caller that must survive a crash or a failover writes them down
        # first (a write-ahead record), then checks after what really happened.
        self.before_chunk: Callable[[list[str], bytes], None] | None = None

    def _scripts(self) -> tuple:
        return _SCRIPTS

    def _now_s(self) -> int:
        return int(self._now().timestamp())  # whole seconds, like Go's Unix()

    # -- plumbing ---------------------------------------------------------------

    def _queue_script(self, queue: str, script: _Script, keys_: list, argv: list):
        """Run a script that tests asynq:queues itself on a single Redis (one
        atomic call); in a cluster the test is a separate command first."""
        if self._cluster:
            if not self._queue_exists(queue):
                return [-1]
            return self._script(script, keys_, argv)
        return self._script(script, keys_ + [keys.ALL_QUEUES], argv)

    def _queue_exists(self, queue: str) -> bool:
        return bool(self._client.sismember(keys.ALL_QUEUES, keys.encode_name(queue)))

    def _tasks_call(
        self, op: str, queue: str, expected: str | None, source: bytes, option, window: list
    ) -> list:
        """One op_tasks.lua call; ``window`` is ["ids", *items] or
        ["all", cutoff, skip, count]."""
        keys_ = [keys.pending(queue), keys.archived(queue), keys.groups(queue), keys.active(queue)]
        argv = [op, keys.queue_prefix(queue), expected or "", source,
                keys.encode_name(queue), option, *window]
        self.last_replicas = None
        if self.track_ids:
            self.follow_master()
        if not self.wait_replicas:
            return self._queue_script(queue, _OP_TASKS, keys_, argv)
        # Single Redis / Sentinel only (never a cluster, see __init__). One pipeline is
        # one connection, and WAIT waits for that connection's writes.
        reply, acks = self._pipeline([
            _OP_TASKS.args(keys_ + [keys.ALL_QUEUES], argv),
            ("WAIT", self.wait_replicas, self.wait_timeout_ms),
        ])
        self.last_replicas = int(acks)
        return reply

    @staticmethod
    def _failures(reply: list, start: int = 2) -> dict[str, OpResult]:
        """The ids of a reply that were not done, with why (triples from ``start``)."""
        return {
            keys.decode_name(reply[n]): OpResult(_CODES[reply[n + 1]], _text(reply[n + 2]))
            for n in range(start, len(reply), 3)
        }

    def _apply(
        self, op: str, queue: str, ids: list[str], expected: str | None, *,
        source: bytes = b"", option="0", items: list | None = None,
    ) -> dict[str, OpResult]:
        """One "ids" call: a result per id. ``items`` replaces the encoded
        ids (rewrite triples)."""
        if items is None:
            items = [keys.encode_name(i) for i in ids]
        reply = self._tasks_call(op, queue, expected, source, option, ["ids", *items])
        if reply == [-1]:
            return dict.fromkeys(ids, _QUEUE_NOT_FOUND)
        failures = self._failures(reply)
        done = OpResult(OpOutcome.DONE, _DONE_STATE[op])
        return {i: failures.get(i, done) for i in ids}

    def _apply_rewrite(
        self, queue: str, ids: list[str], expected: str | None, *, source: bytes = b"",
        make_new: Callable[[str, bytes], bytes | None],
    ) -> dict[str, OpResult]:
        """Run with a compare-and-set rewrite of each msg: read the current
        msgs, build the new ones, and let the script move only tasks whose
        msg is still the one read."""
        pipe = self._client.pipeline(transaction=False)
        pipe.sismember(keys.ALL_QUEUES, keys.encode_name(queue))
        for task_id in ids:
            pipe.hmget(keys.task(queue, task_id), [b"msg", b"state"])
        exists, *current = pipe.execute()
        if not exists:
            return dict.fromkeys(ids, _QUEUE_NOT_FOUND)
        results: dict[str, OpResult] = {}
        items: list = []
        sent: list[str] = []
        for task_id, (raw, state) in zip(ids, current):
            if raw is None:
                # No msg: the script tells NOT_FOUND / BROKEN / the state codes.
                raw = new = b""
            else:
                new = make_new(task_id, raw)
                if new is None:
                    results[task_id] = OpResult(OpOutcome.BROKEN, _text(state))
                    continue
            sent.append(task_id)
            items += [keys.encode_name(task_id), raw, new]
        if sent:
            results.update(
                self._apply("run", queue, sent, expected, source=source, option="1", items=items)
            )
        return {i: results[i] for i in ids}

    # -- one task -----------------------------------------------------------------

    @_wrap_unavailable
    def run_task(
        self, queue: str, task_id: str, *, expected_state: str | None = None,
        reset_retried: bool = False,
    ) -> OpResult:
        """Move a scheduled/retry/archived/completed/aggregating task to the
        pending list (asynq's RunTask). ``expected_state``: only if the task
        is still in that state (else CHANGED). ``reset_retried``: also give
        it a fresh retry budget (see the module docstring)."""
        _check_queue(queue)
        _check_id(task_id)
        _check_state("run", expected_state, RUN_STATES, optional=True)
        return self._chunk(
            "run", queue, [task_id], expected_state, reset_retried,
            _source_for(queue, expected_state),
        )[task_id]

    @_wrap_unavailable
    def delete_task(self, queue: str, task_id: str, *, expected_state: str | None = None) -> OpResult:
        """Delete a task that is not active (asynq's DeleteTask), with its
        uniqueness lock if the lock still holds this task's id."""
        _check_queue(queue)
        _check_id(task_id)
        _check_state("delete", expected_state, DELETE_STATES, optional=True)
        return self._chunk(
            "delete", queue, [task_id], expected_state, False, _source_for(queue, expected_state)
        )[task_id]

    @_wrap_unavailable
    def archive_task(self, queue: str, task_id: str, *, expected_state: str | None = None) -> OpResult:
        """Archive a pending/scheduled/retry/completed/aggregating task
        (asynq's ArchiveTask, without trimming the archive)."""
        _check_queue(queue)
        _check_id(task_id)
        _check_state("archive", expected_state, ARCHIVE_STATES, optional=True)
        return self._chunk(
            "archive", queue, [task_id], expected_state, False, _source_for(queue, expected_state)
        )[task_id]

    @_wrap_unavailable
    def update_payload_and_run(
        self, queue: str, task_id: str, new_payload: bytes, *, expected_msg: bytes,
        reset_retried: bool = False,
    ) -> OpResult:
        """Replace an archived task's payload and move it to pending, in one
        atomic call, only if its msg is still exactly ``expected_msg`` (the
        bytes the editor was opened with) and it is still archived; else
        CHANGED. Every other msg field is kept (``reset_retried`` also sets
        retried to 0). An undecodable ``expected_msg``, or one naming
        another task or queue, is refused with BROKEN and nothing is
        written."""
        _check_queue(queue)
        _check_id(task_id)
        new_payload = _as_bytes(new_payload, "new_payload")
        expected_msg = _as_bytes(expected_msg, "expected_msg")
        new = _rewrite(
            expected_msg, task_id, queue, payload=new_payload, reset_retried=reset_retried
        )
        if new is None:
            if not self._queue_exists(queue):
                return _QUEUE_NOT_FOUND
            return OpResult(OpOutcome.BROKEN)
        return self._apply(
            "run", queue, [task_id], "archived", source=keys.archived(queue), option="1",
            items=[keys.encode_name(task_id), expected_msg, new],
        )[task_id]

    @_wrap_unavailable
    def update_payload(
        self, queue: str, task_id: str, new_payload: bytes, *, expected_msg: bytes
    ) -> OpResult:
        """asynq's UpdateTaskPayload: replace a *scheduled* task's payload
        (every other field and the task's place kept), compare-and-set on
        ``expected_msg``. WRONG_STATE for any other state; BROKEN for an
        undecodable ``expected_msg``."""
        _check_queue(queue)
        _check_id(task_id)
        new_payload = _as_bytes(new_payload, "new_payload")
        expected_msg = _as_bytes(expected_msg, "expected_msg")
        new = _rewrite(expected_msg, task_id, queue, payload=new_payload)
        if new is None:
            if not self._queue_exists(queue):
                return _QUEUE_NOT_FOUND
            return OpResult(OpOutcome.BROKEN)
        reply = self._queue_script(
            queue, _OP_UPDATE_PAYLOAD, [keys.task(queue, task_id)],
            [expected_msg, new, keys.encode_name(queue), "scheduled"],
        )
        return _queue_reply(reply)

    @_wrap_unavailable
    def cancel_task(self, task_id: str) -> int:
        """Ask the servers to cancel an active task (asynq's
        CancelProcessing: PUBLISH on asynq:cancel). Best effort; returns how
        many subscribers (servers) received the message."""
        _check_id(task_id)
        return int(self._client.publish(keys.CANCEL_CHANNEL, keys.encode_name(task_id)))

    @_wrap_unavailable
    def cancel_tasks(
        self, queue: str, ids: Iterable[str], *, chunk: int | None = None,
    ) -> dict[str, CancelResult]:
        """Cancel the given tasks of ``queue`` (duplicates once): each id whose
        hash says "active" is published on the cancel channel, checked and
        published in one script call per chunk (``lua/op_cancel.lua``). A
        result per id: DONE with the number of servers that received it (see
        CancelResult), NOT_FOUND, WRONG_STATE (with the state), BROKEN, or
        QUEUE_NOT_FOUND for all."""
        _check_queue(queue)
        _check_chunk(chunk)
        ids = _unique_ids(ids)
        out: dict[str, CancelResult] = {}
        for batch_ids in _batches(ids, chunk or IDS_CHUNK):
            keys_ = [keys.task(queue, i) for i in batch_ids]
            argv = [keys.CANCEL_CHANNEL, keys.encode_name(queue), *(keys.encode_name(i) for i in batch_ids)]
            reply = self._queue_script(queue, _OP_CANCEL, keys_, argv)
            if reply == [-1]:
                out.update(dict.fromkeys(batch_ids, CancelResult(OpOutcome.QUEUE_NOT_FOUND)))
                continue
            for n, task_id in enumerate(batch_ids):
                code, state = int(reply[2 * n]), _text(reply[2 * n + 1])
                if code >= 0:
                    # In a cluster PUBLISH counts the subscribers of one node only.
                    out[task_id] = CancelResult(OpOutcome.DONE, state, receivers=None if self._cluster else code)
                else:
                    out[task_id] = CancelResult(_CANCEL_CODES[code], state)
        return out

    @_wrap_unavailable
    def active_ids(self, queue: str, limit: int) -> list[str]:
        """The ids in the queue's active list, at most ``limit`` (read in chunks of
        IDS_CHUNK, so no call walks a long list at once)."""
        _check_queue(queue)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        found: list[str] = []
        key = keys.active(queue)
        while len(found) < limit:
            take = min(IDS_CHUNK, limit - len(found))
            chunk = self._client.lrange(key, len(found), len(found) + take - 1)
            found.extend(keys.decode_name(i) for i in chunk)
            if len(chunk) < take:
                break
        return list(dict.fromkeys(found))

    # -- after a failover: what really happened ------------------------------------

    def follow_master(self):
        """Behind Sentinel: ask the sentinels which server is the master now; if it
        changed, the idle connections to the old one are dropped so the next call
        goes to the new one. (A demoted master keeps acknowledging writes for a
        moment before it learns it is a replica; they are lost.) No-op otherwise."""
        pool = getattr(self._client, "connection_pool", None)
        if isinstance(pool, SentinelConnectionPool) and pool.is_master:
            return pool.get_master_address()
        return None

    @_wrap_unavailable
    def replicas_online(self) -> int:
        """Replicas streaming from the master now (INFO replication); 0 for a
        cluster (see ``wait_replicas``)."""
        if self._cluster:
            return 0
        info = self._client.info("replication")
        return sum(1 for k, v in info.items()
                   if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online")

    @property
    def behind_sentinel(self) -> bool:
        pool = getattr(self._client, "connection_pool", None)
        return isinstance(pool, SentinelConnectionPool) and pool.is_master

    @_wrap_unavailable
    def sentinels_agree(self, run_id: str | None) -> bool:
        """True if every sentinel that answers (a majority at least) names the
        server ``run_id`` as the master, with no failover in progress and
        nothing down. (During a failover two servers can both answer as master
        for a moment, and sentinels learn the new one a few seconds apart; only
        the one they all name keeps its data.) True when not behind Sentinel."""
        if not self.behind_sentinel:
            return True
        pool = self._client.connection_pool
        sentinels = pool.sentinel_manager.sentinels
        votes = 0
        for sentinel in sentinels:
            try:
                m = sentinel.sentinel_master(pool.service_name)
            except redis.RedisError:
                continue
            if m.get("runid") != run_id or m.get("flags") != "master":
                return False
            votes += 1
        return run_id is not None and votes > len(sentinels) // 2

    @_wrap_unavailable
    def lost_moves(
        self, queue: str, state: str, ids: Iterable[str], *, group: str | None = None,
        cutoff: bytes = b"", batch: int = 500,
    ) -> tuple[list[str], str | None, str | None]:
        """Which of ``ids``, reported moved out of ``state``, are in ``state``
        again on the current master: writes acknowledged by a master that lost
        them when a replica took over. (For a zset with ``cutoff`` only ids at
        most at that score: a task that asynq ran and archived again since has a
        newer score and was not lost.) Returns (lost ids, the server's
        replication id and run id, read in the same round trip as the first
        ids; None for a cluster)."""
        source = keys.source_key(queue, state, group)
        is_zset = state not in ("pending", "active")
        limit = float(cutoff) if cutoff and is_zset else None
        ids = list(ids)
        lost: list[str] = []
        replid = run_id = None
        for n, part in enumerate(_batches(ids or [""], batch)):
            part = [i for i in part if i]
            pipe = self._client.pipeline(transaction=False)
            first = n == 0 and not self._cluster
            if first:
                pipe.info("replication")
                pipe.info("server")
            for task_id in part:
                pipe.hget(keys.task(queue, task_id), b"state")
                if is_zset:
                    pipe.zscore(source, keys.encode_name(task_id))
            replies = pipe.execute()
            if first:
                replication, server = replies.pop(0), replies.pop(0)
                if replication.get("role") != "master":
                    raise redis.exceptions.ConnectionError("the server is no longer the master")
                replid, run_id = replication.get("master_replid"), server.get("run_id")
            step = 2 if is_zset else 1
            for task_id, at in zip(part, range(0, len(replies), step)):
                current = _text(replies[at])
                if current != state:
                    continue
                if is_zset:
                    score = replies[at + 1]
                    if score is None or (limit is not None and float(score) > limit):
                        continue
                lost.append(task_id)
        return lost, replid, run_id

    @_wrap_unavailable
    def wait_replicated(self, replicas: int, timeout: float, *, sleep=None) -> str | None:
        """Wait until ``replicas`` replicas have everything the master holds now
        (their acknowledged offset reaches the master's current offset, whoever
        wrote it). Returns the master's replication id once they do; None on
        timeout, or if the server stopped being that master meanwhile."""
        sleep = sleep or time.sleep
        info = self._client.info("replication")
        if info.get("role") != "master":
            return None
        replid, target = info.get("master_replid"), int(info.get("master_repl_offset", 0))
        deadline = time.monotonic() + timeout
        while True:
            acked = sum(
                1 for k, v in info.items()
                if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online"
                and int(v.get("offset", -1)) >= target
            )
            if acked >= replicas:
                return replid
            if time.monotonic() >= deadline:
                return None
            sleep(0.05)
            info = self._client.info("replication")
            if info.get("role") != "master" or info.get("master_replid") != replid:
                return None

    # -- queues ---------------------------------------------------------------------

    def _queue_op(self, queue: str, op: str) -> list:
        keys_ = [
            keys.paused(queue),
            keys.pending(queue),
            keys.active(queue),
            keys.scheduled(queue),
            keys.retry(queue),
            keys.archived(queue),
            keys.lease(queue),
        ]
        argv = [op, keys.encode_name(queue), self._now_s()]
        return self._queue_script(queue, _OP_QUEUE, keys_, argv)

    @_wrap_unavailable
    def pause_queue(self, queue: str) -> OpResult:
        """Pause processing (asynq's PauseQueue: the paused flag holds the
        Unix time). WRONG_STATE if already paused."""
        _check_queue(queue)
        return _queue_reply(self._queue_op(queue, "pause"))

    @_wrap_unavailable
    def unpause_queue(self, queue: str) -> OpResult:
        """Resume processing (asynq's UnpauseQueue). WRONG_STATE if not paused."""
        _check_queue(queue)
        return _queue_reply(self._queue_op(queue, "unpause"))

    @_wrap_unavailable
    def delete_queue(self, queue: str, force: bool = False) -> OpResult:
        """Remove a queue (asynq's DeleteQueue).

        ``force=False``: only when pending, active, scheduled, retry and
        archived are all empty (completed and aggregating tasks do not count);
        else QUEUE_NOT_EMPTY with ``state`` = the first non-empty state. The
        lease key goes too, and the name leaves ``asynq:queues``.

        ``force=True``: refused (QUEUE_NOT_EMPTY, state "active") while the
        queue has active tasks; otherwise deletes every pending, scheduled,
        retry and archived task (hash and id) and then the queue. Like asynq
        it leaves completed tasks, groups and their tasks, the paused flag,
        uniqueness locks and stats. Unlike asynq (one unbounded call) it
        purges chunk by chunk; each chunk re-checks that no task is active, so
        if a worker takes a task meanwhile the deletion stops with
        QUEUE_NOT_EMPTY ("active") and the tasks purged so far stay deleted.
        """
        _check_queue(queue)
        if not force:
            return self._queue_result(queue, self._queue_op(queue, "delete"))
        reply = self._queue_op(queue, "check")
        if reply[0] != 1:
            return _queue_reply(reply)
        for _ in range(_PURGE_ROUNDS):
            for state in ("pending", "scheduled", "retry", "archived"):
                stopped = self._purge(queue, state)
                if stopped is not None:
                    return stopped
            reply = self._queue_op(queue, "finish")
            if reply[0] != -6:
                return self._queue_result(queue, reply)
        return OpResult(OpOutcome.QUEUE_NOT_EMPTY, None)

    def _queue_result(self, queue: str, reply: list) -> OpResult:
        if reply[0] == 1 and self._cluster:
            self._client.srem(keys.ALL_QUEUES, keys.encode_name(queue))
        return _queue_reply(reply)

    def _purge(self, queue: str, state: str) -> OpResult | None:
        """Delete every id of ``state``'s key with its hash, chunk by chunk.
        None when done, else why it stopped."""
        try:
            for reply in self._all_calls("purge", queue, state, keys.state_key(queue, state),
                                         DEFAULT_CHUNK, "0"):
                if reply == [-5]:
                    return OpResult(OpOutcome.QUEUE_NOT_EMPTY, "active")
        except QueueNotFound:
            return _QUEUE_NOT_FOUND
        return None

    # -- many tasks by id -------------------------------------------------------------

    def _chunk(
        self, op: str, queue: str, ids: list[str], expected: str | None, reset_retried: bool,
        source: bytes, *, keep_locks: bool = False,
    ) -> dict[str, OpResult]:
        """One "ids" call for ``op``."""
        if op == "run":
            if reset_retried:
                return self._apply_rewrite(
                    queue, ids, expected, source=source,
                    make_new=lambda i, raw: _rewrite(raw, i, queue, reset_retried=True),
                )
            return self._apply("run", queue, ids, expected, source=source)
        if op == "archive":
            return self._apply(
                "archive", queue, ids, expected, source=source, option=str(self._now_s())
            )
        return self._apply(
            "delete", queue, ids, expected, source=source, option="0" if keep_locks else "1"
        )

    def _by_ids(
        self, op: str, queue: str, ids, expected_state: str, allowed: frozenset, *,
        chunk: int | None, reset_retried: bool = False,
    ) -> dict[str, OpResult]:
        _check_queue(queue)
        _check_state(op, expected_state, allowed, optional=False)
        _check_chunk(chunk)
        ids = _unique_ids(ids)
        source = _source_for(queue, expected_state)
        out: dict[str, OpResult] = {}
        for batch_ids in _batches(ids, _ids_chunk(expected_state, chunk)):
            out.update(self._chunk(op, queue, batch_ids, expected_state, reset_retried, source))
        return out

    @_wrap_unavailable
    def run_tasks(
        self, queue: str, ids: Iterable[str], *, expected_state: str,
        reset_retried: bool = False, chunk: int | None = None,
    ) -> dict[str, OpResult]:
        """run_task for each id (duplicates once), one script call per chunk."""
        return self._by_ids(
            "run", queue, ids, expected_state, RUN_STATES, chunk=chunk,
            reset_retried=reset_retried,
        )

    @_wrap_unavailable
    def delete_tasks(
        self, queue: str, ids: Iterable[str], *, expected_state: str, chunk: int | None = None,
    ) -> dict[str, OpResult]:
        """delete_task for each id (locks released as DeleteTask does)."""
        return self._by_ids("delete", queue, ids, expected_state, DELETE_STATES, chunk=chunk)

    @_wrap_unavailable
    def archive_tasks(
        self, queue: str, ids: Iterable[str], *, expected_state: str, chunk: int | None = None,
    ) -> dict[str, OpResult]:
        """archive_task for each id (no trimming)."""
        return self._by_ids("archive", queue, ids, expected_state, ARCHIVE_STATES, chunk=chunk)

    # -- every task of a state, chunked -------------------------------------------------

    def iter_run_all(
        self, queue: str, state: str, *, chunk: int | None = None, group: str | None = None,
        ids: Iterable[str] | None = None, reset_retried: bool = False,
    ) -> Iterator[ChunkResult]:
        """Run every task of ``state`` (archived = redrive the DLQ, retry,
        scheduled, or aggregating with ``group``), or only those of ``ids``
        (e.g. a search result) still in ``state``. Yields a ChunkResult per
        script call. Raises QueueNotFound at once if the queue does not
        exist (and from the iteration if it disappears meanwhile)."""
        return self._iter_all("run", queue, state, RUN_ALL_STATES, chunk, group, ids, reset_retried)

    def iter_delete_all(
        self, queue: str, state: str, *, chunk: int | None = None, group: str | None = None,
        ids: Iterable[str] | None = None,
    ) -> Iterator[ChunkResult]:
        """Delete every task of ``state`` (archived, retry, scheduled,
        pending, completed, or aggregating with ``group``), or only those of
        ``ids`` still in ``state``. Uniqueness locks: as asynq's DeleteAll*
        (kept for pending and groups, released otherwise); with ``ids``, as
        DeleteTask (released)."""
        return self._iter_all("delete", queue, state, DELETE_ALL_STATES, chunk, group, ids, False)

    def iter_archive_all(
        self, queue: str, state: str, *, chunk: int | None = None, group: str | None = None,
        ids: Iterable[str] | None = None,
    ) -> Iterator[ChunkResult]:
        """Archive every task of ``state`` (pending, scheduled, retry, or
        aggregating with ``group``), or only those of ``ids`` still in
        ``state``. The archive is never trimmed."""
        return self._iter_all("archive", queue, state, ARCHIVE_ALL_STATES, chunk, group, ids, False)

    @_wrap_unavailable
    def _iter_all(
        self, op: str, queue: str, state: str, allowed: frozenset, chunk: int | None,
        group: str | None, ids, reset_retried: bool,
    ) -> Iterator[ChunkResult]:
        # Everything is checked now, not at the first next().
        _check_queue(queue)
        _check_state(f"{op} all", state, allowed, optional=False)
        _check_chunk(chunk)
        if state == "aggregating":
            if not group or not isinstance(group, str):
                raise ValueError("state 'aggregating' needs a group")
        elif group is not None:
            raise ValueError("group only applies to state 'aggregating'")
        if ids is not None:
            ids = _unique_ids(ids)
        if not self._queue_exists(queue):
            raise QueueNotFound(queue)
        source = keys.source_key(queue, state, group)
        if ids is not None:
            gen = self._iter_ids(op, queue, state, source, ids, chunk, reset_retried)
        elif reset_retried or self.before_chunk is not None:
            gen = self._iter_window(op, queue, state, source, chunk, reset_retried)
        else:
            gen = self._iter_all_calls(op, queue, state, source, chunk)
        return _mapped_errors(gen)

    def _iter_ids(self, op, queue, state, source, ids, chunk, reset_retried):
        # Explicit ids are deleted like DeleteTask: locks released.
        for batch_ids in _batches(ids, _ids_chunk(state, chunk)):
            if self.before_chunk is not None:
                self.before_chunk(batch_ids, b"")
            results = self._chunk(op, queue, batch_ids, state, reset_retried, source)
            yield _chunk_result(queue, results, self.last_replicas)

    def _iter_all_calls(self, op, queue, state, source, chunk):
        if op == "archive":
            option = None  # stamped per call, see _all_calls
        elif op == "delete":
            # delete-all keeps locks where asynq's DeleteAll* does.
            option = "0" if state in _DELETE_ALL_KEEPS_LOCKS else "1"
        else:
            option = "0"
        cutoff = [b""]
        for reply in self._all_calls(op, queue, state, source, chunk or DEFAULT_CHUNK, option,
                                     cutoff_out=cutoff):
            done = reply[1] if self.track_ids else 0
            failures = self._failures(reply, 2 + done)
            yield ChunkResult(
                reply[1], len(failures), list(failures), failures,
                ids_done=[keys.decode_name(i) for i in reply[2 : 2 + done]],
                replicas=self.last_replicas, cutoff=cutoff[0],
            )

    def _start(self, source: bytes, is_list: bool) -> tuple[int, bytes]:
        """How many ids ``source`` holds now and (zset) its highest score:
        an "all" iteration takes no more, so it ends even while tasks keep
        arriving (e.g. redriven tasks failing straight back into the
        archive)."""
        if is_list:
            return self._client.llen(source), b""
        pipe = self._client.pipeline(transaction=False)
        pipe.zcard(source)
        pipe.zrevrange(source, 0, 0, withscores=True, score_cast_func=_raw_score)
        budget, top = pipe.execute()
        if not top:
            return 0, b""
        return budget, top[0][1]

    def _all_calls(self, op, queue, state, source, chunk, option,
                   cutoff_out: list | None = None) -> Iterator[list]:
        """Replies of successive "all" calls: each takes the next ``chunk``
        oldest ids of ``source`` inside the script. Ids that failed and stay
        in place are skipped by the next call (``skip``). With ``track_ids``
        (not for purge) each reply carries the moved ids after ``done``."""
        budget, cutoff = self._start(source, state == "pending")
        if cutoff_out is not None:
            cutoff_out[0] = cutoff
        track = ["1"] if self.track_ids and op != "purge" else []
        stuck: set[bytes] = set()  # failed ids still in the source
        taken = 0
        while taken < budget:
            count = min(chunk, budget - taken)
            call_option = str(self._now_s()) if option is None else option
            reply = self._tasks_call(
                op, queue, state, source, call_option, ["all", cutoff, len(stuck), count, *track]
            )
            if reply == [-1]:
                raise QueueNotFound(queue)
            if reply == [-5]:
                yield reply
                return
            if reply[0] == 0:
                return
            taken += reply[0]
            for n in range(2 + (reply[1] if track else 0), len(reply), 3):
                if reply[n + 1] != 0:  # NOT_FOUND ids were removed
                    stuck.add(reply[n])
            yield reply

    def _iter_window(self, op, queue, state, source, chunk, reset_retried):
        """An "all" iteration whose ids are read here first (oldest first) and
        then moved as given ids: for a run with reset_retried (each msg is read
        and rewritten), and when ``before_chunk`` wants to know the ids before
        they are moved."""
        is_list = state == "pending"
        chunk = _ids_chunk(state, chunk)
        budget, cutoff = self._start(source, is_list)
        keep_locks = op == "delete" and state in _DELETE_ALL_KEEPS_LOCKS
        stuck: set[str] = set()
        # Ids taken before. One that is back in the source had its move lost (a
        # failover): taken again, without counting against the budget (a few
        # times at most, so a task that keeps coming back cannot hold the loop).
        seen: dict[str, int] = {}
        taken = 0
        while taken < budget:
            size = min(chunk, budget - taken)
            if is_list:
                raw = self._client.lrange(source, -(size + len(stuck)), -1)[::-1]
            else:
                raw = self._client.zrangebyscore(
                    source, "-inf", cutoff, start=0, num=size + len(stuck)
                )
            window = [i for i in map(keys.decode_name, raw) if i not in stuck][:size]
            if not window:
                return
            for task_id in window:
                times = seen.get(task_id, 0)
                if times == 0:
                    taken += 1
                elif times >= 3:
                    stuck.add(task_id)
                seen[task_id] = times + 1
            if self.before_chunk is not None:
                self.before_chunk(window, cutoff)
            results = self._chunk(op, queue, window, state, reset_retried, source,
                                  keep_locks=keep_locks)
            result = _chunk_result(queue, results, self.last_replicas, cutoff)
            stuck.update(
                i for i, r in result.failures.items() if r.outcome is not OpOutcome.NOT_FOUND
            )
            yield result


def _raw_score(value) -> bytes:
    """A score reply as Redis's own text (bytes under RESP2, a float under
    RESP3), to be passed back to ZRANGEBYSCORE exactly."""
    return value if isinstance(value, bytes) else repr(float(value)).encode()


def _ids_chunk(state: str | None, chunk: int | None) -> int:
    size = chunk or IDS_CHUNK
    return min(size, PENDING_IDS_CHUNK) if state == "pending" else size


def _chunk_result(queue: str, results: dict[str, OpResult], replicas: int | None = None,
                  cutoff: bytes = b"") -> ChunkResult:
    failures = {}
    done = []
    for task_id, result in results.items():
        if result.outcome is OpOutcome.QUEUE_NOT_FOUND:
            raise QueueNotFound(queue)
        if result.outcome is OpOutcome.DONE:
            done.append(task_id)
        else:
            failures[task_id] = result
    return ChunkResult(len(done), len(failures), list(failures), failures, ids_done=done,
                       replicas=replicas, cutoff=cutoff)


def _as_bytes(value, name: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    return bytes(value)


def _queue_reply(reply: list) -> OpResult:
    """A {code[, state]} reply as an OpResult."""
    return OpResult(_CODES[reply[0]], _text(reply[1]) if len(reply) > 1 else None)


def _mapped_errors(gen: Iterator) -> Iterator:
    """Redis errors raised while iterating, mapped like ``_wrap_unavailable``
    maps them for plain calls (RedisUnavailable / AsynqError)."""

    @_wrap_unavailable
    def step():
        return next(gen, _END)

    while True:
        value = step()
        if value is _END:
            return
        yield value


_END = object()
