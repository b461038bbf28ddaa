"""Search a state's tasks and group dead tasks by failure reason (no Django).

asynq keeps no index, so a search scans the state's list/zset. It never
blocks Redis: each Redis call (``lua/search_chunk.lua``) reads at most
``chunk`` ids and stops early once it has scanned or returned a byte budget,
and the caller shrinks the chunk when a call takes too long. Inside the
script a cheap pre-filter walks each protobuf's field headers (type, group,
retried, times, error text) and returns only the tasks that may match; the
final decision is always made here, in Python, on the decoded ``TaskInfo``
(``TaskFilter.matches``), so the pre-filter only saves work and never
changes a result.

    from dlqadmin.asynq.search import TaskFilter, search
    for progress in search(client, "payments", "archived", TaskFilter(error="timeout")):
        show(progress.matches, progress.scanned, progress.total)

Between two calls the scan resumes after the last id it read, so tasks that
leave the state meanwhile never make the scan skip others (a zset resumes by
rank or, when that id is gone, by its score and a binary search among its
ties; a list looks the id up in the window just before the old position).

A search can also be resumed later, e.g. by the next HTTP request of a page
that streams results: every ``SearchProgress`` carries an opaque ``cursor``
(``None`` once done), and ``search(..., resume=cursor)`` continues right
after the last id read, with ``scanned`` and ``total`` carried over. For the
list states (pending, active) a task may then be seen twice if the list
shifted between the two searches (within one search repeats are dropped).
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Union

from . import keys
from .errors import DamagedData, TaskNotFound
from .inspector import (
    TASK_STATES,
    BrokenTask,
    Inspector,
    TaskInfo,
    _Script,
    _wrap_unavailable,
)

UTC = _dt.timezone.utc

__all__ = [
    "TaskFilter",
    "SearchProgress",
    "search",
    "FailureGroup",
    "failure_groups",
    "normalise_error",
]

# --- normalise_error -----------------------------------------------------------------

_MAX_LINE = 1000  # characters of the first line looked at
_MAX_REASON = 200  # characters of a reason

# Two passes: quoted values first (they may span spaces), then each
# whitespace-delimited token that holds a digit or an "@" (with a cache, as
# tokens like "502" or "5.1.1" repeat a lot). A single regex over the whole
# line was 5x slower.
_QUOTED = re.compile(
    r"""
    (?P<key>"(?:[^"\\]|\\.)*"(?=\s*:))                # a JSON key: kept
  | (?P<dq>"(?:[^"\\]|\\.)*")                          # a quoted value
  | (?P<sq>(?<!\w)'[^'\n]*'(?!\w))
  | (?P<bq>`[^`\n]*`)
    """,
    re.VERBOSE,
)
_TOKEN = re.compile(r"(?<![^\s\"'`])(?=[^\s\"'`]*[\d@])[^\s\"'`]+")
_INNER = re.compile(
    r"""
    (?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<email>(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
  | (?P<ip4>(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.]))
  | (?P<ip6>(?<![\w:])(?=[0-9a-fA-F:]*\d)(?=[0-9a-fA-F:]*::|(?:[0-9a-fA-F]{1,4}:){7})
            [0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?![\w:]))
  | (?P<dur>(?<![\w.])(?:\d+(?:\.\d+)?(?:ns|us|µs|μs|ms|s|m|h))+(?!\w))
  | (?P<hex>(?<!\w)(?:0[xX][0-9a-fA-F]+|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,})(?!\w))
  | (?P<id>(?<!\w)(?=\w*\d\w*\d)(?=\w*[A-Za-z])\w{8,}(?!\w))   # e.g. req_8Yq2Lm
  | (?P<num>\d+)
    """,
    re.VERBOSE,
)
_PLACEHOLDER = {
    "uuid": "<uuid>",
    "email": "<email>",
    "dq": '"…"',
    "sq": "'…'",
    "bq": "`…`",
    "ip4": "<ip>",
    "ip6": "<ip>",
    "dur": "<duration>",
    "hex": "<hex>",
    "id": "<id>",
    "num": "<n>",
}
_SPACE = re.compile(r"\s+")
_token_cache: dict[str, str] = {}


def _placeholder(m: re.Match) -> str:
    kind = m.lastgroup
    return m.group() if kind == "key" else _PLACEHOLDER[kind]


def _token(m: re.Match) -> str:
    token = m.group()
    out = _token_cache.get(token)
    if out is None:
        if len(_token_cache) > 20000:
            _token_cache.clear()
        out = _token_cache[token] = _INNER.sub(_placeholder, token)
    return out


def normalise_error(text: str) -> str:
    """An error message reduced to its kind, so that failures that differ only
    by ids, numbers or values group together.

    Keeps the first non-blank line (at most 1,000 characters of it), replaces
    UUIDs, IP addresses (v4 with port, v6), durations (``1.5s``, ``2m30s``),
    hex ids (``0x..`` or >= 8 hex characters with a digit), id-like tokens
    (word characters, >= 8 long, with letters and >= 2 digits), quoted values
    (JSON keys are kept), e-mail addresses and remaining numbers by placeholders, collapses
    whitespace and cuts the result to 200 characters."""
    if not isinstance(text, str):
        raise TypeError(f"normalise_error needs a str, got {type(text).__name__}")
    text = text.lstrip()
    if not text:
        return ""
    line = text.splitlines()[0][:_MAX_LINE]
    if '"' in line or "'" in line or "`" in line:
        line = _QUOTED.sub(_placeholder, line)
    line = _TOKEN.sub(_token, line)
    line = _SPACE.sub(" ", line).strip()
    if len(line) > _MAX_REASON:
        line = line[: _MAX_REASON - 1] + "…"
    return line


# --- TaskFilter ------------------------------------------------------------------------

# The task time that since/until apply to, per state.
_TIME_ATTR = {
    "archived": "last_failed_at",
    "retry": "last_failed_at",
    "pending": "last_failed_at",
    "active": "last_failed_at",
    "aggregating": "last_failed_at",
    "completed": "completed_at",
    "scheduled": "next_process_at",
}
_LUA_TIME_FIELD = {"last_failed_at": "lf", "completed_at": "ca", "next_process_at": "score"}

_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no", ""})


def _as_utc(value, name: str) -> _dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, _dt.datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
        raise ValueError(f"{name} is out of range") from None


def _check_count(value, name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")


def _format_time(value: _dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _parse_time(text: str, name: str, *, end_of_day: bool) -> _dt.datetime:
    raw = text.strip()
    try:
        if len(raw) == 10:  # a date: the day's start (until: the next day's start)
            day = _dt.date.fromisoformat(raw)
            value = _dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
            return value + _dt.timedelta(days=1) if end_of_day else value
        value = _dt.datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time, got {text!r}"
        ) from None
    return _as_utc(value, name)


def _parse_count(text: str, name: str) -> int:
    raw = text.strip()
    if not raw.isascii() or not raw.isdigit():
        raise ValueError(f"{name} must be a whole number >= 0, got {text!r}")
    return int(raw)


def _json_text(value) -> str:
    """A JSON value's string form for payload_value: strings as they are,
    anything else as compact JSON text (true, 42, 1.5, null, [1,2])."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class TaskFilter:
    """What to look for; every set criterion must hold (AND). An empty filter
    matches every task, broken ones included.

    - ``type``: task type, exact, or a prefix with ``type_prefix=True``;
    - ``error``: substring of the last error, case-insensitive (Unicode);
    - ``since`` (inclusive) / ``until`` (exclusive): UTC datetimes compared
      with ``last_failed_at`` (archived, retry, pending, active,
      aggregating), ``completed_at`` (completed) or ``next_process_at``
      (scheduled); a task without that time never matches;
    - ``group``: the task's group key, exact;
    - ``retried_min`` / ``retried_max``: inclusive bounds of ``retried``;
    - ``payload_field`` + ``payload_value``: the payload is a JSON object and
      the value at the dotted path (``customer.email``, ``items.0.sku``;
      digits index arrays) has this string form (strings as is, numbers,
      bools, null, objects and arrays as compact JSON text);
    - ``reason``: ``normalise_error(last_err)`` equals it (used by
      ``FailureGroup.filter``; ``""`` selects tasks without an error);
    - ``id``: the task id, exact (any characters). ``search`` then reads that
      one task instead of scanning the state.
    """

    type: str | None = None
    type_prefix: bool = False
    error: str | None = None
    since: _dt.datetime | None = None
    until: _dt.datetime | None = None
    group: str | None = None
    retried_min: int | None = None
    retried_max: int | None = None
    payload_field: str | None = None
    payload_value: str | None = None
    reason: str | None = None
    id: str | None = None
    # Derived, not part of equality.
    _error_lower: str | None = field(default=None, init=False, repr=False, compare=False)
    _path: tuple = field(default=(), init=False, repr=False, compare=False)
    _payload_key: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        for name in ("type", "error", "group", "payload_field", "payload_value", "reason", "id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string, got {type(value).__name__}")
        if not isinstance(self.type_prefix, bool):
            raise ValueError("type_prefix must be True or False")
        if self.type_prefix and not self.type:
            raise ValueError("type_prefix needs a non-empty type")
        if self.error is not None and not self.error:
            raise ValueError("error must not be empty")
        if self.group is not None and not self.group:
            raise ValueError("group must not be empty")
        if self.id is not None and not self.id:
            raise ValueError("id must not be empty")
        since = _as_utc(self.since, "since")
        until = _as_utc(self.until, "until")
        if since is not None and until is not None and since >= until:
            raise ValueError("since must be before until")
        object.__setattr__(self, "since", since)
        object.__setattr__(self, "until", until)
        _check_count(self.retried_min, "retried_min")
        _check_count(self.retried_max, "retried_max")
        if (
            self.retried_min is not None
            and self.retried_max is not None
            and self.retried_min > self.retried_max
        ):
            raise ValueError("retried_min must not be greater than retried_max")
        if (self.payload_field is None) != (self.payload_value is None):
            raise ValueError("payload search needs both a field and a value (field=value)")
        if self.payload_field is not None:
            path = tuple(self.payload_field.split("."))
            if not all(path):
                raise ValueError(
                    f"payload field must be a dotted path like customer.email, "
                    f"got {self.payload_field!r}"
                )
            object.__setattr__(self, "_path", path)
            names = [p for p in path if not (p.isascii() and p.isdigit())]
            if names:  # a key that must appear in the JSON text (unless escaped)
                object.__setattr__(self, "_payload_key", names[-1].encode("utf-8", "surrogatepass"))
        if self.error is not None:
            object.__setattr__(self, "_error_lower", self.error.lower())

    # -- URLs ---------------------------------------------------------------------

    @classmethod
    def from_query(cls, query: Mapping) -> "TaskFilter":
        """From URL parameters (a dict or Django QueryDict): type, type_prefix,
        error, since, until, group, retried_min, retried_max, q ("field=value";
        without "=" it is a task id), reason and id. Empty parameters are ignored (except ``reason``, where an
        empty value means "no error"), unknown ones too. ``since`` / ``until``
        take ISO 8601 (naive = UTC) or a date; a date ``until`` includes that
        day. Raises ValueError with a message fit for the user."""

        def get(name):
            value = query.get(name)
            if isinstance(value, (list, tuple)):
                value = value[-1] if value else None
            if value is None:
                return None
            if not isinstance(value, str):
                raise ValueError(f"{name} must be text")
            return value

        def text(name):
            value = get(name)
            return value if value and value.strip() else None

        kwargs: dict = {}
        for name in ("type", "error", "group"):
            kwargs[name] = text(name)
        prefix = (get("type_prefix") or "").strip().lower()
        if prefix in _TRUE:
            kwargs["type_prefix"] = True
        elif prefix not in _FALSE:
            raise ValueError(f"type_prefix must be 1 or 0, got {get('type_prefix')!r}")
        for name in ("since", "until"):
            value = text(name)
            if value is not None:
                kwargs[name] = _parse_time(value, name, end_of_day=name == "until")
        for name in ("retried_min", "retried_max"):
            value = text(name)
            if value is not None:
                kwargs[name] = _parse_count(value, name)
        task_id = get("id") or None  # exact: an id may have spaces at either end
        q = text("q")
        if q is not None:
            name, sep, value = q.partition("=")
            if not sep:
                # No "field=": a task id (what a search box is given most). An id with
                # "=" in it needs the id parameter.
                if task_id is not None and task_id != q.strip():
                    raise ValueError("q names another task id than id")
                task_id = q.strip()
            elif not name.strip():
                raise ValueError(f"payload search must look like field=value, got {q!r}")
            else:
                kwargs["payload_field"] = name.strip()
                kwargs["payload_value"] = value
        reason = get("reason")
        if reason is not None:
            kwargs["reason"] = reason
        if task_id is not None:
            kwargs["id"] = task_id
        if kwargs.get("type_prefix") and not kwargs.get("type"):
            kwargs["type_prefix"] = False  # a ticked box with an empty type: no filter
        return cls(**kwargs)

    def to_query(self) -> dict[str, str]:
        """URL parameters that ``from_query`` turns back into this filter."""
        out: dict[str, str] = {}
        if self.type is not None:
            out["type"] = self.type
        if self.type_prefix:
            out["type_prefix"] = "1"
        if self.error is not None:
            out["error"] = self.error
        if self.since is not None:
            out["since"] = _format_time(self.since)
        if self.until is not None:
            out["until"] = _format_time(self.until)
        if self.group is not None:
            out["group"] = self.group
        if self.retried_min is not None:
            out["retried_min"] = str(self.retried_min)
        if self.retried_max is not None:
            out["retried_max"] = str(self.retried_max)
        if self.payload_field is not None:
            out["q"] = f"{self.payload_field}={self.payload_value}"
        if self.reason is not None:
            out["reason"] = self.reason
        if self.id is not None:
            out["id"] = self.id
        return out

    # -- matching -------------------------------------------------------------------

    @property
    def is_empty(self) -> bool:
        return self == _EMPTY

    @property
    def admits_broken(self) -> bool:
        """A task we cannot decode matches only a filter that asks nothing of its
        fields: none at all, or its id alone."""
        return self.is_empty or self == TaskFilter(id=self.id)

    def matches(self, task: Union[TaskInfo, BrokenTask]) -> bool:
        """The final word on one task (the Redis-side pre-filter only narrows)."""
        if self.id is not None and task.id != self.id:
            return False
        if isinstance(task, BrokenTask):
            return self.admits_broken
        if self.type is not None:
            if self.type_prefix:
                if not task.type.startswith(self.type):
                    return False
            elif task.type != self.type:
                return False
        if self.group is not None and task.group != self.group:
            return False
        if self.retried_min is not None and task.retried < self.retried_min:
            return False
        if self.retried_max is not None and task.retried > self.retried_max:
            return False
        if self.since is not None or self.until is not None:
            when = getattr(task, _TIME_ATTR[task.state])
            if when is None:
                return False
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when >= self.until:
                return False
        if self._error_lower is not None and self._error_lower not in task.last_err.lower():
            return False
        if self.reason is not None and normalise_error(task.last_err) != self.reason:
            return False
        if self.payload_field is not None:
            if _payload_value(task.payload, self._path, self._payload_key) != self.payload_value:
                return False
        return True

    def _lua_args(self, state: str) -> list:
        """ARGV[11..21] of search_chunk.lua."""
        time_field = ""
        since = until = ""
        if self.since is not None or self.until is not None:
            time_field = _LUA_TIME_FIELD[_TIME_ATTR[state]]
            # Task times are whole seconds: t >= since  <=>  t >= ceil(since).
            if self.since is not None:
                since = str(math.ceil(self.since.timestamp()))
            if self.until is not None:
                until = str(math.ceil(self.until.timestamp()))
        type_mode = "" if self.type is None else ("prefix" if self.type_prefix else "eq")
        return [
            "1" if self.is_empty else "0",
            type_mode,
            keys.encode_name(self.type or ""),
            "1" if self.group is not None else "0",
            keys.encode_name(self.group or ""),
            "" if self.retried_min is None else str(self.retried_min),
            "" if self.retried_max is None else str(self.retried_max),
            time_field,
            since,
            until,
            (self._error_lower or "").encode("utf-8", "surrogatepass"),
        ]


_EMPTY = TaskFilter()


def _payload_value(payload: bytes | None, path: tuple, key: bytes | None) -> str | None:
    """String form of the JSON value at ``path`` in an object payload, or None
    (not JSON, not an object, no such path)."""
    if not payload:
        return None
    if key is not None and key not in payload and b"\\" not in payload:
        return None  # the key cannot be in this JSON text: skip parsing it
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, too deep
        return None
    if not isinstance(doc, dict):
        return None
    for part in path:
        if isinstance(doc, dict):
            if part not in doc:
                return None
            doc = doc[part]
        elif isinstance(doc, list):
            if not (part.isascii() and part.isdigit()) or int(part) >= len(doc):
                return None
            doc = doc[int(part)]
        else:
            return None
    return _json_text(doc)


# --- search -------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchProgress:
    matches: list  # TaskInfo | BrokenTask found in this chunk, in asynq's order
    scanned: int  # ids read so far
    total: int  # size of the state's list/zset when the search started
    done: bool  # the scan reached the end (or the limit)
    cursor: str | None = None  # resume=cursor continues after this; None when done


_SEARCH_CHUNK = _Script("search_chunk")
_SEARCH_SCRIPTS = (_SEARCH_CHUNK,)
_LIST_STATES = frozenset({"pending", "active"})
_WHEN_SLOT = {"scheduled": "score", "retry": "score", "active": "lease"}

# Per-call bounds (see bench/README.md "Search"): the script stops after
# returning _OUT_BUDGET bytes of msgs or scanning _SCAN_BUDGET bytes, and the
# number of ids per call follows the measured call time towards _TARGET_CALL
# (never above ``chunk``, at most halved or doubled from one call to the next).
_OUT_BUDGET = 256 * 1024
_SCAN_BUDGET = 1024 * 1024
_TARGET_CALL = 0.002
_MIN_CHUNK = 16
MAX_CHUNK = 5000


class _Reader(Inspector):
    """The Inspector's plumbing (scripts, pipelines, clock), with our scripts
    loaded alongside its own on NOSCRIPT."""

    def _scripts(self) -> tuple:
        return (*super()._scripts(), *_SEARCH_SCRIPTS)

    @_wrap_unavailable
    def chunk(self, queue, state, group, start, count, cursor, cursor_score, mode, filter_args,
              first):
        if state == "aggregating":
            id_key = keys.group(queue, group)
        else:
            id_key = keys.state_key(queue, state)
        command = _SEARCH_CHUNK.args(
            [id_key, keys.lease(queue)],
            [
                "list" if state in _LIST_STATES else "zset",
                start,
                count,
                keys.task_prefix(queue),
                _WHEN_SLOT.get(state, "none"),
                cursor,
                cursor_score,
                _OUT_BUDGET,
                _SCAN_BUDGET,
                mode,
                *filter_args,
            ],
        )
        if first:
            return self._with_queue_check(queue, command)
        return self._script(_SEARCH_CHUNK, command[3:5], list(command[5:]))

    def now(self):
        return self._now()


def _check_args(state, chunk, group) -> None:
    if state not in TASK_STATES:
        raise ValueError(f"unknown task state {state!r}; expected one of {TASK_STATES}")
    if state == "aggregating":
        if not group:
            raise ValueError("state 'aggregating' needs a group")
    elif group is not None:
        raise ValueError("group only applies to state 'aggregating'")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= MAX_CHUNK:
        raise ValueError(f"chunk must be an int in 1..{MAX_CHUNK}, got {chunk!r}")


def _scan(reader: _Reader, queue, state, group, chunk, mode, filter_args, position=None):
    """Yields (tasks, n_read, total_now, done, position) per Redis call, tasks
    decoded as on a task page (TaskInfo / BrokenTask) in asynq's order;
    ``position`` = (start, last id, its score) resumes a scan there."""
    start, cursor, cursor_score = position or (0, b"", b"")
    count = chunk
    first = True
    decode = Inspector._decode_page
    while True:
        t0 = time.perf_counter()
        reply = reader.chunk(queue, state, group, start, count, cursor, cursor_score, mode,
                             filter_args, first)
        elapsed = time.perf_counter() - t0
        first = False
        total_now, start_used, n_read = reply[0], reply[1], reply[2]
        if n_read:
            cursor = reply[3]
            cursor_score = reply[4] if reply[4] is not None else b""
        start = start_used + n_read
        if len(reply) > 5:
            tasks, _ = decode(queue, state, [None, *reply[5:]], reader.now())
        else:
            tasks = []
        done = n_read == 0 or start >= total_now
        yield tasks, n_read, total_now, done, (start, cursor, cursor_score)
        if done:
            return
        # Keep each call short: scale the next one by the time this one took.
        if n_read == count:
            scale = min(2.0, max(0.5, _TARGET_CALL / max(elapsed, 1e-6)))
            count = max(min(_MIN_CHUNK, chunk), min(chunk, int(count * scale)))


def search(
    client,
    queue: str,
    state: str,
    f: TaskFilter | None = None,
    *,
    chunk: int = 500,
    limit: int | None = None,
    group: str | None = None,
    resume: str | None = None,
) -> Iterator[SearchProgress]:
    """Scan the tasks of ``state`` in ``queue`` (``group`` names the group
    for state "aggregating") and yield a SearchProgress after every Redis call.

    ``chunk`` is the most ids one call reads (smaller after a slow call).
    ``limit`` stops after that many matches. Close the generator to stop
    early. ``resume`` is the ``cursor`` of a progress of an earlier search
    with the same queue, state and group: the scan continues after it.
    Arguments are checked at once (ValueError, also for a malformed
    cursor); QueueNotFound and RedisUnavailable are raised by the first
    ``next()``."""
    f = _EMPTY if f is None else f
    if not isinstance(f, TaskFilter):
        raise ValueError(f"f must be a TaskFilter, got {type(f).__name__}")
    _check_args(state, chunk, group)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be an int >= 1, got {limit!r}")
    start = _decode_cursor(resume) if resume is not None else None
    return _search(_Reader(client), queue, state, f, chunk, limit, group, start)


_CURSOR_VERSION = "c1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _encode_cursor(position, scanned: int, total: int) -> str:
    start, last_id, score = position
    return ".".join([_CURSOR_VERSION, str(start), str(scanned), str(total), _b64(last_id), _b64(score)])


def _decode_cursor(cursor) -> tuple:
    """cursor -> ((start, last id, score), scanned, total); ValueError if malformed."""
    try:
        if not isinstance(cursor, str):
            raise ValueError
        version, start, scanned, total, last_id, score = cursor.split(".")
        if version != _CURSOR_VERSION:
            raise ValueError
        numbers = [int(x) for x in (start, scanned, total) if x.isascii() and x.isdigit()]
        if len(numbers) != 3:
            raise ValueError
        position = (numbers[0], _unb64(last_id), _unb64(score))
        if position[2] and not re.fullmatch(rb"[-+0-9.eE]+|[-+]?inf", position[2]):
            raise ValueError
    except (ValueError, TypeError, base64.binascii.Error):
        raise ValueError("the search cursor is malformed; start the search again") from None
    return position, numbers[1], numbers[2]


def _one_task(reader, queue, state, f, group):
    """search with an id: that one task, if it is in ``state`` (and ``group``) and
    matches the rest of the filter. One hash read, whatever the state's size."""
    try:
        task = reader.get_task(queue, f.id)
    except TaskNotFound:
        task = None
    except DamagedData as exc:  # a key of the wrong type where the hash should be
        task = BrokenTask(f.id, queue, state, f"damaged: {exc}")
    if task is not None and (task.state != state or (group is not None and getattr(task, "group", None) != group)):
        task = None
    matches = [task] if task is not None and f.matches(task) else []
    yield SearchProgress(matches=matches, scanned=1, total=1, done=True, cursor=None)


def _search(reader, queue, state, f, chunk, limit, group, resume=None):
    if f.id is not None:
        yield from _one_task(reader, queue, state, f, group)
        return
    mode = "full"
    filter_args = f._lua_args(state)
    # A list may shift under the scan; a repeat of an id is dropped.
    seen: set | None = set() if state in _LIST_STATES else None
    total = None
    scanned = found = 0
    position = None
    if resume is not None:
        position, scanned, total = resume
    for tasks, n_read, total_now, done, at in _scan(reader, queue, state, group, chunk, mode,
                                                    filter_args, position):
        if total is None:
            total = total_now
        scanned += n_read
        matches = []
        for task in tasks:
            if not f.matches(task):
                continue
            if seen is not None:
                if task.id in seen:
                    continue
                seen.add(task.id)
            matches.append(task)
            found += 1
            if limit is not None and found >= limit:
                done = True
                break
        cursor = None if done else _encode_cursor(at, scanned, total)
        yield SearchProgress(matches=matches, scanned=scanned, total=total, done=done, cursor=cursor)
        if done:
            return


# --- failure groups --------------------------------------------------------------------


@dataclass(frozen=True)
class FailureGroup:
    type: str
    reason: str  # normalise_error() of the group's errors
    example_error: str  # one raw error of the group (unmasked: mask before display)
    count: int
    first_seen: _dt.datetime | None  # earliest / latest task time (see TaskFilter)
    last_seen: _dt.datetime | None
    filter: TaskFilter  # selects exactly this group's tasks


def failure_groups(
    client, queue: str, *, state: str = "archived", chunk: int = 500, max_groups: int = 50
) -> list[FailureGroup]:
    """The tasks of ``state`` grouped by (type, normalised error), biggest
    first (ties: latest last_seen first, then type and reason); at most
    ``max_groups``. Broken tasks are left out. Scans in bounded calls like
    ``search`` (payloads are not transferred)."""
    _check_args(state, chunk, None if state != "aggregating" else "")
    if state == "aggregating":
        raise ValueError("failure groups need a state with errors, not 'aggregating'")
    if isinstance(max_groups, bool) or not isinstance(max_groups, int) or max_groups < 1:
        raise ValueError(f"max_groups must be an int >= 1, got {max_groups!r}")
    reader = _Reader(client)
    time_attr = _TIME_ATTR[state]
    reasons: dict[str, str] = {}
    groups: dict[tuple[str, str], list] = {}
    for tasks, _, _, _, _ in _scan(reader, queue, state, None, chunk, "nopayload",
                                   _EMPTY._lua_args(state)):
        for task in tasks:
            if task.__class__ is not TaskInfo:
                continue
            err = task.last_err
            reason = reasons.get(err)
            if reason is None:
                reason = reasons[err] = normalise_error(err)
            when = getattr(task, time_attr)
            entry = groups.get((task.type, reason))
            if entry is None:
                groups[(task.type, reason)] = [1, when, when, err]
                continue
            entry[0] += 1
            if when is not None:
                if entry[1] is None or when < entry[1]:
                    entry[1] = when
                if entry[2] is None or when > entry[2]:
                    entry[2] = when
    _min = _dt.datetime.min.replace(tzinfo=UTC)
    ordered = sorted(
        groups.items(),
        key=lambda kv: (-kv[1][0], -(kv[1][2] or _min).timestamp(), kv[0][0], kv[0][1]),
    )
    return [
        FailureGroup(
            type=type_,
            reason=reason,
            example_error=err,
            count=count,
            first_seen=first,
            last_seen=last,
            filter=TaskFilter(type=type_, reason=reason),
        )
        for (type_, reason), (count, first, last, err) in ordered[:max_groups]
    ]
