"""Read asynq's Redis state from Python (no Django here).

    from dlqadmin.asynq import connect, Inspector
    inspector = Inspector(connect("redis://localhost:6379/0"))
    page = inspector.list_tasks("default", "archived", page=1, page_size=50)

``keys`` builds every Redis key name, ``messages`` is the protobuf codec,
``connection`` turns a URL into a client, ``inspector`` holds the reads,
``search`` scans a state's tasks in bounded chunks and groups failures.
"""

from .connection import connect
from .errors import (
    AsynqError,
    DamagedData,
    MessageDecodeError,
    PermissionRefused,
    QueueNotFound,
    RedisUnavailable,
    TaskNotFound,
)
from .inspector import (
    TASK_STATES,
    BrokenTask,
    DailyStats,
    GroupInfo,
    Inspector,
    QueueInfo,
    SchedulerEnqueueEvent,
    SchedulerEntry,
    ServerInfo,
    TaskInfo,
    TaskPage,
    WorkerInfo,
)
from .search import (
    FailureGroup,
    SearchProgress,
    TaskFilter,
    failure_groups,
    normalise_error,
    search,
)
from .operations import ChunkResult, Operations, OpOutcome, OpResult

__all__ = [
    "connect",
    "Inspector",
    "QueueInfo",
    "DailyStats",
    "GroupInfo",
    "TaskInfo",
    "BrokenTask",
    "TaskPage",
    "ServerInfo",
    "WorkerInfo",
    "SchedulerEntry",
    "SchedulerEnqueueEvent",
    "AsynqError",
    "DamagedData",
    "QueueNotFound",
    "TaskNotFound",
    "RedisUnavailable",
    "PermissionRefused",
    "MessageDecodeError",
    "TASK_STATES",
    "Operations",
    "OpOutcome",
    "OpResult",
    "ChunkResult",
]
