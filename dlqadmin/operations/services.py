"""Triage writes: one task, selected tasks, tracked bulk operations, queues.

Every function here checks the caller's right on the queue itself
(``dlqadmin.access.checks.may``) and is audited: an "intent" row before the Redis
change, its outcome after (see dlqadmin/audit/services.py). A refused right raises
``Denied`` (HTTP 403) after recording a "denied" row; bad input raises ``Refused``
(HTTP 400). The state of a task is never an exception: each call returns an
``ActionResult`` whose ``message`` says what happened in words an operator can act on
(done / no longer exists / changed state meanwhile ...).

``queue`` is the access registry's Queue (what ``queue_view`` hands a view).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from dlqadmin.core import clock

from dlqadmin.access.checks import has_global, may
from dlqadmin.access.roles import MANAGE_ACCESS, OPERATE_QUEUE, REVEAL_QUEUE
from dlqadmin.asynq import OpOutcome, OpResult, TaskFilter
from dlqadmin.asynq import keys, messages
from dlqadmin.asynq.errors import MessageDecodeError, QueueNotFound
from dlqadmin.asynq.operations import (
    ARCHIVE_ALL_STATES,
    ARCHIVE_STATES,
    DELETE_ALL_STATES,
    DELETE_STATES,
    RUN_ALL_STATES,
    RUN_STATES,
)
from dlqadmin.audit import record
from dlqadmin.triage.search import count_visible, masked_query, task_filter
from dlqadmin.core.asynq_client import client, inspector, operations

from .models import Operation, OperationItem

# Audit action names.
TASK_ACTIONS = {"run": "task.run", "delete": "task.delete", "archive": "task.archive"}
RETRY_FRESH = "task.retry_fresh"
EDIT_RUN = "task.edit_run"
CANCEL_TASK = "task.cancel"
PAUSE_QUEUE = "queue.pause"
RESUME_QUEUE = "queue.resume"
DELETE_QUEUE = "queue.delete"
BATCH = "task.batch"
BULK = "task.bulk"
BULK_PREVIEW = "task.bulk_preview"
BULK_CANCEL = "operation.cancel"
BULK_PAUSE = "operation.pause"
BULK_RESUME = "operation.resume"

ALLOWED = {"run": RUN_STATES, "delete": DELETE_STATES, "archive": ARCHIVE_STATES}
# Selected tasks may also be cancelled (active ones only: asynq's CancelProcessing).
BATCH_ALLOWED = ALLOWED | {"cancel": frozenset({"active"})}
ALLOWED_ALL = {"run": RUN_ALL_STATES, "delete": DELETE_ALL_STATES, "archive": ARCHIVE_ALL_STATES}
VERBS = {"run": "run", "delete": "deleted", "archive": "archived", "cancel": "cancelled"}
# The confirmation buttons' verbs ("Yes, retry 600 tasks", "Yes, delete 12 tasks").
IMPERATIVES = {"run": "retry", "delete": "delete", "archive": "archive", "cancel": "cancel"}
DONE_TEXT = {"run": "Task queued to run now.", "delete": "Task deleted.", "archive": "Task archived.",
             "retry_fresh": "Task queued to run now with a fresh retry budget.",
             "edit": "Payload saved and task queued to run.",
             "cancel": "Cancellation sent; the task stops if its handler honours the context."}
# Selected tasks: at most this many ids per request (a page is at most 100).
MAX_BATCH = 1000
MAX_RATE = 100_000
# Audit detail keeps at most this many per-id entries (the Operation's items keep all).
_AUDIT_IDS = 200


class Denied(Exception):
    """The user may see the queue but lacks the right for this action (HTTP 403)."""

    status = 403


class Refused(Exception):
    """The request is incomplete or invalid (HTTP 400)."""

    status = 400


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    outcome: str  # an OpOutcome value
    state: str | None
    message: str

    @property
    def changed(self):
        return self.outcome in (OpOutcome.CHANGED.value, OpOutcome.WRONG_STATE.value)


def describe(op: str, result: OpResult) -> ActionResult:
    """An OpResult in words."""
    o = result.outcome
    if o is OpOutcome.DONE:
        text = DONE_TEXT.get(op, "Done.")
    elif o is OpOutcome.NOT_FOUND:
        text = "The task no longer exists (someone may have acted on it meanwhile); nothing was done."
    elif o is OpOutcome.CHANGED:
        now = f" (it is now {result.state})" if result.state else ""
        text = f"The task changed meanwhile{now}; nothing was done. Reload to see its current state."
    elif o is OpOutcome.WRONG_STATE:
        verb = VERBS.get(op, op)
        text = (f"A {result.state} task cannot be {verb}; nothing was done." if result.state
                else "The task is not in a state that allows this; nothing was done.")
    elif o is OpOutcome.QUEUE_NOT_FOUND:
        text = "The queue no longer exists."
    elif o is OpOutcome.BROKEN:
        text = "asynq's data for this task is damaged; nothing was changed."
    else:
        text = o.value.replace("_", " ")
    return ActionResult(o is OpOutcome.DONE, o.value, result.state, text)


def _ops():
    return operations()


def _require(request, codename, queue, action, *, task_id="", actor=None):
    user = actor if actor is not None else request.user
    if not may(user, codename, queue):
        record(action, request=request, actor=actor, queue=queue.name, task_id=task_id, outcome="denied",
               message=f"no {codename} right on this queue", detail={"permission": codename})
        raise Denied(f"You may not do this on queue {queue.name} (needs {codename.replace('_queue', '')}).")


def _audited(action, request, queue, *, task_id="", reason="", detail=None, call, op="run"):
    """Intent row, the Redis call, outcome row; returns (OpResult, intent)."""
    intent = record(action, request=request, queue=queue.name, task_id=task_id, reason=reason,
                    outcome="intent", detail=detail)
    try:
        result = call()
    except BaseException as exc:  # whatever happens, the intent gets its outcome
        record(action, request=request, queue=queue.name, task_id=task_id, reason=reason, outcome="failed",
               message=f"{type(exc).__name__}: {exc}"[:500], detail={"intent": intent.seq})
        raise
    described = describe(op, result)
    record(action, request=request, queue=queue.name, task_id=task_id, reason=reason,
           outcome="success" if result.ok else "failed", message="" if result.ok else described.message,
           detail={"intent": intent.seq, "outcome": result.outcome.value, "state": result.state})
    return result, intent


def _check_expected(op, expected_state):
    if expected_state in (None, ""):
        return None
    if expected_state not in ALLOWED[op]:
        return OpResult(OpOutcome.WRONG_STATE, expected_state)
    return expected_state


# --- one task -------------------------------------------------------------------------

def _task_op(request, queue, task_id, op, expected_state=None, *, fresh=False):
    action = RETRY_FRESH if fresh else TASK_ACTIONS[op]
    _require(request, OPERATE_QUEUE, queue, action, task_id=task_id)
    expected = _check_expected(op, expected_state)
    if isinstance(expected, OpResult):  # the page showed a state this action cannot apply to
        record(action, request=request, queue=queue.name, task_id=task_id, outcome="failed",
               message="not allowed in this state", detail={"expected_state": expected_state})
        return describe(op, expected)
    ops = _ops()
    if op == "run":
        def call():
            return ops.run_task(queue.name, task_id, expected_state=expected, reset_retried=fresh)
    else:
        def call():
            return getattr(ops, f"{op}_task")(queue.name, task_id, expected_state=expected)
    result, _ = _audited(action, request, queue, task_id=task_id, call=call, op=op,
                         detail={"expected_state": expected, "reset_retried": fresh})
    return describe("retry_fresh" if fresh and result.ok else op, result)


def run_task(request, queue, task_id, expected_state=None):
    return _task_op(request, queue, task_id, "run", expected_state)


def delete_task(request, queue, task_id, expected_state=None):
    return _task_op(request, queue, task_id, "delete", expected_state)


def archive_task(request, queue, task_id, expected_state=None):
    return _task_op(request, queue, task_id, "archive", expected_state)


def retry_fresh(request, queue, task_id, expected_state=None):
    """Run with ``retried`` reset to 0, so asynq's retry policy applies again."""
    return _task_op(request, queue, task_id, "run", expected_state, fresh=True)


def cancel_task(request, queue, task_id):
    """Ask the servers to cancel an active task (asynq's cancel channel; best effort)."""
    _require(request, OPERATE_QUEUE, queue, CANCEL_TASK, task_id=task_id)
    from dlqadmin.asynq import TaskNotFound

    try:
        task = inspector().get_task(queue.name, task_id)
    except TaskNotFound:
        return describe("cancel", OpResult(OpOutcome.NOT_FOUND))
    except QueueNotFound:
        return describe("cancel", OpResult(OpOutcome.QUEUE_NOT_FOUND))
    if task.state != "active":
        return ActionResult(False, OpOutcome.WRONG_STATE.value, task.state,
                            f"The task is {task.state}, not active: there is nothing to cancel.")
    intent = record(CANCEL_TASK, request=request, queue=queue.name, task_id=task_id, outcome="intent")
    try:
        receivers = _ops().cancel_task(task_id)
    except BaseException as exc:  # whatever happens, the intent gets its outcome
        record(CANCEL_TASK, request=request, queue=queue.name, task_id=task_id, outcome="failed",
               message=str(exc)[:500], detail={"intent": intent.seq})
        raise
    record(CANCEL_TASK, request=request, queue=queue.name, task_id=task_id,
           detail={"intent": intent.seq, "servers": receivers})
    if not receivers:
        return ActionResult(False, "no_server", "active",
                            "No asynq server is listening for cancellations; the task was not cancelled.")
    return ActionResult(True, OpOutcome.DONE.value, "active",
                        f"Cancellation sent to {receivers} server{'s' if receivers != 1 else ''}; "
                        "the task stops if its handler honours the context.")


# --- queue ------------------------------------------------------------------------------

def _queue_op(request, queue, op):
    action = PAUSE_QUEUE if op == "pause" else RESUME_QUEUE
    _require(request, OPERATE_QUEUE, queue, action)
    ops = _ops()
    call = (lambda: ops.pause_queue(queue.name)) if op == "pause" else (lambda: ops.unpause_queue(queue.name))
    result, _ = _audited(action, request, queue, call=call, op=op)
    if result.ok:
        text = "Queue paused: asynq servers stop taking its tasks." if op == "pause" else "Queue resumed."
    elif result.outcome is OpOutcome.WRONG_STATE:
        text = "The queue is already paused." if op == "pause" else "The queue is not paused."
    else:
        text = describe(op, result).message
    return ActionResult(result.ok, result.outcome.value, result.state, text)


def pause(request, queue):
    return _queue_op(request, queue, "pause")


def resume(request, queue):
    return _queue_op(request, queue, "unpause")


def delete_queue(request, queue, *, force=False):
    """asynq's DeleteQueue, for admins: without `force` only a queue with no pending,
    active, scheduled, retry or archived task; with it, every such task goes too, but
    never while a task is active. Refusals carry asynq's reason."""
    if not has_global(request.user, MANAGE_ACCESS):
        record(DELETE_QUEUE, request=request, queue=queue.name, outcome="denied", message="deleting a queue needs admin",
               detail={"permission": MANAGE_ACCESS, "force": force})
        raise Denied("Only admins may delete a queue.")
    ops = _ops()
    result, _ = _audited(DELETE_QUEUE, request, queue, call=lambda: ops.delete_queue(queue.name, force=force),
                         op="delete_queue", detail={"force": force})
    if result.ok:
        text = f"Queue {queue.name} deleted."
    elif result.outcome is OpOutcome.QUEUE_NOT_EMPTY and result.state == "active" and force:
        text = f"queue has active tasks: queue=\"{queue.name}\"; wait for them to finish or cancel them first."
    elif result.outcome is OpOutcome.QUEUE_NOT_EMPTY:
        text = f"queue is not empty: queue=\"{queue.name}\" ({result.state or 'tasks'} left); delete with force."
    else:
        text = describe("delete_queue", result).message
    return ActionResult(result.ok, result.outcome.value, result.state, text)


# --- edit payload, then run -------------------------------------------------------------

def msg_version(raw: bytes) -> str:
    """What an editor was opened with: sha256 of the task's msg bytes."""
    return hashlib.sha256(raw).hexdigest()


def read_for_edit(queue_name, task_id):
    """(msg bytes, parsed msg) of a task, or (None, None) if it does not exist."""
    raw = client().hget(keys.task(queue_name, task_id), b"msg")
    if raw is None:
        return None, None
    try:
        return raw, messages.parse_task_message(raw)
    except MessageDecodeError:
        return raw, None


def _json_value(raw: bytes):
    """(True, value) when `raw` is JSON the parser can take, else (False, None). Nesting
    deeper than Python's recursion limit is hostile data, not JSON we can edit."""
    try:
        return True, json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False, None


def _is_json(raw: bytes) -> bool:
    return _json_value(raw)[0]


def editable_payload(raw: bytes) -> str:
    """The payload as the editor opens it: JSON pretty-printed (the saved bytes are
    then the edited text), anything else as text."""
    ok, value = _json_value(raw)
    if ok:
        try:
            return json.dumps(value, indent=2, ensure_ascii=False)
        except RecursionError:
            pass
    return raw.decode("utf-8", "replace")


def masked_diff(queue_name, task_type, old: bytes, new: bytes, *, max_lines=200):
    """A unified diff of the masked old and new payloads (never raw values)."""
    from dlqadmin.masking.selectors import masker_for

    masker = masker_for(queue_name, task_type)

    def lines(raw):
        value = masker.mask_payload(raw, limit=None)
        text = value.text if value is not None else ""
        if value is not None and value.kind == "json":
            try:  # one key per line, so the diff shows what changed
                text = json.dumps(json.loads(text), indent=1, ensure_ascii=False, sort_keys=True)
            except ValueError:
                pass
        return text.splitlines()

    diff = list(difflib.unified_diff(lines(old), lines(new), "before (masked)", "after (masked)", n=1, lineterm=""))
    return diff[:max_lines]


def edit_and_run(request, queue, task_id, payload, reason, version=None, *, fresh=False):
    """Replace an archived task's payload and move it to pending, atomically, only if
    the task did not change since the editor read it (``version``: msg_version of
    the msg the editor showed; without it, the msg read now). ``fresh`` also gives
    it a fresh retry budget (retried back to 0) in the same atomic step. Needs
    operate and reveal on the queue and a reason; the audit rows hold a masked diff."""
    _require(request, OPERATE_QUEUE, queue, EDIT_RUN, task_id=task_id)
    _require(request, REVEAL_QUEUE, queue, EDIT_RUN, task_id=task_id)
    reason = (reason or "").strip()
    minimum = settings.DLQADMIN_REVEAL_MIN_REASON
    if len(reason) < minimum:
        raise Refused(f"Say why you change this payload (at least {minimum} characters).")
    if isinstance(payload, str):
        new = payload.encode("utf-8", "surrogatepass")
    elif payload is None:
        raise Refused("A new payload is required.")
    else:  # a JSON value sent through the API
        new = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    raw, msg = read_for_edit(queue.name, task_id)
    if raw is None:
        return describe("edit", OpResult(OpOutcome.NOT_FOUND))
    if msg is None:
        return describe("edit", OpResult(OpOutcome.BROKEN))
    if version and version != msg_version(raw):
        record(EDIT_RUN, request=request, queue=queue.name, task_id=task_id, reason=reason, outcome="failed",
               message="the task changed since the editor was opened")
        return ActionResult(False, OpOutcome.CHANGED.value, None,
                            "The task changed since you opened the editor; nothing was written. "
                            "Reload and edit again.")
    if _is_json(msg.payload) and not _is_json(new):
        raise Refused("The original payload is JSON: the new payload must be valid JSON too.")
    detail = {"masked_diff": masked_diff(queue.name, msg.type, msg.payload, new), "task_type": msg.type,
              "before_sha256": hashlib.sha256(msg.payload).hexdigest(),
              "after_sha256": hashlib.sha256(new).hexdigest(), "version": msg_version(raw),
              "fresh_retry_budget": bool(fresh)}
    result, _ = _audited(EDIT_RUN, request, queue, task_id=task_id, reason=reason, detail=detail, op="edit",
                         call=lambda: _ops().update_payload_and_run(queue.name, task_id, new, expected_msg=raw,
                                                                    reset_retried=bool(fresh)))
    return describe("edit", result)


# --- selected tasks ---------------------------------------------------------------------

# Longest task id a batch accepts: what an OperationItem can record (a per-id
# outcome must be storable before anything is changed in Redis).
# Ids are stored exactly whatever their bytes (core/fields.NameField); the bound keeps a
# batch's work and its URLs finite, as asynq's own ids are far shorter.
MAX_ID_LENGTH = 1000


def _check_action(action, allowed=ALLOWED):
    if not isinstance(action, str) or action not in allowed:
        raise Refused(f"action must be one of {', '.join(allowed)}.")


def _clean_ids(ids):
    if not isinstance(ids, (list, tuple)) or not ids:
        raise Refused("Select at least one task (ids: a non-empty list).")
    if len(ids) > MAX_BATCH:
        raise Refused(f"At most {MAX_BATCH} tasks at once; use a bulk operation for more.")
    if not all(isinstance(i, str) and i for i in ids):
        raise Refused("Task ids must be non-empty strings.")
    for i in ids:
        if len(i) > MAX_ID_LENGTH:
            raise Refused(f"A task id is longer than {MAX_ID_LENGTH} characters; nothing was done.")
    return list(dict.fromkeys(ids))


def check_batch(action, ids, state=None):
    """(ids, state) of a valid batch request, or Refused: everything a batch needs is
    checked here, before its first write anywhere."""
    _check_action(action, BATCH_ALLOWED)
    ids = _clean_ids(ids)
    if state in (None, ""):
        return ids, None
    if not isinstance(state, str):
        raise Refused("state must be a task state (text).")
    if state not in BATCH_ALLOWED[action]:
        raise Refused(f"{action}: {state} tasks cannot be {VERBS[action]}.")
    return ids, state


def batch(request, queue, action, ids, state=None):
    """Run / delete / archive / cancel the given tasks now; returns (Operation, {id: ActionResult}).

    With ``state`` (what the page showed) each id must still be in it, else it is
    reported as changed. The request is validated as a whole first (Refused, nothing
    written). The per-id results are kept as an Operation of kind "batch" (status
    done, never taken by the operations worker) with an item per id that was not
    done. The audit intent always gets an outcome row, also when something fails.
    Cancel (active tasks only) publishes each id on asynq's cancel channel; a task
    counts as done once a server received it (best effort, like asynq's)."""
    _check_action(action, BATCH_ALLOWED)
    _require(request, OPERATE_QUEUE, queue, BATCH)
    ids, state = check_batch(action, ids, state)
    now = clock.now()
    with transaction.atomic():
        op = Operation.objects.create(kind=Operation.BATCH, action=action, queue=queue.name, state=state or "",
                                      ids=ids, total=len(ids), status=Operation.RUNNING, started_by=request.user,
                                      started_by_name=request.user.get_username(), started_at=now)
        intent = record(BATCH, request=request, queue=queue.name, outcome="intent",
                        detail={"operation": op.pk, "action": action, "state": state, "count": len(ids),
                                "ids": ids[:_AUDIT_IDS]})
    try:
        results = _batch_results(op, action, queue, ids, state)
    except BaseException as exc:
        # The intent must not stay without an outcome, whatever went wrong.
        Operation.objects.filter(pk=op.pk).update(status=Operation.FAILED, finished_at=clock.now(),
                                                  last_error=f"{type(exc).__name__}: {exc}"[:2000])
        record(BATCH, request=request, queue=queue.name, outcome="failed",
               message=f"{type(exc).__name__}: {exc}"[:500], detail={"intent": intent.seq, "operation": op.pk})
        raise
    failures = [(i, r) for i, r in results.items() if not r.ok]
    done = len(ids) - len(failures)
    record(BATCH, request=request, queue=queue.name, outcome="success" if not failures else "failed",
           message=f"{done} done, {len(failures)} not done",
           detail={"intent": intent.seq, "operation": op.pk, "action": action, "done": done,
                   "failed": len(failures), "not_done": [f"{i} {r.outcome}" for i, r in failures[:_AUDIT_IDS]]})
    op.refresh_from_db()
    return op, results


def _batch_results(op, action, queue, ids, state):
    """The Redis calls of a batch and its stored per-id results."""
    ops = _ops()
    if action == "cancel":
        raw = ops.cancel_tasks(queue.name, ids)
        results = {i: _cancelled(raw[i]) for i in ids}
    else:
        if state:
            raw = getattr(ops, f"{action}_tasks")(queue.name, ids, expected_state=state)
        else:
            raw = {i: getattr(ops, f"{action}_task")(queue.name, i) for i in ids}
        results = {i: describe(action, raw[i]) for i in ids}
    failures = [(i, r) for i, r in results.items() if not r.ok]
    with transaction.atomic():
        OperationItem.objects.bulk_create(
            [OperationItem(operation=op, task_id=i, outcome=r.outcome, state=r.state or "") for i, r in failures])
        Operation.objects.filter(pk=op.pk).update(status=Operation.DONE, done=len(ids) - len(failures),
                                                  failed=len(failures), finished_at=clock.now())
    return results


def _cancelled(result):
    """A CancelResult in words (see cancel_task for the single task)."""
    if result.outcome is OpOutcome.WRONG_STATE:
        return ActionResult(False, result.outcome.value, result.state,
                            f"The task is {result.state}, not active: there is nothing to cancel.")
    if result.ok and result.receivers == 0:
        return ActionResult(False, "no_server", "active",
                            "No asynq server is listening for cancellations; the task was not cancelled.")
    return describe("cancel", result)


def active_ids(queue):
    """The ids of the queue's active tasks, at most MAX_BATCH (asynq runs at most its
    servers' concurrency at once), for "cancel all active"."""
    return _ops().active_ids(queue.name, MAX_BATCH)


# --- bulk: every task of a state, or matching a search ----------------------------------

def parse_filter(query):
    """A TaskFilter from URL-style parameters (a dict); Refused if invalid."""
    if query in (None, ""):
        return TaskFilter()
    if not isinstance(query, dict):
        raise Refused("filter must be an object of search parameters.")
    try:
        return task_filter({str(k): str(v) for k, v in query.items() if v is not None})
    except ValueError as exc:
        raise Refused(f"Invalid filter: {exc}") from None


def state_size(queue_name, state, group=None):
    """How many tasks ``state`` (or ``group`` of aggregating) holds now."""
    if state == "aggregating":
        return next((g.size for g in inspector().groups(queue_name) if g.group == group), 0)
    return getattr(inspector().queue_info(queue_name, memory_usage=False), state)


def count_matching(user, queue, state, f, group=None):
    """How many tasks a bulk operation of ``user`` would touch right now: every task
    of the state, or those matching ``f`` as ``user`` may see them (masked unless
    they may reveal on the queue; a scan in bounded chunks)."""
    if f.is_empty:
        return state_size(queue.name, state, group)
    return count_visible(user, queue, state, f, group)


def preview_bulk(request, queue, action, state, filter_query=None, rate=None, group=None):
    """The exact count a bulk confirmation shows (audited, with the filter masked)."""
    _require(request, OPERATE_QUEUE, queue, BULK)
    check_bulk(action, state, group, rate)
    f = parse_filter(filter_query)
    if state != "aggregating":
        group = None
    try:
        count = count_matching(request.user, queue, state, f, group)
    except QueueNotFound:
        raise Refused("The queue no longer exists.") from None
    record(BULK_PREVIEW, request=request, queue=queue.name,
           detail={"action": action, "state": state, "group": group, "filter": masked_query(queue.name, f),
                   "count": count})
    return count


def check_bulk(action, state, group=None, rate=None):
    _check_action(action)
    if state not in ALLOWED_ALL[action]:
        raise Refused(f"{action} all: state must be one of {', '.join(sorted(ALLOWED_ALL[action]))}.")
    if state == "aggregating" and not group:
        raise Refused("state aggregating needs a group.")
    if rate in ("", None):
        return None
    try:
        rate = int(rate)
    except (TypeError, ValueError):
        raise Refused("rate must be a whole number of tasks per second.") from None
    if not 1 <= rate <= MAX_RATE:
        raise Refused(f"rate must be between 1 and {MAX_RATE} tasks per second.")
    return rate


def start_bulk(request, queue, action, state, filter_query=None, rate=None, group=None, reason=""):
    """Queue a tracked operation; the operations worker (run_scheduler, or
    ``run_operations``) carries it out in chunks."""
    _require(request, OPERATE_QUEUE, queue, BULK)
    rate = check_bulk(action, state, group, rate)
    f = parse_filter(filter_query)
    if state != "aggregating":
        group = None
    try:
        total = count_matching(request.user, queue, state, f, group)
    except QueueNotFound:
        raise Refused("The queue no longer exists.") from None
    query = f.to_query()
    with transaction.atomic():
        op = Operation.objects.create(action=action, queue=queue.name, state=state, group=group or "",
                                      filter=query, rate=rate, total=total, started_by=request.user,
                                      started_by_name=request.user.get_username(), reason=(reason or "")[:2000])
        intent = record(BULK, request=request, queue=queue.name, reason=reason or "", outcome="intent",
                        detail={"operation": op.pk, "action": action, "state": state, "group": group,
                                "filter": masked_query(queue.name, f), "rate": rate, "total": total})
        Operation.objects.filter(pk=op.pk).update(intent_seq=intent.seq)
    op.refresh_from_db()
    return op


def shown_filter(op):
    """An operation's filter as others may see it (pages, API, audit): masked."""
    return _masked_op_filter(op)


def _masked_op_filter(op):
    if not op.filter:
        return {}
    try:
        return masked_query(op.queue, TaskFilter.from_query(op.filter or {}))
    except ValueError:
        return {}


def finish_record(op, *, outcome=None, message=""):
    """The outcome row of a bulk operation (one per operation, written by whoever ends it)."""
    op.refresh_from_db()
    if outcome is None:
        outcome = "success" if op.status == Operation.DONE and not op.failed else "failed"
    record(BULK, actor=op.started_by, queue=op.queue, outcome=outcome,
           message=message or f"{op.status}: {op.done} done, {op.failed} not done of {op.total}",
           detail={"intent": op.intent_seq, "operation": op.pk, "action": op.action, "state": op.state,
                   "filter": _masked_op_filter(op), "rate": op.rate, "status": op.status, "total": op.total, "done": op.done,
                   "failed": op.failed, "attempts": op.attempts, "started_by": op.started_by_name})


def _op_change(request, op, action, queue):
    _require(request, OPERATE_QUEUE, queue, action)


def cancel_bulk(request, op, queue):
    """Stop an operation between two chunks. Tasks already moved stay moved."""
    _op_change(request, op, BULK_CANCEL, queue)
    now = clock.now()
    with transaction.atomic():
        current = Operation.objects.select_for_update().get(pk=op.pk)
        if current.status not in Operation.ACTIVE:
            return current, False
        worker_finishes = current.status == Operation.RUNNING and current.lease_expires and current.lease_expires > now
        Operation.objects.filter(pk=op.pk).update(status=Operation.CANCELLED, finished_at=now)
        record(BULK_CANCEL, request=request, queue=op.queue, detail={"operation": op.pk, "was": current.status})
    if not worker_finishes:
        Operation.objects.filter(pk=op.pk).update(lease_owner="", lease_expires=None)
        finish_record(current, message=f"cancelled by {request.user.get_username()}")
    current.refresh_from_db()
    return current, True


def pause_bulk(request, op, queue):
    _op_change(request, op, BULK_PAUSE, queue)
    with transaction.atomic():
        n = Operation.objects.filter(pk=op.pk, status__in=[Operation.QUEUED, Operation.RUNNING]).update(
            status=Operation.PAUSED)
        if n:
            record(BULK_PAUSE, request=request, queue=op.queue, detail={"operation": op.pk})
    op.refresh_from_db()
    return op, bool(n)


def resume_bulk(request, op, queue):
    _op_change(request, op, BULK_RESUME, queue)
    with transaction.atomic():
        n = Operation.objects.filter(pk=op.pk, status=Operation.PAUSED).update(status=Operation.QUEUED)
        if n:
            record(BULK_RESUME, request=request, queue=op.queue, detail={"operation": op.pk})
    op.refresh_from_db()
    return op, bool(n)


def process(owner="manual", **kwargs):
    """Process claimable operations now (see worker.run_pending)."""
    from .worker import run_pending

    return run_pending(owner, **kwargs)
