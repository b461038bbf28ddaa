"""Turn the asynq reader's TaskInfo into what templates and the API may show.

Payloads, headers, results and error messages carry customer data. They leave this
module masked (dlqadmin.masking) unless the caller holds a live reveal for that one
task. This is the single place that decision is made, so templates and API
serialisers only ever receive values that are safe to show.
"""

import base64
import json
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime

from dlqadmin.asynq import BrokenTask, TaskInfo
from dlqadmin.masking.engine import MaskedValue

from .chunks import masked_page

# How much of each value a page shows before "load more".
DETAIL_LIMIT = 64 * 1024
LIST_LIMIT = 400
_HEX_ROW = 16


@dataclass(frozen=True)
class Sensitive:
    """A payload / error / headers / result value, ready to show."""

    kind: str  # "json" | "text" | "binary"
    text: str  # masked (or, for a reveal, raw) display text; templates escape it
    size: int  # bytes of the raw value
    masked: bool
    truncated: bool = False
    next_offset: int | None = None
    labels: tuple[str, ...] = ()  # what masking hid, e.g. ("card", "email")
    raw: bytes | None = None  # only for a reveal

    @cached_property  # a row may show it more than once (text and title)
    def preview(self):
        """One line for list pages: pretty-printed JSON folded back onto a line."""
        if self.kind == "json":
            line = " ".join(part.strip() for part in self.text.splitlines())
        else:
            stripped = self.text.strip()
            line = stripped.splitlines()[0] if stripped else ""
        return line if len(line) <= 160 else line[:157] + "…"

    @property
    def shown(self):
        """The text as a page shows it: a revealed value that is whole, valid JSON
        pretty-printed (masked JSON already is); else the text as it is."""
        if self.masked or self.kind != "text" or self.truncated or not self.text.lstrip()[:1] in ("{", "["):
            return self.text
        try:
            return json.dumps(json.loads(self.text), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            return self.text

    @property
    def is_json(self):
        return self.kind == "json" or self.shown is not self.text

    def as_json(self):
        data = {
            "masked": self.masked,
            "kind": self.kind,
            "size": self.size,
            "value": self.text,
            "truncated": self.truncated,
            "next_offset": self.next_offset,
        }
        if self.masked:
            data["masked_labels"] = list(self.labels)
        else:
            data["base64"] = base64.b64encode(self.raw or b"").decode()
        return data


def from_masked(value: MaskedValue | None):
    if value is None:
        return None
    labels = tuple(sorted({f.label for f in value.findings}))
    return Sensitive(kind=value.kind, text=value.text, size=value.size, masked=True,
                     truncated=value.truncated, next_offset=value.next_offset, labels=labels)


def present_payload(masker, payload: bytes | None, *, limit=LIST_LIMIT):
    """A payload outside a task (a worker's, a scheduler entry's), masked."""
    return from_masked(masker.mask_payload(payload or None, limit=limit))


def _hexdump(raw, offset, limit):
    rows, end = [], min(len(raw), offset + limit)
    for at in range(offset, end, _HEX_ROW):
        chunk = raw[at:min(at + _HEX_ROW, end)]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(f"{at:08x}  {chunk.hex(' '):<47}  {text}")
    return "\n".join(rows), (end if end < len(raw) else None)


def raw_value(raw: bytes | None, *, limit=DETAIL_LIMIT, offset=0):
    """The unmasked value of a reveal: text when it is clean UTF-8, else a hex dump."""
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
        binary = "\x00" in text
    except UnicodeDecodeError:
        binary = True
    if limit is None:
        limit = len(raw) * 4 + 1
    if binary:
        # About four characters of dump per byte: the page stays near `limit` characters.
        body, nxt = _hexdump(raw, offset, max(_HEX_ROW, limit // 4))
        return Sensitive(kind="binary", text=body, size=len(raw), masked=False,
                         truncated=nxt is not None, next_offset=nxt, raw=raw)
    end = offset + limit
    return Sensitive(kind="text", text=text[offset:end], size=len(raw), masked=False,
                     truncated=end < len(text), next_offset=end if end < len(text) else None, raw=raw)


def headers_bytes(headers):
    if headers is None:
        return None
    return "\n".join(f"{k}: {v}" for k, v in sorted(headers.items())).encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class TaskView:
    id: str
    queue: str
    type: str
    state: str
    max_retry: int
    retried: int
    last_err: Sensitive | None
    last_failed_at: datetime | None
    next_process_at: datetime | None
    timeout_seconds: int
    deadline: datetime | None
    group: str
    is_orphaned: bool
    retention_seconds: int
    completed_at: datetime | None
    headers: Sensitive | None
    payload: Sensitive | None
    result: Sensitive | None
    broken: bool = False
    problem: str = ""
    revealed: bool = False

    @property
    def skipped_retry(self):
        """The handler returned asynq.SkipRetry ("skip retry" in the error): retrying
        runs the same code, which will likely refuse again."""
        return bool(self.last_err) and "skip retry" in self.last_err.text.lower()


def _broken(task):
    return TaskView(
        id=task.id, queue=task.queue, type="", state=task.state, max_retry=0, retried=0,
        last_err=None, last_failed_at=None, next_process_at=None, timeout_seconds=0,
        deadline=None, group="", is_orphaned=False, retention_seconds=0, completed_at=None,
        headers=None, payload=None, result=None, broken=True, problem=task.problem,
    )


def _direct(masker, raw, *, limit, method):
    return getattr(masker, method)(raw, limit=limit)


def present_task(task, masker=None, *, reveal=False, limit=DETAIL_LIMIT):
    """TaskInfo | BrokenTask -> TaskView: masked with `masker`, or raw when `reveal`."""
    if isinstance(task, BrokenTask):
        return _broken(task)
    assert isinstance(task, TaskInfo)
    if reveal:
        payload = raw_value(task.payload, limit=limit)
        last_err = raw_value(task.last_err.encode("utf-8", "surrogateescape"), limit=limit) if task.last_err else None
        headers = raw_value(headers_bytes(task.headers), limit=limit)
        result = raw_value(task.result, limit=limit)
    else:
        # A task's page fills the cache its "Load more" chunks are sliced from (lists
        # show short previews and do not).
        mask = masked_page if limit == DETAIL_LIMIT else _direct
        payload = from_masked(mask(masker, task.payload, limit=limit, method="mask_payload"))
        last_err = from_masked(masker.mask_text(task.last_err or None, limit=limit))
        headers = from_masked(masker.mask_headers(task.headers, limit=limit))
        result = from_masked(mask(masker, task.result, limit=limit, method="mask_result"))
    return TaskView(
        id=task.id,
        queue=task.queue,
        type=task.type,
        state=task.state,
        max_retry=task.max_retry,
        retried=task.retried,
        last_err=last_err,
        last_failed_at=task.last_failed_at,
        next_process_at=task.next_process_at,
        timeout_seconds=task.timeout_seconds,
        deadline=task.deadline,
        group=task.group,
        is_orphaned=task.is_orphaned,
        retention_seconds=task.retention_seconds,
        completed_at=task.completed_at,
        headers=headers,
        payload=payload,
        result=result,
        revealed=reveal,
    )


def field_page(task, field, masker, *, reveal, offset):
    """One more page ("load more") of one sensitive field of a task."""
    if field == "payload":
        return raw_value(task.payload, offset=offset) if reveal else from_masked(
            masked_page(masker, task.payload, offset=offset, method="mask_payload"))
    if field == "result":
        return raw_value(task.result, offset=offset) if reveal else from_masked(
            masked_page(masker, task.result, offset=offset, method="mask_result"))
    if field == "last_err":
        raw = task.last_err.encode("utf-8", "surrogateescape") if task.last_err else None
        return raw_value(raw, offset=offset) if reveal else from_masked(
            masker.mask_text(task.last_err or None, offset=offset))
    if field == "headers":
        return raw_value(headers_bytes(task.headers), offset=offset) if reveal else from_masked(
            masker.mask_headers(task.headers, offset=offset))
    raise ValueError(f"unknown field {field!r}")
