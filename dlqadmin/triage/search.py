"""Search a queue's tasks and group its dead tasks by failure reason, masking-aware.

The dashboard (``search_views.py``) and the API (``dlqadmin.api.views``) both call
this module; it wraps the Redis-safe library search (``dlqadmin.asynq.search``)
with the one rule that keeps search from leaking masked data.

**The masking rule.** A user without the reveal right on the queue
(``payload_viewer`` or ``admin``) can only find what they can already see:

- an error-text filter (``error=``) matches a task only when the text occurs
  (case-insensitively) in the task's *masked* error message;
- a payload filter (``q=field=value``) matches only when the value at that path of
  the task's *masked* payload (as the task page shows it) equals ``value``: a card
  number, e-mail address, token... that masking replaced never matches, so a
  search cannot confirm that a hidden value exists. Payloads that masking shows as
  text or a hex dump (not JSON, or too big to parse) never match a payload filter;
- the other filters (type, time range, group, retried) are about fields that are
  never masked and apply to the raw task.

With the reveal right, ``error=`` and ``q=`` match the raw values. Either way the
results are shown masked, like every task list; revealing one task still needs a
reason and leaves an audit record.

Failure reasons (``normalise_error`` of the error) and their example errors are
masked for everyone, with the masker of the group's task type. Groups whose masked
reasons coincide are merged, and a ``reason=`` filter always compares with the
task's masked reason, so a group's link selects exactly its tasks and no URL ever
carries an unmasked reason.

Work is bounded: ``search_batch`` stops after a time budget (a page streams the
rest with the returned cursor), ``search_page`` after a larger one (``complete``
says whether it scanned everything), and every Redis call is the library's bounded
chunk.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace

from django.core.cache import cache
from django.db.models import Count, Max

import json

from dlqadmin.access.checks import may
from dlqadmin.access.roles import REVEAL_QUEUE
from dlqadmin.asynq import TASK_STATES, BrokenTask
from dlqadmin.asynq.search import TaskFilter, failure_groups, normalise_error
from dlqadmin.asynq.search import search as library_search
from dlqadmin.audit import record
from dlqadmin.core import names
from dlqadmin.core.asynq_client import client
from dlqadmin.masking.models import MaskingRule
from dlqadmin.masking.selectors import masker_for, masker_lookup

from .params import BadParameter
from .presenters import LIST_LIMIT, Sensitive, TaskView, from_masked, present_task

DEFAULT_STATE = "archived"
BATCH_SECONDS = 0.3  # work per streamed request of the page
BATCH_ROWS = 100  # a streamed request returns once it has this many rows
BATCH_CHUNK = 200  # ids per Redis call for the page
PAGE_SECONDS = 10.0  # the API's search of a whole state
PAGE_CHUNK = 500
FAILURES_SECONDS = 30  # failure groups are cached this long
MAX_FAILURE_GROUPS = 50


# --- parameters -------------------------------------------------------------------------

@dataclass(frozen=True)
class SearchQuery:
    state: str
    filter: TaskFilter

    @property
    def group(self):
        """The group the library scans (state "aggregating" only)."""
        return self.filter.group if self.state == "aggregating" else None

    def to_query(self) -> dict[str, str]:
        return {"state": self.state, **self.filter.to_query()}


FILTER_PARAMS = ("type", "type_prefix", "error", "since", "until", "group", "retried_min", "retried_max", "q",
                 "reason", "id")


FAILURE_STATES = tuple(s for s in TASK_STATES if s != "aggregating")


def form_values(query):
    """The search form's fields as the URL gave them (raw text; "" when absent). Every
    field the form shows is present, so the form never looks up a missing one (each
    missing lookup costs the template engine a handful of exceptions)."""
    values = {name: query.get(name, "") for name in ("state", "id", *FILTER_PARAMS)}
    values["has_reason"] = "reason" in query
    return values


def wants_search(query) -> bool:
    """True if the URL carries a filter parameter (even an empty one), so a task list
    becomes a search; `group` alone is a filter only outside state "aggregating",
    where it names the group to list."""
    names = [n for n in FILTER_PARAMS if n in query]
    if names == ["group"] and query.get("state") == "aggregating":
        return False
    return bool(names)


def task_filter(query) -> TaskFilter:
    """TaskFilter.from_query (ValueError if invalid), with task ids as pages and clients
    carry them: an id is any bytes, an odd one travels as ~b64:<bytes> (core/names.py),
    in `id` or as a `q` without "=" (a search box given an id). The one way every search,
    page and bulk filter reads its parameters, so they select the same tasks."""
    task_id, q = query.get("id"), query.get("q")
    if not task_id and not (q and names.is_form_encoded(q.strip())):
        return TaskFilter.from_query(query)
    query = query.copy()
    if q and names.is_form_encoded(q.strip()):
        if task_id and task_id != q.strip():
            raise ValueError("q names another task id than id")
        task_id = q.strip()
        del query["q"]
    query["id"] = names.from_form_value(task_id)
    return TaskFilter.from_query(query)


def parse_query(query, *, default_state=DEFAULT_STATE) -> SearchQuery:
    """state + TaskFilter from URL parameters; BadParameter with a message for the user."""
    state = query.get("state") or default_state
    if state not in TASK_STATES:
        raise BadParameter(f"state must be one of {', '.join(TASK_STATES)}; got {state!r}")
    try:
        f = task_filter(query)
    except ValueError as exc:
        raise BadParameter(str(exc)) from None
    if state == "aggregating" and not f.group:
        raise BadParameter("state=aggregating needs a group")
    return SearchQuery(state=state, filter=f)


# --- the masking rule ---------------------------------------------------------------------

SEARCH = "task.search"  # audit action of a search request (UI page, streamed batch, API)


class Matcher:
    """Decides, for one user and one filter, which tasks the user may find.

    Build it with ``matcher_for`` (never with a ``reveal`` flag of your own): that is
    the one place that turns a user's rights into what they may match."""

    def __init__(self, queue: str, f: TaskFilter, *, reveal: bool):
        self.lookup = masker_lookup(queue)
        self.filter = f
        self.reveal = reveal
        hidden = {"reason": None}
        if not reveal:
            hidden.update(error=None, payload_field=None, payload_value=None)
        # What the library may test on raw data (never the masked fields for a viewer).
        self.raw_filter = replace(f, **hidden)
        self.masked_filter = None
        if not reveal and (f.error is not None or f.payload_field is not None):
            self.masked_filter = TaskFilter(error=f.error, payload_field=f.payload_field,
                                            payload_value=f.payload_value)
        self._reasons: dict = {}

    def masked_reason(self, task_type: str, last_err: str) -> str:
        key = (task_type, last_err)
        reason = self._reasons.get(key)
        if reason is None:
            if len(self._reasons) > 10000:
                self._reasons.clear()
            reason = self._reasons[key] = mask_reason(self.lookup(task_type), normalise_error(last_err))
        return reason

    def matches(self, task) -> bool:
        """`task` already passed raw_filter (the library's search)."""
        if isinstance(task, BrokenTask):
            return self.filter.admits_broken
        if self.filter.reason is not None and self.masked_reason(task.type, task.last_err) != self.filter.reason:
            return False
        if self.masked_filter is not None:
            masker = self.lookup(task.type)
            payload = None
            if self.filter.payload_field is not None:
                value = masker.mask_payload(task.payload, limit=None)
                if value is not None and value.kind == "json":
                    payload = value.text.encode("utf-8", "surrogatepass")
            last_err = ""
            if self.filter.error is not None and task.last_err:
                last_err = masker.mask_text(task.last_err, limit=None).text
            return self.masked_filter.matches(replace(task, payload=payload, last_err=last_err))
        return True

    def present(self, task) -> TaskView:
        return present_task(task, self.lookup(getattr(task, "type", "")), limit=LIST_LIMIT)


def mask_reason(masker, reason: str) -> str:
    return masker.mask_text(reason, limit=None).text if reason else ""


def matcher_for(user, queue, f: TaskFilter) -> Matcher:
    """What ``user`` may find with ``f`` in ``queue`` (the registry Queue).

    The one function behind everything a user can observe of a filter: the search
    page and its running count, the API's ``total``, the bulk confirmation count, the
    total of a bulk operation and the ids its worker collects. Without the reveal
    right on the queue, text filters match the masked values only."""
    return Matcher(queue.name, f, reveal=may(user, REVEAL_QUEUE, queue))


def _visible(matcher: Matcher, queue_name: str, state: str, group, chunk: int = PAGE_CHUNK, on_chunk=None):
    """Every task of ``state`` the matcher lets through, scanned in bounded calls."""
    gen = library_search(client(), queue_name, state, matcher.raw_filter, chunk=chunk, group=group)
    try:
        for progress in gen:
            for task in progress.matches:
                if matcher.matches(task):
                    yield task
            if on_chunk is not None:
                on_chunk()
    finally:
        gen.close()


def count_visible(user, queue, state: str, f: TaskFilter, group=None) -> int:
    """How many tasks of ``state`` match ``f`` for ``user`` (a full, chunked scan)."""
    return sum(1 for _ in _visible(matcher_for(user, queue, f), queue.name, state, group))


def visible_ids(user, queue, state: str, f: TaskFilter, group=None, *, on_chunk=None) -> list[str]:
    """The ids of the tasks of ``state`` that match ``f`` for ``user``, in asynq's order."""
    ids = (t.id for t in _visible(matcher_for(user, queue, f), queue.name, state, group, on_chunk=on_chunk))
    return list(dict.fromkeys(ids))


def _masked_value(masker, path: tuple, value: str) -> str:
    doc = value
    for part in reversed(path):
        doc = {part: doc}
    masked = masker.mask_payload(json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass"), limit=None)
    try:
        out = json.loads(masked.text)
        for part in path:
            out = out[part]
    except (ValueError, KeyError, TypeError, AttributeError):
        return masker.mask_text(value, limit=None).text
    text = out if isinstance(out, str) else json.dumps(out, ensure_ascii=False)
    return masker.mask_text(text, limit=None).text


def masked_query(queue_name: str, f: TaskFilter) -> dict[str, str]:
    """``f`` as URL parameters with what masking hides masked (error, reason, the value
    of ``q``): what an audit row may keep of a filter."""
    query = f.to_query()
    masker = masker_for(queue_name, f.type if f.type and not f.type_prefix else "")
    if f.error is not None:
        query["error"] = masker.mask_text(f.error, limit=None).text
    if f.reason:
        query["reason"] = masker.mask_text(f.reason, limit=None).text
    if f.payload_field is not None:
        query["q"] = f"{f.payload_field}={_masked_value(masker, f._path, f.payload_value)}"
    return query


def _audit_search(request, queue, sq: SearchQuery, *, api: bool, found: int, scanned: int, resumed: bool = False):
    record(SEARCH, request=request, queue=queue.name,
           detail={"state": sq.state, "filter": masked_query(queue.name, sq.filter), "via": "api" if api else "ui",
                   "resumed": resumed, "found": found, "scanned": scanned})


# --- search -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Batch:
    """One bounded piece of a search: the masked rows found and where the scan is."""

    tasks: list[TaskView]
    scanned: int
    total: int
    done: bool
    cursor: str | None  # pass back as `cursor` to continue; None when done


def search_batch(request, queue, sq: SearchQuery, *, cursor: str | None = None,
                 seconds: float = BATCH_SECONDS, max_rows: int = BATCH_ROWS, chunk: int = BATCH_CHUNK) -> Batch:
    """The next matches after `cursor` (from the start without one) that
    ``request.user`` may find in ``queue`` (the registry Queue), for a page that
    streams results; audited. Raises BadParameter for a malformed cursor."""
    matcher = matcher_for(request.user, queue, sq.filter)
    try:
        gen = library_search(client(), queue.name, sq.state, matcher.raw_filter, chunk=chunk, group=sq.group,
                             resume=cursor)
    except ValueError as exc:
        raise BadParameter(str(exc)) from None
    deadline = time.monotonic() + seconds
    rows: list[TaskView] = []
    last = None
    try:
        for progress in gen:
            last = progress
            rows += [matcher.present(t) for t in progress.matches if matcher.matches(t)]
            if progress.done or len(rows) >= max_rows or time.monotonic() >= deadline:
                break
    finally:
        gen.close()
    _audit_search(request, queue, sq, api=False, found=len(rows), scanned=last.scanned, resumed=cursor is not None)
    return Batch(tasks=rows, scanned=last.scanned, total=last.total, done=last.done, cursor=last.cursor)


@dataclass(frozen=True)
class SearchPage:
    tasks: list[TaskView]  # the requested page of the matches, masked
    total: int  # matches found
    scanned: int
    complete: bool  # False if the time budget ran out before the end of the state


def search_page(request, queue, sq: SearchQuery, *, page: int, page_size: int,
                seconds: float = PAGE_SECONDS, chunk: int = PAGE_CHUNK) -> SearchPage:
    """Scan the whole state (in bounded Redis calls) and return one page of the
    matches ``request.user`` may find in ``queue`` (the registry Queue); audited."""
    matcher = matcher_for(request.user, queue, sq.filter)
    first = (page - 1) * page_size
    window = []
    found = 0
    deadline = time.monotonic() + seconds
    last = None
    gen = library_search(client(), queue.name, sq.state, matcher.raw_filter, chunk=chunk, group=sq.group)
    try:
        for progress in gen:
            last = progress
            for task in progress.matches:
                if matcher.matches(task):
                    if first <= found < first + page_size:
                        window.append(task)
                    found += 1
            if not progress.done and time.monotonic() >= deadline:
                break
    finally:
        gen.close()
    _audit_search(request, queue, sq, api=True, found=found, scanned=last.scanned)
    return SearchPage(tasks=[matcher.present(t) for t in window], total=found, scanned=last.scanned,
                      complete=last.done)


# --- failure reasons ----------------------------------------------------------------------

@dataclass(frozen=True)
class FailureRow:
    type: str
    reason: str  # masked
    example: Sensitive | None  # one error of the group, masked
    count: int
    first_seen: object
    last_seen: object
    filter: TaskFilter  # type + masked reason: selects exactly this row's tasks

    def query(self, state=DEFAULT_STATE) -> dict[str, str]:
        return {"state": state, **self.filter.to_query()}


def _rules_fingerprint() -> str:
    agg = MaskingRule.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    return f"{agg['n']}:{agg['at'].isoformat() if agg['at'] else ''}"


def failure_rows(queue: str, state: str = DEFAULT_STATE, *, max_groups: int = MAX_FAILURE_GROUPS) -> list[FailureRow]:
    """The tasks of `state` grouped by type and masked normalised error, biggest first.

    Masked for everyone, so one cached result (briefly: it scans the whole state)
    serves every user of the queue; the cache key changes with the masking rules."""
    digest = hashlib.sha256(f"{queue}\0{state}\0{_rules_fingerprint()}".encode("utf-8", "surrogatepass"))
    key = f"dlqadmin:failures:{digest.hexdigest()}"
    rows = cache.get(key)
    if rows is None:
        rows = _failure_rows(queue, state, max_groups)
        cache.set(key, rows, FAILURES_SECONDS)
    return rows


def _failure_rows(queue, state, max_groups):
    lookup = masker_lookup(queue)
    merged: dict[tuple[str, str], dict] = {}
    for g in failure_groups(client(), queue, state=state, max_groups=100000):
        masker = lookup(g.type)
        reason = mask_reason(masker, g.reason)
        row = merged.get((g.type, reason))
        if row is None:
            merged[(g.type, reason)] = {
                "count": g.count, "first": g.first_seen, "last": g.last_seen,
                "example": from_masked(masker.mask_text(g.example_error or None, limit=LIST_LIMIT)),
            }
            continue
        row["count"] += g.count
        if g.first_seen is not None and (row["first"] is None or g.first_seen < row["first"]):
            row["first"] = g.first_seen
        if g.last_seen is not None and (row["last"] is None or g.last_seen > row["last"]):
            row["last"] = g.last_seen
    rows = [
        FailureRow(type=type_, reason=reason, example=v["example"], count=v["count"], first_seen=v["first"],
                   last_seen=v["last"], filter=TaskFilter(type=type_, reason=reason))
        for (type_, reason), v in merged.items()
    ]
    rows.sort(key=lambda r: (-r.count, -(r.last_seen.timestamp() if r.last_seen else 0), r.type, r.reason))
    return rows[:max_groups]
