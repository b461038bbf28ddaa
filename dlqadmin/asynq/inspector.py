"""Read-only view of asynq's Redis state, with asynq's Inspector semantics.

``Inspector`` takes a redis-py client (see ``connection.connect``) and returns
frozen dataclasses. Every method reads; nothing here writes to Redis (asynq's
own Inspector deletes stale heartbeat members while listing servers and
schedulers; we only filter them out, see ``servers``).

Conventions shared by all results:

- datetimes are tz-aware UTC; Go's zero time (asynq's "unset") is ``None``;
- binary values (payload, result) are ``bytes``; an empty one is ``None``,
  as asynq reports a nil slice;
- a task whose data is damaged (stale id, missing hash, undecodable ``msg``,
  unknown ``state``) is returned as ``BrokenTask`` instead of raising, so one
  bad task never hides the others;
- Redis connection failures and timeouts raise ``RedisUnavailable``; any
  other Redis error reply raises ``AsynqError``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Union

from redis.cluster import RedisCluster

from . import keys, messages
from .errors import MessageDecodeError, QueueNotFound, TaskNotFound
from .scripts import ScriptClient, _Script, _wrap_unavailable, damage_text

UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)

TASK_STATES = (
    "pending",
    "active",
    "scheduled",
    "retry",
    "archived",
    "completed",
    "aggregating",
)
_LIST_STATES = frozenset({"pending", "active"})
# What list_page.lua returns per task besides msg and result.
_WHEN_SLOT = {"scheduled": "score", "retry": "score", "active": "lease"}
MAX_PAGE_SIZE = 1000
# Page orders of list_tasks: asynq's own ("asc") and its reverse.
ORDERS = ("asc", "desc")

# asynq's memory-usage sampling parameters (rdb.memoryUsage).
_TASK_SAMPLE_SIZE = 20
_GROUP_SAMPLE_SIZE = 5


# --- Results -------------------------------------------------------------------


@dataclass(frozen=True)
class QueueInfo:
    queue: str
    memory_usage: int  # bytes, sampled estimate (asynq's algorithm); -1 if skipped
    latency: _dt.timedelta  # age of the oldest pending task, 0 if none
    size: int  # pending+active+scheduled+retry+archived+completed+aggregating
    groups: int
    pending: int
    active: int
    scheduled: int
    retry: int
    archived: int
    completed: int
    aggregating: int
    processed: int  # today (UTC), succeeded + failed
    failed: int  # today (UTC)
    processed_total: int
    failed_total: int
    paused: bool
    timestamp: _dt.datetime  # when the numbers were read
    # Non-empty when a key of the queue has the wrong Redis type: the counts are then
    # all 0 and mean nothing; callers show the queue as damaged and skip it.
    problem: str = ""

    @property
    def latency_seconds(self) -> float:
        return self.latency.total_seconds()

    @property
    def damaged(self) -> bool:
        return bool(self.problem)

    @classmethod
    def damaged_queue(cls, queue: str, problem: str, now: _dt.datetime) -> "QueueInfo":
        return cls(queue=queue, memory_usage=-1, latency=_dt.timedelta(0), size=0, groups=0, pending=0,
                   active=0, scheduled=0, retry=0, archived=0, completed=0, aggregating=0, processed=0,
                   failed=0, processed_total=0, failed_total=0, paused=False, timestamp=now,
                   problem=problem or "damaged")


@dataclass(frozen=True)
class DailyStats:
    queue: str
    processed: int
    failed: int
    date: _dt.date  # UTC day


@dataclass(frozen=True)
class GroupInfo:
    group: str
    size: int


@dataclass(frozen=True)
class TaskInfo:
    id: str
    queue: str
    type: str
    payload: bytes | None
    headers: dict[str, str] | None
    state: str
    max_retry: int
    retried: int
    last_err: str
    last_failed_at: _dt.datetime | None
    timeout_seconds: int
    deadline: _dt.datetime | None
    group: str
    next_process_at: _dt.datetime | None
    is_orphaned: bool
    retention_seconds: int
    completed_at: _dt.datetime | None
    result: bytes | None


@dataclass(frozen=True)
class BrokenTask:
    """A task id we could not turn into a TaskInfo, and why."""

    id: str
    queue: str
    state: str
    problem: str


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Union[TaskInfo, BrokenTask]]
    total: int  # members of the state's list/zset, broken ones included
    page: int
    page_size: int
    broken: int  # how many of ``tasks`` are BrokenTask


@dataclass(frozen=True)
class WorkerInfo:
    task_id: str
    task_type: str
    task_payload: bytes | None
    queue: str
    started: _dt.datetime | None
    deadline: _dt.datetime | None


@dataclass(frozen=True)
class ServerInfo:
    id: str
    host: str
    pid: int
    concurrency: int
    queues: dict[str, int]  # queue name -> priority
    strict_priority: bool
    started: _dt.datetime | None
    status: str
    active_workers: list[WorkerInfo]  # sorted by task id


@dataclass(frozen=True)
class SchedulerEntry:
    id: str
    spec: str
    task_type: str
    task_payload: bytes | None
    opts: list[str]  # option strings as asynq stores them, e.g. 'Queue("x")'
    next: _dt.datetime | None
    prev: _dt.datetime | None  # None: never enqueued yet

    @property
    def queue(self) -> str:
        """The queue the entry enqueues into: its Queue("...") option, else "default"."""
        return entry_queue(self.opts)


def entry_queue(opts: list[str]) -> str:
    """asynq writes options with Go's %q (Queue("a\"b")); the last Queue option wins, as
    when asynq applies them in order."""
    queue = "default"
    for opt in opts:
        if opt.startswith('Queue("') and opt.endswith('")'):
            queue = _go_unquote(opt[6:-1])
    return queue


_GO_ESCAPES = {"a": b"\a", "b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t", "v": b"\v"}


def _go_unquote(quoted: str) -> str:
    """A Go double-quoted literal (as strconv.Quote writes it) -> its text; anything
    malformed is kept as written rather than guessed at."""
    body, out, i = quoted[1:-1], bytearray(), 0
    try:
        while i < len(body):
            c = body[i]
            if c != "\\" or i + 1 == len(body):
                out += c.encode("utf-8", errors="surrogateescape")
                i += 1
                continue
            e = body[i + 1]
            if e == "x":
                out.append(int(body[i + 2:i + 4], 16))
                i += 4
            elif e in "uU":
                width = 4 if e == "u" else 8
                out += chr(int(body[i + 2:i + 2 + width], 16)).encode("utf-8")
                i += 2 + width
            else:
                out += _GO_ESCAPES.get(e, e.encode("utf-8"))
                i += 2
    except ValueError:
        return body
    return out.decode("utf-8", errors="surrogateescape")


@dataclass(frozen=True)
class SchedulerEnqueueEvent:
    task_id: str
    enqueued_at: _dt.datetime | None


# --- Lua scripts -----------------------------------------------------------------

_QUEUE_STATS = _Script("queue_stats")
_LIST_PAGE = _Script("list_page")
_GET_TASK = _Script("get_task")
_GROUPS = _Script("groups")
_NEIGHBOURS = _Script("neighbours")
_SCRIPTS = (_QUEUE_STATS, _LIST_PAGE, _GET_TASK, _GROUPS, _NEIGHBOURS)
# How far into a pending / active list neighbours() looks for a task (LPOS MAXLEN).
NEIGHBOUR_SCAN = 10_000




_decode = keys.decode_name

# Unix seconds -> datetime. Pages repeat the same seconds a lot (archived
# tasks failing in bursts), and a dict hit is cheaper than building one.
_utc_cache: dict[int, _dt.datetime] = {}


def _utc(seconds: int) -> _dt.datetime | None:
    if not seconds:
        return None
    value = _utc_cache.get(seconds)
    if value is None:
        if len(_utc_cache) > 4096:
            _utc_cache.clear()
        value = _utc_cache[seconds] = _EPOCH + _dt.timedelta(seconds=seconds)
    return value


def _score_seconds(raw) -> int | None:
    """A zset score reply (bytes or float) as whole Unix seconds."""
    if raw is None:
        return None
    return int(float(raw))


def _short(exc: Exception, limit: int = 120) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_page(page, page_size) -> None:
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValueError(f"page must be an int >= 1, got {page!r}")
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise ValueError(f"page_size must be an int in 1..{MAX_PAGE_SIZE}, got {page_size!r}")


_new = object.__new__


def _make_task_info(m, task_id, queue, state, next_process_at, is_orphaned, result) -> TaskInfo:
    """TaskInfo from a parsed TaskMessage protobuf (``messages.parse_task_message``).

    This runs once per listed task, so it reads the protobuf directly and
    fills the frozen instance's ``__dict__`` in one go: a frozen dataclass's
    ``__init__`` pays one ``object.__setattr__`` per field, and an
    intermediate TaskMessage doubled the work.
    """
    headers = m.headers
    lf, dl, ca = m.last_failed_at, m.deadline, m.completed_at
    info = _new(TaskInfo)
    info.__dict__.update(
        id=task_id,  # equal to m.id: callers checked
        queue=queue,  # equal to m.queue: callers checked
        type=m.type,
        payload=m.payload or None,
        headers=dict(headers) if headers else None,
        state=state,
        max_retry=m.retry,
        retried=m.retried,
        last_err=m.error_msg,
        last_failed_at=_utc(lf) if lf else None,
        timeout_seconds=m.timeout,
        deadline=_utc(dl) if dl else None,
        group=m.group_key,
        next_process_at=next_process_at,
        is_orphaned=is_orphaned,
        retention_seconds=m.retention,
        completed_at=_utc(ca) if ca else None,
        result=result or None,
    )
    return info


# --- Inspector -----------------------------------------------------------------


class Inspector(ScriptClient):
    """Reads queues, tasks, servers and schedulers the way asynq's Inspector does.

    ``now`` is an optional callable returning the current time (a tz-aware
    datetime); tests pass a fixed clock. It decides "today" for stats,
    latency, orphaned leases, stale heartbeats and pending tasks'
    next_process_at.
    """

    def _scripts(self) -> tuple:
        return _SCRIPTS

    # -- plumbing ---------------------------------------------------------------

    def _with_queue_check(self, queue: str, command: tuple, *, damage_ok: bool = False):
        """Run ``command`` in the same round trip as asynq's existence test."""
        exists, result = self._pipeline(
            [("SISMEMBER", keys.ALL_QUEUES, keys.encode_name(queue)), command], damage_ok=damage_ok
        )
        if not exists:
            raise QueueNotFound(queue)
        return result

    # -- queues -----------------------------------------------------------------

    @_wrap_unavailable
    def queues(self) -> list[str]:
        """Names of all queues (members of asynq:queues), sorted."""
        return sorted(_decode(q) for q in self._client.smembers(keys.ALL_QUEUES))

    def _stats_command(self, queue: str, today: _dt.date, memory: bool) -> tuple:
        keys_ = [
            keys.pending(queue),
            keys.active(queue),
            keys.scheduled(queue),
            keys.retry(queue),
            keys.archived(queue),
            keys.completed(queue),
            keys.processed(queue, today),
            keys.failed(queue, today),
            keys.processed_total(queue),
            keys.failed_total(queue),
            keys.paused(queue),
            keys.groups(queue),
        ]
        argv = [
            keys.task_prefix(queue),
            keys.group_prefix(queue),
            _TASK_SAMPLE_SIZE if memory else 0,
            _GROUP_SAMPLE_SIZE,
        ]
        return _QUEUE_STATS.args(keys_, argv)

    @staticmethod
    def _queue_info(queue: str, now: _dt.datetime, r) -> QueueInfo:
        if isinstance(r, Exception):  # a damaged-data reply (see _pipeline's damage_ok)
            return QueueInfo.damaged_queue(queue, damage_text(r), now)
        pending, active, scheduled, retry, archived, completed = r[0:6]
        pending_since = r[11]
        latency = _dt.timedelta(0)
        if pending_since:
            try:
                ns = int(pending_since)
            except ValueError:
                ns = 0  # garbage in the field: report no latency, as asynq
            if ns:
                latency = now - (_EPOCH + _dt.timedelta(microseconds=ns // 1000))
        aggregating = r[13]
        return QueueInfo(
            queue=queue,
            memory_usage=r[14],
            latency=latency,
            size=pending + active + scheduled + retry + archived + completed + aggregating,
            groups=r[12],
            pending=pending,
            active=active,
            scheduled=scheduled,
            retry=retry,
            archived=archived,
            completed=completed,
            aggregating=aggregating,
            processed=r[6],
            failed=r[7],
            processed_total=r[8],
            failed_total=r[9],
            paused=bool(r[10]),
            timestamp=now,
        )

    @_wrap_unavailable
    def queue_info(self, queue: str, *, memory_usage: bool = True) -> QueueInfo:
        """asynq's GetQueueInfo. ``memory_usage=False`` skips the sampling
        (MEMORY USAGE of up to ~130 keys) and reports -1. A queue with a key of the
        wrong type comes back with ``problem`` set (see QueueInfo)."""
        now = self._now()
        r = self._with_queue_check(queue, self._stats_command(queue, now.date(), memory_usage), damage_ok=True)
        return self._queue_info(queue, now, r)

    @_wrap_unavailable
    def all_queue_info(self, *, memory_usage: bool = True, names=None) -> list[QueueInfo]:
        """QueueInfo of every queue (or of `names`, a caller's fresh read of
        queues()), sorted by name: one SMEMBERS unless names are given, then
        one pipelined round trip with one script call per queue."""
        if names is None:
            names = self._client.smembers(keys.ALL_QUEUES)
            names = sorted(_decode(q) for q in names)
        else:
            names = sorted(names)
        if not names:
            return []
        now = self._now()
        today = now.date()
        # A damaged queue costs only its own entry (problem set), never the list.
        results = self._pipeline([self._stats_command(q, today, memory_usage) for q in names], damage_ok=True)
        return [self._queue_info(q, now, r) for q, r in zip(names, results)]

    def _history_dates(self, days) -> list[_dt.date]:
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"days must be an int >= 1, got {days!r}")
        now = self._now()
        return [(now - _dt.timedelta(days=i)).date() for i in range(days)]

    @staticmethod
    def _history_command(queue: str, dates) -> tuple:
        day_keys = []
        for d in dates:
            day_keys += [keys.processed(queue, d), keys.failed(queue, d)]
        return ("MGET", *day_keys)

    @staticmethod
    def _daily_stats(queue: str, dates, values) -> list[DailyStats]:
        def count(raw) -> int:
            try:
                return int(raw) if raw is not None else 0
            except ValueError:
                return 0

        return [
            DailyStats(queue, count(values[2 * i]), count(values[2 * i + 1]), d)
            for i, d in enumerate(dates)
        ]

    @_wrap_unavailable
    def history(self, queue: str, days: int = 7) -> list[DailyStats]:
        """Processed/failed counts of the last ``days`` UTC days, newest first."""
        dates = self._history_dates(days)
        return self._daily_stats(queue, dates, self._with_queue_check(queue, self._history_command(queue, dates)))

    @_wrap_unavailable
    def histories(self, queues, days: int = 7) -> dict[str, list[DailyStats]]:
        """history() of many queues in one pipelined round trip (one MGET per queue);
        queues that are not in asynq:queues are left out."""
        dates = self._history_dates(days)
        names = sorted(set(queues))
        if not names:
            return {}
        replies = self._pipeline([command for q in names for command in (
            ("SISMEMBER", keys.ALL_QUEUES, keys.encode_name(q)), self._history_command(q, dates))])
        return {q: self._daily_stats(q, dates, replies[2 * i + 1])
                for i, q in enumerate(names) if replies[2 * i]}

    @_wrap_unavailable
    def groups(self, queue: str) -> list[GroupInfo]:
        """Groups of the queue with their sizes, sorted by name.

        Unlike asynq's Groups() this raises QueueNotFound for an unknown
        queue, like every other per-queue method here."""
        command = _GROUPS.args([keys.groups(queue)], [keys.group_prefix(queue)])
        flat = self._with_queue_check(queue, command)
        found = [GroupInfo(_decode(flat[i]), flat[i + 1]) for i in range(0, len(flat), 2)]
        return sorted(found, key=lambda g: g.group)

    # -- tasks --------------------------------------------------------------------

    @_wrap_unavailable
    def neighbours(self, queue: str, state: str, task_id: str, *, order: str = "asc",
                   group: str | None = None) -> tuple[str | None, str | None] | None:
        """(previous id, next id) of a task in list_tasks' order for ``state``
        (None at an end), or None if the task is not in that state (any more).
        One Redis round trip; in a pending / active list only the first
        NEIGHBOUR_SCAN entries are searched, so the work stays bounded."""
        if state not in TASK_STATES:
            raise ValueError(f"unknown task state {state!r}; expected one of {TASK_STATES}")
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; expected one of {ORDERS}")
        if state == "aggregating":
            if not group:
                return None
            id_key = keys.group(queue, group)
        else:
            id_key = keys.state_key(queue, state)
        argv = ["list" if state in _LIST_STATES else "zset", keys.encode_name(task_id), order, NEIGHBOUR_SCAN]
        found, before, after = self._with_queue_check(queue, _NEIGHBOURS.args([id_key], argv))
        if not found:
            return None
        return (_decode(before) if before else None, _decode(after) if after else None)

    @_wrap_unavailable
    def list_tasks(
        self,
        queue: str,
        state: str,
        page: int = 1,
        page_size: int = 20,
        group: str | None = None,
        order: str = "asc",
    ) -> TaskPage:
        """One page of a state's tasks in asynq's order (pending/active oldest
        first, zsets by ascending score), or its reverse with ``order="desc"``
        (the archived set newest death first), read in that order by Redis.
        ``state="aggregating"`` lists the group ``group``. One Redis round trip."""
        if state not in TASK_STATES:
            raise ValueError(f"unknown task state {state!r}; expected one of {TASK_STATES}")
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; expected one of {ORDERS}")
        _check_page(page, page_size)
        if state == "aggregating":
            if not group:
                raise ValueError("state 'aggregating' needs a group")
            id_key = keys.group(queue, group)
        else:
            if group is not None:
                raise ValueError("group only applies to state 'aggregating'")
            id_key = keys.state_key(queue, state)
        start = (page - 1) * page_size
        keys_ = [id_key, keys.lease(queue)]
        argv = [
            "list" if state in _LIST_STATES else "zset",
            start,
            start + page_size - 1,
            keys.task_prefix(queue),
            _WHEN_SLOT.get(state, "none"),
            order,
        ]
        if self._cluster:
            reply = self._with_queue_check(queue, _LIST_PAGE.args(keys_, argv))
        else:
            # The script tests asynq:queues itself: one command, not a pipeline
            # (this is the hot path of the DLQ page).
            keys_.append(keys.ALL_QUEUES)
            argv.append(keys.encode_name(queue))
            reply = self._script(_LIST_PAGE, keys_, argv)
            if reply[0] == -1:
                raise QueueNotFound(queue)
        now = self._now()
        tasks, broken = self._decode_page(queue, state, reply, now)
        return TaskPage(tasks=tasks, total=reply[0], page=page, page_size=page_size, broken=broken)

    @staticmethod
    def _decode_page(queue: str, state: str, reply: list, now: _dt.datetime):
        """list_page.lua's reply -> (tasks, broken count). Hot loop: kept flat."""
        tasks: list[Union[TaskInfo, BrokenTask]] = []
        append = tasks.append
        broken = 0
        now_s = int(now.timestamp())
        parse = messages.parse_task_message
        make = _make_task_info
        score_is_time = state in ("scheduled", "retry")
        is_active = state == "active"
        # next_process_at: "now" for pending, the score for scheduled/retry.
        fixed_next_at = now if state == "pending" else None
        for raw_id, raw_msg, result, slot in zip(
            reply[1::4], reply[2::4], reply[3::4], reply[4::4]
        ):
            task_id = raw_id.decode("utf-8", "surrogateescape")
            if raw_msg.__class__ is not bytes:  # nil, or 0 for a stale id
                problem = "task hash missing" if raw_msg == 0 else "msg field missing"
            else:
                try:
                    m = parse(raw_msg)
                except MessageDecodeError as exc:
                    problem = f"msg undecodable: {_short(exc)}"
                else:
                    if m.id == task_id and m.queue == queue:
                        try:
                            if score_is_time:
                                next_at = _utc(_score_seconds(slot))
                            else:
                                next_at = fixed_next_at
                            # asynq: orphaned once the lease expiry is at or
                            # before now (whole seconds).
                            orphaned = (
                                is_active and slot is not None and _score_seconds(slot) <= now_s
                            )
                            append(make(m, task_id, queue, state, next_at, orphaned, result))
                            continue
                        except (OverflowError, ValueError) as exc:
                            # A time beyond what datetime holds (Go's int64
                            # seconds reach much further), or an inf score.
                            problem = f"time out of range: {_short(exc)}"
                    else:
                        problem = _mismatch(m, task_id, queue)
            append(BrokenTask(task_id, queue, state, problem))
            broken += 1
        return tasks, broken

    @_wrap_unavailable
    def get_task(self, queue: str, task_id: str) -> Union[TaskInfo, BrokenTask]:
        """One task by id (asynq's GetTaskInfo).

        Raises QueueNotFound / TaskNotFound. A task whose hash is damaged
        comes back as BrokenTask. ``is_orphaned`` is computed from the lease
        here too (asynq's GetTaskInfo always reports false), so a task page
        and a task view agree."""
        command = _GET_TASK.args(
            [
                keys.task(queue, task_id),
                keys.scheduled(queue),
                keys.retry(queue),
                keys.lease(queue),
            ],
            [keys.encode_name(task_id)],
        )
        reply = self._with_queue_check(queue, command)
        if reply is None:
            raise TaskNotFound(queue, task_id)
        raw_msg, raw_state, result, score = reply
        state = _decode(raw_state) if raw_state is not None else ""
        if state not in TASK_STATES:
            return BrokenTask(task_id, queue, state, f"unknown state {state!r}")
        if raw_msg is None:
            return BrokenTask(task_id, queue, state, "msg field missing")
        try:
            m = messages.parse_task_message(raw_msg)
        except MessageDecodeError as exc:
            return BrokenTask(task_id, queue, state, f"msg undecodable: {_short(exc)}")
        problem = _mismatch(m, task_id, queue)
        if problem is not None:
            return BrokenTask(task_id, queue, state, problem)
        now = self._now()
        try:
            next_at = None
            if state == "pending":
                next_at = now
            elif state in ("scheduled", "retry"):
                next_at = _utc(_score_seconds(score) or 0)
            orphaned = (
                state == "active"
                and score is not None
                and _score_seconds(score) <= int(now.timestamp())
            )
            return _make_task_info(m, task_id, queue, state, next_at, orphaned, result)
        except (OverflowError, ValueError) as exc:
            return BrokenTask(task_id, queue, state, f"time out of range: {_short(exc)}")

    # -- servers and schedulers -------------------------------------------------

    def _live_members(self, zset_keys: list[bytes]) -> list[list[bytes]]:
        """Members of heartbeat zsets whose expiry (score) is not yet past.

        asynq's Inspector also deletes the stale members while reading; a
        read path here never writes, so we only leave them out (asynq's next
        heartbeat or Inspector call cleans them up)."""
        now_s = int(self._now().timestamp())
        return self._pipeline(
            [("ZRANGEBYSCORE", key, now_s, "+inf") for key in zset_keys]
        )

    @_wrap_unavailable
    def servers(self) -> list[ServerInfo]:
        """Running servers (live heartbeat), sorted by id, each with its
        active workers sorted by task id. Undecodable entries are skipped."""
        server_keys, worker_keys = self._live_members([keys.ALL_SERVERS, keys.ALL_WORKERS])
        if not server_keys:
            return []
        replies = self._pipeline(
            [("GET", k) for k in server_keys] + [("HVALS", k) for k in worker_keys]
        )
        servers: dict[str, messages.ServerInfoMessage] = {}
        for raw in replies[: len(server_keys)]:
            if raw is None:  # key expired between the two round trips
                continue
            try:
                info = messages.decode_server_info(raw)
            except MessageDecodeError:
                continue
            servers[info.server_id] = info
        workers: dict[str, list[WorkerInfo]] = {sid: [] for sid in servers}
        for values in replies[len(server_keys) :]:
            for raw in values:
                try:
                    w = messages.decode_worker_info(raw)
                except MessageDecodeError:
                    continue
                if w.server_id in workers:
                    workers[w.server_id].append(
                        WorkerInfo(
                            task_id=w.task_id,
                            task_type=w.task_type,
                            task_payload=w.task_payload or None,
                            queue=w.queue,
                            started=w.started,
                            deadline=w.deadline,
                        )
                    )
        return [
            ServerInfo(
                id=s.server_id,
                host=s.host,
                pid=s.pid,
                concurrency=s.concurrency,
                queues=dict(s.queues),
                strict_priority=s.strict_priority,
                started=s.started,
                status=s.status,
                active_workers=sorted(workers[sid], key=lambda w: w.task_id),
            )
            for sid, s in sorted(servers.items())
        ]

    @_wrap_unavailable
    def scheduler_entries(self) -> list[SchedulerEntry]:
        """Entries of running schedulers (live heartbeat), sorted by spec then
        id. Undecodable entries are skipped."""
        (scheduler_keys,) = self._live_members([keys.ALL_SCHEDULERS])
        if not scheduler_keys:
            return []
        lists = self._pipeline([("LRANGE", k, 0, -1) for k in scheduler_keys])
        entries = []
        for values in lists:
            for raw in values:
                try:
                    e = messages.decode_scheduler_entry(raw)
                except MessageDecodeError:
                    continue
                entries.append(
                    SchedulerEntry(
                        id=e.id,
                        spec=e.spec,
                        task_type=e.task_type,
                        task_payload=e.task_payload or None,
                        opts=list(e.opts),
                        next=e.next,
                        prev=e.prev,
                    )
                )
        return sorted(entries, key=lambda e: (e.spec, e.id))

    @_wrap_unavailable
    def scheduler_enqueue_event_count(self, entry_id: str) -> int:
        """How many enqueue events asynq keeps for the entry (it caps them itself)."""
        return self._client.zcard(keys.scheduler_history(entry_id))

    @_wrap_unavailable
    def scheduler_enqueue_events(
        self, entry_id: str, page: int = 1, page_size: int = 20
    ) -> list[SchedulerEnqueueEvent]:
        """Enqueue events of one scheduler entry, newest first."""
        _check_page(page, page_size)
        start = (page - 1) * page_size
        raw = self._client.zrevrange(keys.scheduler_history(entry_id), start, start + page_size - 1)
        events = []
        for member in raw:
            try:
                e = messages.decode_enqueue_event(member)
            except MessageDecodeError:
                continue  # asynq fails the whole call; one bad member should not
            events.append(SchedulerEnqueueEvent(task_id=e.task_id, enqueued_at=e.enqueued_at))
        return events

    # -- Redis itself -------------------------------------------------------------

    @_wrap_unavailable
    def redis_info(self) -> dict:
        """Redis INFO, parsed by redis-py into a dict."""
        return self._client.info()

    @_wrap_unavailable
    def redis_overview(self) -> RedisOverview:
        """Version, mode, memory and clients of asynq's Redis; every node for a cluster."""
        if self._cluster:
            per_node = self._client.info(target_nodes=RedisCluster.ALL_NODES)
            nodes = [_node(name, info) for name, info in sorted(per_node.items())]
            first = per_node[min(per_node)] if per_node else {}
            return RedisOverview(mode="cluster", version=str(first.get("redis_version", "")),
                                 used_memory=sum(n.used_memory for n in nodes),
                                 connected_clients=sum(n.connected_clients for n in nodes), nodes=nodes)
        info = self._client.info()
        return RedisOverview(mode=str(info.get("redis_mode", "standalone")), version=str(info.get("redis_version", "")),
                             used_memory=int(info.get("used_memory", 0)),
                             connected_clients=int(info.get("connected_clients", 0)),
                             nodes=[_node("", info)])


@dataclass(frozen=True)
class RedisNode:
    address: str  # host:port ("" for the one server of a standalone setup)
    role: str  # master | slave (Redis' own words)
    version: str
    used_memory: int
    connected_clients: int
    uptime_seconds: int


@dataclass(frozen=True)
class RedisOverview:
    mode: str  # standalone | cluster (Sentinel-managed servers say standalone)
    version: str
    used_memory: int  # bytes, summed over nodes for a cluster
    connected_clients: int
    nodes: list[RedisNode]


def _node(address, info: dict) -> RedisNode:
    return RedisNode(address=str(address), role=str(info.get("role", "")), version=str(info.get("redis_version", "")),
                     used_memory=int(info.get("used_memory", 0)), connected_clients=int(info.get("connected_clients", 0)),
                     uptime_seconds=int(info.get("uptime_in_seconds", 0)))


def _mismatch(m, task_id: str, queue: str) -> str | None:
    """A msg that names another task or queue than where it is stored is
    damaged data; acting on it (run, delete) would hit the wrong keys."""
    if m.id != task_id:
        return f"msg id {m.id!r} differs from the stored id"
    if m.queue != queue:
        return f"msg queue {m.queue!r} differs from the queue it is stored in"
    return None
