"""JSON-lines export of vaulted deaths: masked for everyone; raw only for users who may
reveal on the queue, with a reason, and audited either way."""

import base64
import json

from django.conf import settings

from dlqadmin.access.checks import may
from dlqadmin.access.roles import REVEAL_QUEUE
from dlqadmin.audit import record
from dlqadmin.operations.services import Denied, Refused

from . import selectors
from .services import EXPORT

MAX_ROWS = 100_000
_BATCH = 500


def start(request, queue, f, *, raw=False, reason=""):
    """Check and audit an export; returns a generator of JSON lines."""
    reason = (reason or "").strip()
    if raw:
        if not may(request.user, REVEAL_QUEUE, queue):
            record(EXPORT, request=request, queue=queue.name, reason=reason, outcome="denied",
                   message="raw export needs the payload_viewer right on this queue")
            raise Denied("A raw export needs the payload_viewer role on this queue.")
        if len(reason) < settings.DLQADMIN_REVEAL_MIN_REASON:
            raise Refused(f"Say why you need the raw data (at least {settings.DLQADMIN_REVEAL_MIN_REASON} characters).")
    total, capped = selectors.count(queue.name, f, cap=MAX_ROWS)
    record(EXPORT, request=request, queue=queue.name, reason=reason,
           detail={"raw": raw, "filter": f.to_query(), "rows": total, "capped": capped})
    return _lines(queue.name, f, raw)


def _line(e, raw):
    out = {"id": e.pk, "queue": e.queue, "task_id": e.task_id, "type": e.task_type,
           "archived_at": e.archived_at.isoformat(), "retried": e.retried, "max_retry": e.max_retry,
           "status": e.status, "size": e.size, "sha256": e.sha256, "masked": not raw}
    if raw:
        msg = selectors.raw_msg(e)
        info = selectors.raw_task(e)
        out["msg_base64"] = base64.b64encode(msg).decode() if msg else None
        out["error"] = getattr(info, "last_err", None)
        payload = getattr(info, "payload", None)
        out["payload_base64"] = base64.b64encode(payload).decode() if payload else None
    else:
        out["error"] = e.error_masked
        out["payload"] = e.payload_masked
    return json.dumps(out, ensure_ascii=False) + "\n"


def _lines(queue_name, f, raw):
    before, sent = None, 0
    while sent < MAX_ROWS:
        qs = selectors.matching(queue_name, f)
        if not raw:
            qs = qs.defer("msg_encrypted")
        if before is not None:
            from django.db.models import Q

            qs = qs.filter(Q(archived_score__lt=before[0]) | Q(archived_score=before[0], id__lt=before[1]))
        batch = list(qs.order_by("-archived_score", "-id")[:min(_BATCH, MAX_ROWS - sent)])
        if not batch:
            return
        for e in batch:
            yield _line(e, raw)
        sent += len(batch)
        before = (batch[-1].archived_score, batch[-1].pk)
