"""Reads and writes of the dead-task vault: capture the archived set incrementally,
tell where captured tasks stand now, and put tasks back the way asynq enqueues.

    from dlqadmin.asynq.vault import VaultClient, Cursor
    vc = VaultClient(client)
    chunk = vc.scan("payments", cursor, prev_tail)
    for t in chunk.tasks: store(t.task_id, t.score, t.msg)
    statuses = vc.status("payments", [(task_id, score), ...], cutoff_score)
    results = vc.enqueue("payments", [(task_id, msg), ...])

Every call is one Lua script on one queue's keys (one hash slot in Redis Cluster)
and is bounded: ``scan`` takes at most ``count`` tasks and stops once their msgs
reach ``budget`` bytes; ``status`` and ``enqueue`` take at most ``MAX_BATCH``
tasks. No Django here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable

from . import keys
from .operations import _raw_score
from .scripts import ScriptClient, _Script, _wrap_unavailable

_SCAN = _Script("vault_scan")
_STATUS = _Script("vault_status")
_ENQUEUE = _Script("vault_enqueue")
_ORPHANS = _Script("vault_orphans")
_SCRIPTS = (_SCAN, _STATUS, _ENQUEUE, _ORPHANS)
# Keys per SCAN step of the orphan scan (SCAN's COUNT: a hint, bounded work per call).
ORPHAN_SCAN_COUNT = 500

# Tasks per scan call and the msg bytes one call may return: 50 tasks of ~0.5 KB keep a
# call well under 5 ms of Redis time (500 took 8-13 ms on a busy host, 100 once 5.4 ms on
# a quiet one; bench/bench_vault.py); a huge msg comes alone.
SCAN_COUNT = 50
SCAN_BUDGET = 32 * 1024
MAX_BATCH = 500


def score_text(score: float) -> bytes:
    """A score as text Redis parses back to the very same double."""
    return repr(float(score)).encode()


@dataclass(frozen=True)
class Position:
    """A place in the archived set: (score, member) in the set's own order."""

    score: float
    member: bytes


@dataclass(frozen=True)
class ScannedTask:
    member: bytes  # the id as stored (raw bytes)
    score: float
    msg: bytes | None  # None: no hash / no msg (damaged)
    state: str | None  # the hash's state ("!" when the key is not a hash)

    @property
    def task_id(self) -> str:
        return keys.decode_name(self.member)


@dataclass(frozen=True)
class ScanChunk:
    zcard: int
    start: int  # members at or before the cursor
    kept: int  # members at or before the previous tail (-1: none given)
    head: Position | None
    tail: Position | None
    tasks: list[ScannedTask]

    @property
    def behind(self) -> int:
        """Members after the last task of this chunk (not read yet)."""
        return max(0, self.zcard - self.start - len(self.tasks))

    @property
    def last(self) -> Position | None:
        if not self.tasks:
            return None
        t = self.tasks[-1]
        return Position(t.score, t.member)


class Where(enum.IntEnum):
    IN_ASYNQ = 1
    LEFT = 2
    TRIMMED = 3
    TRIMMED_ORPHAN = 4
    DELETED = 5
    DAMAGED = 6


@dataclass(frozen=True)
class TaskWhere:
    where: Where
    state: str | None


@dataclass(frozen=True)
class EnqueueResult:
    enqueued: bool
    state: str | None  # when refused: the live task's state


def _float(raw) -> float | None:
    if raw is None or raw is False:
        return None
    return float(raw)


def _pos(score, member) -> Position | None:
    if member is None or member is False:
        return None
    return Position(float(score), bytes(member))


def _text(raw) -> str | None:
    if raw is None or raw is False:
        return None
    return keys.decode_name(raw) if isinstance(raw, bytes) else str(raw)


class VaultClient(ScriptClient):
    def _scripts(self) -> tuple:
        return _SCRIPTS

    @_wrap_unavailable
    def scan(
        self, queue: str, cursor: Position | None, prev_tail: Position | None = None, *,
        count: int | None = None, budget: int | None = None,
    ) -> ScanChunk:
        """The next tasks of the archived set after ``cursor`` (None: from the
        start), oldest first, with their msgs. ``prev_tail`` (the previous
        chunk's ``tail``) makes ``kept`` count the members that were already
        there then (loss accounting)."""
        count = count or SCAN_COUNT
        budget = budget or SCAN_BUDGET
        if not 1 <= count <= 10_000:
            raise ValueError("count must be in 1..10000")
        argv = [
            keys.task_prefix(queue),
            score_text(cursor.score) if cursor else b"", cursor.member if cursor else b"",
            score_text(prev_tail.score) if prev_tail else b"", prev_tail.member if prev_tail else b"",
            count, budget,
        ]
        reply = self._script(_SCAN, [keys.archived(queue)], argv)
        tasks = [
            ScannedTask(bytes(reply[n]), float(reply[n + 1]),
                        bytes(reply[n + 2]) if reply[n + 2] not in (None, False) else None,
                        _text(reply[n + 3]))
            for n in range(7, len(reply), 4)
        ]
        return ScanChunk(
            zcard=int(reply[0]), start=int(reply[1]), kept=int(reply[2]),
            head=_pos(reply[3], reply[4]), tail=_pos(reply[5], reply[6]), tasks=tasks,
        )

    @_wrap_unavailable
    def range_members(self, queue: str, low: float, high: float, *, offset: int, count: int) -> list[tuple[bytes, float]]:
        """Members with low <= score <= high (ids and scores only), paged."""
        raw = self._client.zrangebyscore(
            keys.archived(queue), score_text(low), score_text(high), start=offset, num=count,
            withscores=True, score_cast_func=_raw_score,
        )
        return [(bytes(m), float(s)) for m, s in raw]

    @_wrap_unavailable
    def read(self, queue: str, members: list[bytes]) -> list[tuple[bytes | None, str | None]]:
        """msg and state of some tasks (one pipelined round trip)."""
        pipe = self._client.pipeline(transaction=False)
        for m in members:
            pipe.hmget(keys.task_of_member(queue, m), [b"msg", b"state"])
        out = []
        for r in pipe.execute(raise_on_error=False):
            if isinstance(r, Exception):
                out.append((None, "!"))
            else:
                out.append((r[0], _text(r[1])))
        return out

    @_wrap_unavailable
    def status(self, queue: str, tasks: Iterable[tuple[bytes, float]], cutoff: float) -> list[TaskWhere]:
        """Where each (member, score) captured earlier stands now."""
        tasks = list(tasks)
        if len(tasks) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} tasks per call")
        if not tasks:
            return []
        argv = [keys.task_prefix(queue), score_text(cutoff)]
        for member, score in tasks:
            argv += [member, score_text(score)]
        reply = self._script(_STATUS, [keys.archived(queue)], argv)
        return [TaskWhere(Where(int(reply[n])), _text(reply[n + 1])) for n in range(0, len(reply), 2)]

    def _scan_client(self, queue: str):
        """The client to SCAN a queue's keys with: in Redis Cluster, the node that
        holds the queue's slot (every key of a queue lives in one slot)."""
        if not self._cluster:
            return self._client
        node = self._client.get_node_from_key(keys.archived(queue))
        return self._client.get_redis_connection(node)

    @_wrap_unavailable
    def orphan_step(self, queue: str, cursor: int, *, delete: bool = False,
                    count: int | None = None) -> tuple[int, int, list[bytes]]:
        """One SCAN step over the queue's task hashes (bounded by ``count``) and one
        script call that tells (or deletes) the orphans among them. Returns (next
        cursor, 0 when done; keys looked at; orphan ids)."""
        cursor, found = self._scan_client(queue).scan(cursor=cursor, match=keys.task_scan_pattern(queue),
                                                      count=count or ORPHAN_SCAN_COUNT)
        prefix = keys.task_prefix(queue)
        members = [bytes(k)[len(prefix):] for k in found if bytes(k).startswith(prefix)]
        if not members:
            return int(cursor), len(found), []
        reply = self._script(_ORPHANS, [keys.archived(queue)], [prefix, "delete" if delete else "find", *members])
        return int(cursor), len(found), [bytes(m) for m in reply]

    @_wrap_unavailable
    def enqueue(self, queue: str, tasks: Iterable[tuple[bytes, bytes]], now_ns: int) -> list[EnqueueResult]:
        """asynq's Enqueue for each (member, msg): SADD asynq:queues, then one
        script call. A task whose id is live in the queue is refused."""
        tasks = list(tasks)
        if len(tasks) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} tasks per call")
        if not tasks:
            return []
        self._client.sadd(keys.ALL_QUEUES, keys.encode_name(queue))
        keys_ = [keys.pending(queue)] + [keys.task_of_member(queue, m) for m, _ in tasks]
        argv = [str(int(now_ns))]
        for member, msg in tasks:
            argv += [member, msg]
        reply = self._script(_ENQUEUE, keys_, argv)
        return [EnqueueResult(reply[n] == 1, _text(reply[n + 1])) for n in range(0, len(reply), 2)]


def task_from_msg(raw: bytes | None, queue: str, task_id: str, state: str = "archived"):
    """A TaskInfo (or BrokenTask) from a msg as asynq stored it, so a vaulted death
    is presented exactly like a live task."""
    from .errors import MessageDecodeError
    from .inspector import BrokenTask, _make_task_info, _mismatch, _short
    from . import messages

    if not raw:
        return BrokenTask(task_id, queue, state, "msg field missing")
    try:
        m = messages.parse_task_message(raw)
    except MessageDecodeError as exc:
        return BrokenTask(task_id, queue, state, f"msg undecodable: {_short(exc)}")
    problem = _mismatch(m, task_id, queue)
    if problem is not None:
        return BrokenTask(task_id, queue, state, problem)
    try:
        return _make_task_info(m, task_id, queue, state, None, False, None)
    except (OverflowError, ValueError) as exc:
        return BrokenTask(task_id, queue, state, f"time out of range: {_short(exc)}")
