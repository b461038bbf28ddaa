"""Turn the asynq reader's TaskInfo into what templates and the API may show.

Payloads, headers, results and error messages carry customer data. Until the masking
engine exists they are never shown: each becomes a Hidden placeholder that only says
how big the value is. This is the single place that decision is made, so templates
and API serialisers cannot leak a raw value by accident.
"""

from dataclasses import dataclass
from datetime import datetime

from dlqadmin.asynq import BrokenTask, TaskInfo


@dataclass(frozen=True)
class Hidden:
    """A sensitive value withheld from display; only its size is known."""

    size: int
    value: None = None
    masked: bool = True

    def as_json(self):
        return {"masked": True, "size": self.size, "value": None}


def _hidden_bytes(raw):
    return None if raw is None else Hidden(size=len(raw))


def _hidden_text(text):
    return None if not text else Hidden(size=len(text.encode("utf-8", "surrogatepass")))


def _hidden_headers(headers):
    if headers is None:
        return None
    return Hidden(size=sum(len(k.encode()) + len(v.encode()) for k, v in headers.items()))


@dataclass(frozen=True)
class TaskView:
    id: str
    queue: str
    type: str
    state: str
    max_retry: int
    retried: int
    last_err: Hidden | None
    last_failed_at: datetime | None
    next_process_at: datetime | None
    timeout_seconds: int
    deadline: datetime | None
    group: str
    is_orphaned: bool
    retention_seconds: int
    completed_at: datetime | None
    headers: Hidden | None
    payload: Hidden | None
    result: Hidden | None
    broken: bool = False
    problem: str = ""


def present_task(task):
    """TaskInfo | BrokenTask -> TaskView with every sensitive field withheld."""
    if isinstance(task, BrokenTask):
        return TaskView(
            id=task.id, queue=task.queue, type="", state=task.state, max_retry=0, retried=0,
            last_err=None, last_failed_at=None, next_process_at=None, timeout_seconds=0,
            deadline=None, group="", is_orphaned=False, retention_seconds=0, completed_at=None,
            headers=None, payload=None, result=None, broken=True, problem=task.problem,
        )
    assert isinstance(task, TaskInfo)
    return TaskView(
        id=task.id,
        queue=task.queue,
        type=task.type,
        state=task.state,
        max_retry=task.max_retry,
        retried=task.retried,
        last_err=_hidden_text(task.last_err),
        last_failed_at=task.last_failed_at,
        next_process_at=task.next_process_at,
        timeout_seconds=task.timeout_seconds,
        deadline=task.deadline,
        group=task.group,
        is_orphaned=task.is_orphaned,
        retention_seconds=task.retention_seconds,
        completed_at=task.completed_at,
        headers=_hidden_headers(task.headers),
        payload=_hidden_bytes(task.payload),
        result=_hidden_bytes(task.result),
    )
