"""Writing the audit log: `record()`, the one entry point, and the chain append.

How services use it
-------------------
Call `record()` in the service that does the action (not in a view). It raises `AuditWriteError` when the row cannot be written; let it
propagate, so the action it describes does not happen (fail closed).

- Postgres-only actions (grants, policy changes): call `record()` inside the same
  `transaction.atomic()` block as the change. Both commit or neither does.

      with transaction.atomic():
          change_things()
          record("access.grant", actor=actor, request=request, target="user:alice", detail={...})

- Actions on Redis (retry, discard, reveal...): Redis and Postgres share no transaction,
  so record the intent first, do the Redis change only if that worked, then record the
  outcome pointing at the intent:

      intent = record("task.retry", request=request, queue=q, task_id=t, reason=why, outcome="intent")
      try:
          result = redis_change()
      except Exception as exc:
          record("task.retry", request=request, queue=q, task_id=t, outcome="failed",
                 message=str(exc), detail={"intent": intent.seq})
          raise
      record("task.retry", request=request, queue=q, task_id=t, detail={"intent": intent.seq, ...})

  An intent with no outcome row means the process died in between: the Redis change
  may or may not have happened, and the reviewer can see exactly which one to check.

- Denied attempts are recorded too, with outcome="denied".

What a row holds: UTC time, actor (user id and name frozen now; "system" when there is
no user, e.g. the scheduler or a management command; "anonymous" for a signed-out
request), action, queue / task id / target, reason, outcome (+ message), request id,
client IP, user agent (truncated), and `detail`, a small dict passed through
`sanitize.clean_detail` (secrets redacted, payloads replaced by size + keyed hash).
Text is cut to fit: queue and task id at 500 characters, action at 64, user agent at
512, other text at 2,000.

How the chain stays whole
-------------------------
Appends are serialised on the single `ChainHead` row (SELECT ... FOR UPDATE inside a
transaction): the writer reads the last seq and hash, inserts seq+1 with
prev_hash = last hash and hash = sha256(canonical content + prev_hash), and moves the
head. Concurrent writers wait for the lock (held until their transaction commits), so
the chain never forks and seq has no gaps. `created_at` is never earlier than the
previous row's, so time order and chain order agree.
"""

import logging
from django.db import DatabaseError, IntegrityError, connection, transaction
from dlqadmin.core import clock
from dlqadmin.core import names

from . import chain
from .errors import AuditWriteError
from .models import OUTCOMES, AuditEvent, ChainHead
from .sanitize import clean_detail, clean_text

log = logging.getLogger(__name__)

SYSTEM = "system"
ANONYMOUS = "anonymous"
_USER_AGENT_MAX = 512
# Indexed columns stay well inside a btree entry's size limit (~2,700 bytes).
_INDEXED_MAX = 500


def _actor_of(actor, request):
    if actor is None and request is not None:
        actor = getattr(request, "user", None)
    if actor is None:
        return None, SYSTEM
    if not getattr(actor, "is_authenticated", False):
        return None, ANONYMOUS
    return actor.pk, clean_text(actor.get_username(), 150)


def _request_context(request):
    if request is None:
        return "", "", ""
    from dlqadmin.core.client_ip import client_ip

    request_id = clean_text(getattr(request, "request_id", "") or "", 64)
    ip = clean_text(client_ip(request) if hasattr(request, "META") else "", 64)
    agent = clean_text(request.META.get("HTTP_USER_AGENT", "") if hasattr(request, "META") else "",
                       _USER_AGENT_MAX)
    return request_id, ip, agent


def _lock_head():
    """The chain head, locked until the surrounding transaction ends."""
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ChainHead._meta.db_table} (id, seq, hash, created_at) "
                "VALUES (1, 0, %s, NULL) ON CONFLICT (id) DO NOTHING", [chain.GENESIS])
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head


def append(fields):
    """Append one row (a dict of the chained columns except seq; created_at defaults to
    now) to the chain."""
    fields = dict(fields)
    with transaction.atomic():
        head = _lock_head()
        now = fields.pop("created_at", None) or clock.now()
        if head.created_at is not None and now < head.created_at:
            now = head.created_at  # the clock stepped back: keep time order = chain order
        event = AuditEvent(seq=head.seq + 1, created_at=now, prev_hash=head.hash, **fields)
        event.hash = chain.row_hash({f: getattr(event, f) for f in chain.CHAINED_FIELDS}, head.hash)
        event.save(force_insert=True)
        ChainHead.objects.filter(pk=1).update(seq=event.seq, hash=event.hash, created_at=now)
    return event


def _shown(value):
    return names.display(value) if isinstance(value, str) else value


def _name_keys(detail, **targets):
    """A queue name or task id is any bytes; the row's text columns hold its display form,
    cut to the index limit. When that is not the name itself, the sha256 of the exact bytes
    goes into the detail (`queue_sha256`, `task_id_sha256`), so the target stays identified."""
    extra = {}
    for field, value in targets.items():
        if isinstance(value, str) and value and (len(value) > _INDEXED_MAX or names.display(value) != value):
            extra[f"{field}_sha256"] = names.key(value)
    if not extra:
        return detail
    return {**(detail if isinstance(detail, dict) else {} if detail is None else {"detail": detail}), **extra}


def record(action, *, request=None, actor=None, queue="", task_id="", target="", reason="",
           outcome="success", message="", detail=None):
    """Write one audit event and return it; raise AuditWriteError if it cannot be written.

    `request` supplies the actor (request.user, unless `actor` is given), the request id,
    the client IP and the user agent. `actor` is a user or None (system). `outcome` is
    one of success, denied, failed, intent. `detail` is sanitised (see sanitize.py).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    if not action or not isinstance(action, str):
        raise ValueError("action is required")
    try:
        detail = _name_keys(detail, queue=queue, task_id=task_id)
        actor_id, actor_name = _actor_of(actor, request)
        request_id, ip, agent = _request_context(request)
        fields = {
            "actor_id": actor_id,
            "actor_name": actor_name,
            "action": clean_text(action, 64),
            "queue": clean_text(_shown(queue), _INDEXED_MAX),
            "task_id": clean_text(_shown(task_id), _INDEXED_MAX),
            "target": clean_text(target),
            "reason": clean_text(reason),
            "outcome": outcome,
            "message": clean_text(message),
            "request_id": request_id,
            "ip": ip,
            "user_agent": agent,
            "detail": clean_detail(detail),
        }
        return append(fields)
    except (DatabaseError, IntegrityError, TypeError, ValueError) as exc:
        log.error("audit write failed action=%s: %s", action, exc)
        raise AuditWriteError(f"The audit log could not be written ({type(exc).__name__}); "
                              "the action was not carried out.") from exc
