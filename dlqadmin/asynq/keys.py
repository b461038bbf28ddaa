"""Every Redis key name of asynq's layout, built in one place.

Keys are returned as ``bytes``: queue names and task ids are arbitrary strings
in asynq (":" "/" spaces, braces, any unicode), and building the raw bytes
ourselves means a name always round-trips exactly, whatever it contains.
Names are encoded as UTF-8 with ``surrogateescape`` so that a name we decoded
from Redis with the same error handler (see ``decode_name``) maps back to the
very same bytes even if it was not valid UTF-8.

Queue names sit inside the braces of ``asynq:{<queue>}:`` (a Redis Cluster hash
tag), so all keys of one queue live in one slot. We never parse a queue name
back out of a key: names come from the set ``asynq:queues``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib

ALL_QUEUES = b"asynq:queues"  # set of queue names
ALL_SERVERS = b"asynq:servers"  # zset: server key -> heartbeat expiry (Unix s)
ALL_WORKERS = b"asynq:workers"  # zset: workers key -> heartbeat expiry (Unix s)
ALL_SCHEDULERS = b"asynq:schedulers"  # zset: scheduler key -> heartbeat expiry

# Task states whose ids live in a key named after the state.
_STATE_SUFFIX = {
    "pending": b"pending",  # list, newest at the head
    "active": b"active",  # list
    "scheduled": b"scheduled",  # zset, score = process time
    "retry": b"retry",  # zset, score = next retry time
    "archived": b"archived",  # zset, score = time archived
    "completed": b"completed",  # zset, score = completed_at + retention
}


def encode_name(name: str) -> bytes:
    """Queue / group / task id as the raw bytes Redis stores."""
    return name.encode("utf-8", "surrogateescape")


def decode_name(raw: bytes) -> str:
    """Inverse of ``encode_name``; never fails, even on invalid UTF-8."""
    return raw.decode("utf-8", "surrogateescape")


def queue_prefix(queue: str) -> bytes:
    return b"asynq:{" + encode_name(queue) + b"}:"


def task_prefix(queue: str) -> bytes:
    return queue_prefix(queue) + b"t:"


def task(queue: str, task_id: str) -> bytes:
    """Hash with fields msg, state, and optionally pending_since, result,
    unique_key, group."""
    return task_prefix(queue) + encode_name(task_id)


def state_key(queue: str, state: str) -> bytes:
    """The list/zset holding the ids of one state (not for 'aggregating')."""
    return queue_prefix(queue) + _STATE_SUFFIX[state]


def pending(queue: str) -> bytes:
    return state_key(queue, "pending")


def active(queue: str) -> bytes:
    return state_key(queue, "active")


def scheduled(queue: str) -> bytes:
    return state_key(queue, "scheduled")


def retry(queue: str) -> bytes:
    return state_key(queue, "retry")


def archived(queue: str) -> bytes:
    return state_key(queue, "archived")


def completed(queue: str) -> bytes:
    return state_key(queue, "completed")


def lease(queue: str) -> bytes:
    """Zset of active task ids, score = lease expiry (Unix seconds)."""
    return queue_prefix(queue) + b"lease"


def paused(queue: str) -> bytes:
    """String present while the queue is paused (value: Unix seconds)."""
    return queue_prefix(queue) + b"paused"


def groups(queue: str) -> bytes:
    """Set of the queue's group names."""
    return queue_prefix(queue) + b"groups"


def group_prefix(queue: str) -> bytes:
    return queue_prefix(queue) + b"g:"


def group(queue: str, group_name: str) -> bytes:
    """Zset of aggregating task ids, score = time the task joined."""
    return group_prefix(queue) + encode_name(group_name)


def processed_total(queue: str) -> bytes:
    return queue_prefix(queue) + b"processed"


def failed_total(queue: str) -> bytes:
    return queue_prefix(queue) + b"failed"


def processed(queue: str, day: _dt.date) -> bytes:
    """Per-day counter; ``day`` is a UTC date."""
    return queue_prefix(queue) + b"processed:" + day.isoformat().encode()


def failed(queue: str, day: _dt.date) -> bytes:
    return queue_prefix(queue) + b"failed:" + day.isoformat().encode()


def scheduler_history(entry_id: str) -> bytes:
    """Zset of SchedulerEnqueueEvent protobufs, score = enqueue time."""
    return b"asynq:scheduler_history:" + encode_name(entry_id)


def server_info(host: str, pid: int, server_id: str) -> bytes:
    """String holding a ServerInfo protobuf (member of ALL_SERVERS)."""
    return b"asynq:servers:{" + encode_name(f"{host}:{pid}:{server_id}") + b"}"


def workers(host: str, pid: int, server_id: str) -> bytes:
    """Hash task id -> WorkerInfo protobuf (member of ALL_WORKERS)."""
    return b"asynq:workers:{" + encode_name(f"{host}:{pid}:{server_id}") + b"}"


def scheduler_entries(scheduler_id: str) -> bytes:
    """List of SchedulerEntry protobufs (member of ALL_SCHEDULERS);
    asynq's scheduler id is "<host>:<pid>:<uuid>"."""
    return b"asynq:schedulers:{" + encode_name(scheduler_id) + b"}"


def unique_lock(queue: str, task_type: str, payload: bytes | None) -> bytes:
    """String holding the id of the task that owns a uniqueness lock:
    ``...:unique:<type>:<md5 hex of payload>`` (nothing after the last ':'
    for a nil payload)."""
    digest = hashlib.md5(payload).hexdigest().encode() if payload else b""
    return queue_prefix(queue) + b"unique:" + encode_name(task_type) + b":" + digest


# --- Used by operations (writes) ------------------------------------------------

# Pub/sub channel every running asynq server subscribes to; a message is the id
# of an active task whose handler's context should be cancelled.
CANCEL_CHANNEL = b"asynq:cancel"


def source_key(queue: str, state: str, group_name: str | None = None) -> bytes:
    """The list/zset holding the ids of ``state``; for "aggregating" the
    group's zset (``group_name`` required)."""
    if state == "aggregating":
        if not group_name:
            raise ValueError("state 'aggregating' needs a group")
        return group(queue, group_name)
    return state_key(queue, state)


# --- Used by the vault ------------------------------------------------------------


def task_of_member(queue: str, member: bytes) -> bytes:
    """The task hash of an id exactly as a state key stores it (raw bytes, so an
    id that is not valid UTF-8 still names its own hash)."""
    return task_prefix(queue) + bytes(member)


def task_scan_pattern(queue: str) -> bytes:
    """SCAN MATCH pattern for every task hash of ``queue``: glob characters in
    the queue name are escaped so they match only themselves."""
    escaped = b"".join(b"\\" + bytes([c]) if c in b"*?[]\\" else bytes([c]) for c in encode_name(queue))
    return b"asynq:{" + escaped + b"}:t:*"
