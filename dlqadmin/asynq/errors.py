"""Errors raised by the asynq reader.

Callers catch ``AsynqError`` for anything this package raises on purpose;
``ValueError`` is kept for bad arguments (a programming error, not a state of
Redis).
"""

from __future__ import annotations


class AsynqError(Exception):
    """Base class of every error this package raises about Redis or its data."""


class QueueNotFound(AsynqError):
    """The queue is not a member of ``asynq:queues`` (asynq's own test)."""

    def __init__(self, queue: str):
        super().__init__(f"queue not found: {queue!r}")
        self.queue = queue


class TaskNotFound(AsynqError):
    """No task hash with this id exists in the queue."""

    def __init__(self, queue: str, task_id: str):
        super().__init__(f"task not found: id={task_id!r} queue={queue!r}")
        self.queue = queue
        self.task_id = task_id


class RedisUnavailable(AsynqError):
    """Redis could not be reached or did not answer in time."""


class MessageDecodeError(AsynqError, ValueError):
    """Bytes that are not a valid asynq protobuf message."""


class DamagedData(AsynqError):
    """A key of the queue holds the wrong Redis type (or otherwise cannot be read as
    asynq's layout): the queue, or that part of it, is damaged, not Redis."""


class PermissionRefused(AsynqError):
    """Redis refused a command for the credentials in use (ACL ``NOPERM``): e.g. an
    action attempted with a read-only user. Nothing was changed."""

    def __init__(self, detail: str):
        super().__init__(f"Redis refused: read-only credentials ({detail})")
        self.detail = detail
