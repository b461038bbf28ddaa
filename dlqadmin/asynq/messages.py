"""Codec for asynq's protobuf values: raw bytes <-> plain dataclasses.

The wire format is described by our own ``proto/asynq.proto``; parsing and
serialising go through the protobuf runtime (upb), never a hand-written
decoder. The dataclasses mirror the wire messages field for field, with two
conveniences: Unix-second integers stay integers (0 = unset, as on the wire),
and protobuf Timestamps become tz-aware UTC datetimes (``None`` for an unset
Timestamp or Go's zero time, which asynq writes for "never").

Decoding raises ``MessageDecodeError`` for bytes that are not a valid message;
callers decide whether that is fatal (the Inspector reports it per task).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError as _PbDecodeError

from .errors import MessageDecodeError
from .proto import asynq_pb2 as _pb

UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
# Go's time.Time{} (January 1, year 1, UTC) as Unix seconds: asynq's
# "zero time", e.g. the prev run of a scheduler entry that never ran.
GO_ZERO_TIME_SECONDS = -62135596800


@dataclass(slots=True)
class TaskMessage:
    """``TaskMessage``: the ``msg`` field of a task hash."""

    type: str = ""
    payload: bytes = b""  # b"" stands for Go's nil (proto3 cannot tell them apart)
    id: str = ""
    queue: str = ""
    retry: int = 0  # MaxRetry
    retried: int = 0
    error_msg: str = ""
    timeout: int = 0  # seconds, 0 = none
    deadline: int = 0  # Unix seconds, 0 = none
    unique_key: str = ""
    last_failed_at: int = 0  # Unix seconds, 0 = never
    retention: int = 0  # seconds
    completed_at: int = 0  # Unix seconds, 0 = not completed
    group_key: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ServerInfoMessage:
    host: str = ""
    pid: int = 0
    server_id: str = ""
    concurrency: int = 0
    queues: dict[str, int] = field(default_factory=dict)  # name -> priority
    strict_priority: bool = False
    status: str = ""
    started: _dt.datetime | None = None
    active_worker_count: int = 0


@dataclass(slots=True)
class WorkerInfoMessage:
    host: str = ""
    pid: int = 0
    server_id: str = ""
    task_id: str = ""
    task_type: str = ""
    task_payload: bytes = b""
    queue: str = ""
    started: _dt.datetime | None = None
    deadline: _dt.datetime | None = None


@dataclass(slots=True)
class SchedulerEntryMessage:
    id: str = ""
    spec: str = ""
    task_type: str = ""
    task_payload: bytes = b""
    opts: list[str] = field(default_factory=list)  # e.g. 'Queue("reports")'
    next: _dt.datetime | None = None
    prev: _dt.datetime | None = None  # None = never enqueued


@dataclass(slots=True)
class SchedulerEnqueueEventMessage:
    task_id: str = ""
    enqueued_at: _dt.datetime | None = None


# --- Timestamps --------------------------------------------------------------


def _from_timestamp(msg, name: str) -> _dt.datetime | None:
    if not msg.HasField(name):
        return None
    ts = getattr(msg, name)
    if ts.seconds == GO_ZERO_TIME_SECONDS and ts.nanos == 0:
        return None
    # timedelta arithmetic instead of fromtimestamp(): no platform limits on
    # negative or far-future values; sub-microsecond nanos are truncated.
    return _EPOCH + _dt.timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)


def _to_timestamp(target, value: _dt.datetime | None) -> None:
    if value is None:
        # What Go writes for a zero time.Time.
        target.seconds = GO_ZERO_TIME_SECONDS
        target.nanos = 0
        return
    delta = value - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    target.seconds = seconds
    target.nanos = delta.microseconds * 1000


def _parse(cls, raw: bytes):
    try:
        return cls.FromString(raw)
    except _PbDecodeError as exc:
        raise MessageDecodeError(f"not a valid {cls.__name__}: {exc}") from None


# --- TaskMessage -------------------------------------------------------------

_TaskMessagePb = _pb.TaskMessage


def parse_task_message(raw: bytes) -> _pb.TaskMessage:
    """The parsed protobuf itself (treat it as read-only).

    For hot loops that copy fields straight into their own result type
    (the Inspector's task pages): it skips building a TaskMessage first.
    Fields read as in TaskMessage; ``headers`` is a protobuf map.
    """
    try:
        return _TaskMessagePb.FromString(raw)
    except _PbDecodeError as exc:
        raise MessageDecodeError(f"not a valid TaskMessage: {exc}") from None


def decode_task_message(raw: bytes) -> TaskMessage:
    m = parse_task_message(raw)
    headers = m.headers
    return TaskMessage(
        m.type,
        m.payload,
        m.id,
        m.queue,
        m.retry,
        m.retried,
        m.error_msg,
        m.timeout,
        m.deadline,
        m.unique_key,
        m.last_failed_at,
        m.retention,
        m.completed_at,
        m.group_key,
        dict(headers) if headers else {},
    )


def encode_task_message(msg: TaskMessage) -> bytes:
    pb = _TaskMessagePb(
        type=msg.type,
        payload=msg.payload or b"",
        id=msg.id,
        queue=msg.queue,
        retry=msg.retry,
        retried=msg.retried,
        error_msg=msg.error_msg,
        timeout=msg.timeout,
        deadline=msg.deadline,
        unique_key=msg.unique_key,
        last_failed_at=msg.last_failed_at,
        retention=msg.retention,
        completed_at=msg.completed_at,
        group_key=msg.group_key,
        headers=msg.headers or {},
    )
    return pb.SerializeToString(deterministic=True)


# --- ServerInfo / WorkerInfo ---------------------------------------------------


def decode_server_info(raw: bytes) -> ServerInfoMessage:
    m = _parse(_pb.ServerInfo, raw)
    try:
        started = _from_timestamp(m, "start_time")
    except (OverflowError, ValueError) as exc:
        raise MessageDecodeError(f"bad ServerInfo.start_time: {exc}") from None
    return ServerInfoMessage(
        host=m.host,
        pid=m.pid,
        server_id=m.server_id,
        concurrency=m.concurrency,
        queues=dict(m.queues),
        strict_priority=m.strict_priority,
        status=m.status,
        started=started,
        active_worker_count=m.active_worker_count,
    )


def encode_server_info(msg: ServerInfoMessage) -> bytes:
    pb = _pb.ServerInfo(
        host=msg.host,
        pid=msg.pid,
        server_id=msg.server_id,
        concurrency=msg.concurrency,
        queues=msg.queues,
        strict_priority=msg.strict_priority,
        status=msg.status,
        active_worker_count=msg.active_worker_count,
    )
    _to_timestamp(pb.start_time, msg.started)
    return pb.SerializeToString(deterministic=True)


def decode_worker_info(raw: bytes) -> WorkerInfoMessage:
    m = _parse(_pb.WorkerInfo, raw)
    try:
        started = _from_timestamp(m, "start_time")
        deadline = _from_timestamp(m, "deadline")
    except (OverflowError, ValueError) as exc:
        raise MessageDecodeError(f"bad WorkerInfo time: {exc}") from None
    return WorkerInfoMessage(
        host=m.host,
        pid=m.pid,
        server_id=m.server_id,
        task_id=m.task_id,
        task_type=m.task_type,
        task_payload=m.task_payload,
        queue=m.queue,
        started=started,
        deadline=deadline,
    )


def encode_worker_info(msg: WorkerInfoMessage) -> bytes:
    pb = _pb.WorkerInfo(
        host=msg.host,
        pid=msg.pid,
        server_id=msg.server_id,
        task_id=msg.task_id,
        task_type=msg.task_type,
        task_payload=msg.task_payload or b"",
        queue=msg.queue,
    )
    _to_timestamp(pb.start_time, msg.started)
    _to_timestamp(pb.deadline, msg.deadline)
    return pb.SerializeToString(deterministic=True)


# --- Scheduler -----------------------------------------------------------------


def decode_scheduler_entry(raw: bytes) -> SchedulerEntryMessage:
    m = _parse(_pb.SchedulerEntry, raw)
    try:
        next_ = _from_timestamp(m, "next_enqueue_time")
        prev = _from_timestamp(m, "prev_enqueue_time")
    except (OverflowError, ValueError) as exc:
        raise MessageDecodeError(f"bad SchedulerEntry time: {exc}") from None
    return SchedulerEntryMessage(
        id=m.id,
        spec=m.spec,
        task_type=m.task_type,
        task_payload=m.task_payload,
        opts=list(m.enqueue_options),
        next=next_,
        prev=prev,
    )


def encode_scheduler_entry(msg: SchedulerEntryMessage) -> bytes:
    pb = _pb.SchedulerEntry(
        id=msg.id,
        spec=msg.spec,
        task_type=msg.task_type,
        task_payload=msg.task_payload or b"",
        enqueue_options=msg.opts,
    )
    _to_timestamp(pb.next_enqueue_time, msg.next)
    _to_timestamp(pb.prev_enqueue_time, msg.prev)
    return pb.SerializeToString(deterministic=True)


def decode_enqueue_event(raw: bytes) -> SchedulerEnqueueEventMessage:
    m = _parse(_pb.SchedulerEnqueueEvent, raw)
    try:
        enqueued_at = _from_timestamp(m, "enqueue_time")
    except (OverflowError, ValueError) as exc:
        raise MessageDecodeError(f"bad SchedulerEnqueueEvent time: {exc}") from None
    return SchedulerEnqueueEventMessage(task_id=m.task_id, enqueued_at=enqueued_at)


def encode_enqueue_event(msg: SchedulerEnqueueEventMessage) -> bytes:
    pb = _pb.SchedulerEnqueueEvent(task_id=msg.task_id)
    _to_timestamp(pb.enqueue_time, msg.enqueued_at)
    return pb.SerializeToString(deterministic=True)


_ENCODERS = {
    TaskMessage: encode_task_message,
    ServerInfoMessage: encode_server_info,
    WorkerInfoMessage: encode_worker_info,
    SchedulerEntryMessage: encode_scheduler_entry,
    SchedulerEnqueueEventMessage: encode_enqueue_event,
}


def encode(msg) -> bytes:
    """Serialise any of the message dataclasses above to asynq's bytes."""
    try:
        encoder = _ENCODERS[type(msg)]
    except KeyError:
        raise TypeError(f"cannot encode {type(msg).__name__}") from None
    return encoder(msg)
