"""Reads of the vault: search, pages, one death with its history, summaries.

Callers pass a queue already resolved through dlqadmin.access. Everything the vault
stores for search (error text, payload preview, payload JSON) is masked when it is
captured, so search, counts and groupings run over what every viewer may see:
searching a value masking hides finds nothing, for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max, Min, Q
from django.db.models.expressions import RawSQL

from dlqadmin.core import names
from dlqadmin.core.prepared import Prepared

from dlqadmin.asynq import TaskFilter
from dlqadmin.asynq.vault import task_from_msg
from dlqadmin.masking.selectors import masker_for
from dlqadmin.triage.presenters import DETAIL_LIMIT, LIST_LIMIT, present_task

from . import crypto
from .models import STATUSES, VaultCursor, VaultEntry, VaultLoss

STATUS_NAMES = tuple(s for s, _ in STATUSES)
PAGE_SIZE = 50
COUNT_CAP = 1_000  # "1000+": a broad match is counted by scanning until the cap (~4 µs a row)
FILTER_PARAMS = ("type", "type_prefix", "error", "since", "until", "retried_min", "retried_max", "q", "status",
                 "task_id", "payload")


class BadFilter(ValueError):
    """A search parameter that cannot be used (HTTP 400, the message says why)."""


@dataclass(frozen=True)
class VaultFilter:
    tasks: TaskFilter
    status: str | None = None
    task_id: str | None = None
    payload: str | None = None  # substring of the masked payload preview

    @classmethod
    def from_query(cls, query) -> "VaultFilter":
        def get(name):
            value = query.get(name)
            if isinstance(value, (list, tuple)):
                value = value[-1] if value else None
            if value is not None and not isinstance(value, str):
                raise BadFilter(f"{name} must be text")
            return value.strip() if value and value.strip() else None

        if get("group") is not None or query.get("reason") is not None:
            raise BadFilter("the vault does not search by group or failure reason; use error text")
        try:
            tasks = TaskFilter.from_query({k: query.get(k) for k in FILTER_PARAMS if query.get(k) is not None
                                           and k not in ("status", "task_id", "payload")})
        except ValueError as exc:
            raise BadFilter(str(exc)) from None
        status = get("status")
        if status is not None and status not in STATUS_NAMES:
            raise BadFilter(f"status must be one of {', '.join(STATUS_NAMES)}")
        return cls(tasks, status, get("task_id"), get("payload"))

    def to_query(self) -> dict:
        out = self.tasks.to_query()
        for name in ("status", "task_id", "payload"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @property
    def is_empty(self):
        return self.tasks.is_empty and self.status is None and self.task_id is None and self.payload is None


def _like(text):
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def matching(queue_name, f: VaultFilter | None = None):
    """The queue's vault rows that match ``f`` (a queryset, newest first)."""
    qs = VaultEntry.objects.filter(queue=queue_name)
    if f is None:
        return qs
    t = f.tasks
    if t.type is not None:
        qs = qs.filter(task_type__startswith=t.type) if t.type_prefix else qs.filter(task_type=t.type)
    if t.error is not None:
        # ILIKE on the column itself, so the trigram index (vault_error_trgm) serves it
        # (Django's icontains compares UPPER(column), which no index covers).
        qs = qs.extra(where=["vault_vaultentry.error_masked ILIKE %s"], params=[_like(t.error)])
    if t.since is not None:
        qs = qs.filter(archived_score__gte=t.since.timestamp())
    if t.until is not None:
        qs = qs.filter(archived_score__lt=t.until.timestamp())
    if t.retried_min is not None:
        qs = qs.filter(retried__gte=t.retried_min)
    if t.retried_max is not None:
        qs = qs.filter(retried__lte=t.retried_max)
    if t.payload_field is not None:
        path = "{" + ",".join('"' + p.replace('"', '\\"') + '"' for p in t.payload_field.split(".")) + "}"
        if t.payload_value == "null":
            qs = qs.filter(pk__in=RawSQL("SELECT id FROM vault_vaultentry WHERE queue = %s AND "
                                         "payload_json #> %s::text[] = 'null'::jsonb", [queue_name, path]))
        else:
            qs = qs.filter(pk__in=RawSQL("SELECT id FROM vault_vaultentry WHERE queue = %s AND "
                                         "jsonb_typeof(payload_json #> %s::text[]) IN ('string', 'number', 'boolean') "
                                         "AND payload_json #>> %s::text[] = %s",
                                         [queue_name, path, path, t.payload_value]))
    if f.status is not None:
        qs = qs.filter(status=f.status)
    if f.task_id is not None:
        qs = qs.filter(task_id=f.task_id)
    if f.payload is not None:
        qs = qs.extra(where=["vault_vaultentry.payload_masked ILIKE %s"], params=[_like(f.payload)])
    return qs


@dataclass(frozen=True)
class Row:
    entry: VaultEntry
    error_preview: str
    payload_preview: str


def _preview(text, n=160):
    line = " ".join(part.strip() for part in (text or "").splitlines())
    return line if len(line) <= n else line[: n - 1] + "…"


def page(queue_name, f: VaultFilter | None, *, before: tuple | None = None, size=PAGE_SIZE):
    """One page, newest first, keyset-paginated on (archived_score, id). Returns
    (rows, next_before or None)."""
    qs = matching(queue_name, f).defer("msg_encrypted", "payload_json")
    if before is not None:
        score, pk = before
        qs = qs.filter(Q(archived_score__lt=score) | Q(archived_score=score, id__lt=pk))
    entries = list(qs.order_by("-archived_score", "-id")[: size + 1])
    more = len(entries) > size
    entries = entries[:size]
    rows = [Row(e, _preview(e.error_masked), _preview(e.payload_masked)) for e in entries]
    nxt = (entries[-1].archived_score, entries[-1].pk) if more and entries else None
    return rows, nxt


def count(queue_name, f: VaultFilter | None, cap=COUNT_CAP):
    """(matches, capped): counted up to ``cap`` so a broad search stays fast."""
    n = matching(queue_name, f).order_by()[: cap + 1].count()
    return min(n, cap), n > cap


def status_counts(queue_name):
    rows = VaultEntry.objects.filter(queue=queue_name).order_by().values("status").annotate(n=Count("id"))
    out = dict.fromkeys(STATUS_NAMES, 0)
    out.update({r["status"]: r["n"] for r in rows})
    return out


@dataclass(frozen=True)
class Summary:
    captured: int
    lost: int
    lag_seconds: float
    last_pass_at: object
    last_loss: VaultLoss | None


def _storable(name):
    """The vault keeps queue names as text: a name Postgres text cannot hold (NUL, bytes
    that are not UTF-8) has nothing in the vault (its capture is skipped and logged)."""
    return "\x00" not in name and names.display(name) == name


# Read by every queue page: compiled once per process.
_CURSOR = Prepared(lambda queue: VaultCursor.objects.filter(queue=queue)[:1], "prepared:vault-queue")
_LATEST_LOSS = Prepared(lambda queue: VaultLoss.objects.filter(queue=queue)[:1], "prepared:vault-queue")


def summary(queue_name):
    if not _storable(queue_name):
        return Summary(0, 0, 0.0, None, None)
    cur = _CURSOR.first(queue_name)
    if cur is None:
        return Summary(0, 0, 0.0, None, None)
    return Summary(cur.captured_total, cur.lost_total, cur.lag_seconds, cur.last_pass_at,
                   _LATEST_LOSS.first(queue_name))


def entry(queue_name, pk):
    if not _storable(queue_name):
        return None
    return VaultEntry.objects.filter(queue=queue_name, pk=pk).first()


def raw_msg(e: VaultEntry) -> bytes | None:
    """The decrypted msg, or None when purged or unreadable."""
    token = bytes(e.msg_encrypted or b"")
    if not token:
        return None
    try:
        return crypto.decrypt(token)
    except crypto.Unreadable:
        return None


def raw_task(e: VaultEntry):
    """The death as a TaskInfo (BrokenTask when purged, damaged or unreadable)."""
    return task_from_msg(raw_msg(e), e.queue, e.task_id, "archived")


def present(e: VaultEntry, *, reveal=False, limit=DETAIL_LIMIT):
    """The death as the task page shows a task: masked, or raw for a live reveal."""
    info = raw_task(e)
    masker = None if reveal else masker_for(e.queue, getattr(info, "type", "") or e.task_type)
    return present_task(info, masker, reveal=reveal, limit=limit)


def history(e: VaultEntry):
    """Every death of this task in this queue, oldest first, and what people did to it
    (audit events on this queue and task id)."""
    from dlqadmin.audit.models import AuditEvent

    deaths = list(VaultEntry.objects.filter(queue=e.queue, task_id=e.task_id)
                  .defer("msg_encrypted", "payload_json").order_by("archived_score", "id"))
    events = list(AuditEvent.objects.filter(queue=e.queue, task_id=e.task_id)
                  .exclude(outcome="intent").order_by("seq")
                  .values("seq", "created_at", "actor_name", "action", "outcome", "message")[:200])
    timeline = [("death", d.archived_at, d) for d in deaths] + [("event", ev["created_at"], ev) for ev in events]
    timeline.sort(key=lambda item: (item[1], 0 if item[0] == "death" else 1))
    return deaths, timeline


def top_reasons(queue_name, limit=10):
    """The most frequent (masked) failure reasons over the whole vaulted history:
    task type and the error's first line with digits folded, biggest first."""
    reason = RawSQL("regexp_replace(left(split_part(error_masked, E'\\n', 1), 200), '[0-9]+', '<n>', 'g')", [])
    return list(VaultEntry.objects.filter(queue=queue_name).order_by()
                .annotate(reason=reason).values("task_type", "reason")
                .annotate(n=Count("id"), first=Min("archived_at"), last=Max("archived_at"))
                .order_by("-n")[:limit])


__all__ = ["VaultFilter", "BadFilter", "matching", "page", "count", "status_counts", "summary", "entry",
           "raw_task", "present", "history", "top_reasons", "LIST_LIMIT"]
