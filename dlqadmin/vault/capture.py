"""The capture loop: copy every task that enters a queue's archived set into Postgres,
keep each captured row's status current, and count what asynq trimmed first.

Run by the scheduler's leader every DLQADMIN_VAULT_POLL_SECONDS (and by
``manage.py run_vault --once``). For each queue whose policy enables the vault:

1. **Forward.** From the queue's cursor, a (score, member) pair in the archived set's
   own order, read the next chunk (``asynq.vault.VaultClient.scan``: one bounded Lua
   call), encrypt and mask each msg and insert the rows, then move the cursor, all in
   one Postgres transaction that holds the cursor row's lock (two capturers never
   interleave on a queue). Repeat until caught up or the pass's time is up.
   Equal scores are ordered by member, so the cursor never skips or repeats a task of
   the same second; a task that left and came back was archived again later, so it
   sorts after the cursor and is captured as a new death.
2. **Look back.** Tasks archived into a second the cursor already passed (asynq
   servers whose clocks differ a little) are found by re-listing the ids of the last
   DLQADMIN_VAULT_LOOKBACK_SECONDS before the cursor (ids only, paged) and capturing
   those not in the vault.
3. **Statuses.** Rows still ``in_asynq`` older than the set's first member are gone;
   the others are checked in a rolling sweep of bounded batches. Each is classified
   by ``vault_status.lua``: still there, trimmed by asynq (gone with its hash from
   where asynq trims, or an orphaned hash), or left (retried, deleted or moved).
4. **Loss.** When the set's head has passed the cursor while the set is at asynq's cap
   (or the cursor is past asynq's 90-day limit), the members that were after the
   cursor at the previous scan and are gone now were trimmed before capture: counted
   on the cursor, stored as a VaultLoss and notified as a critical alert through the
   policy's channels. If even the previous scan's last member is gone, tasks that
   arrived and vanished in between were never seen: the count is then a lower bound
   (marked so). At asynq's cap of 9,999 that needs more deaths between two passes
   (about a second apart) than the cap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import timedelta
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from psycopg.types.json import Jsonb

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is pinned in requirements.txt
    _orjson = None

from dlqadmin.asynq import keys, messages
from dlqadmin.asynq.errors import MessageDecodeError
from dlqadmin.asynq.vault import Position, VaultClient, Where
from dlqadmin.core import clock
from dlqadmin.core.asynq_client import client as asynq_client
from dlqadmin.masking.selectors import masker_lookup

from . import crypto
from .models import IN_ASYNQ, LEFT, TRIMMED, VaultCursor, VaultEntry, VaultLoss

log = logging.getLogger("dlqadmin.vault")

ARCHIVE_CAP = 9_999  # asynq keeps at most this many archived tasks per queue
ARCHIVE_MAX_AGE_DAYS = 90
PREVIEW_CHARS = 2_000  # masked payload kept for search
ERROR_CHARS = 4_000
JSON_MAX_BYTES = 8 * 1024  # masked JSON kept for field=value search
# Bounded Redis calls per Postgres transaction (a commit costs more than a scan call).
CALLS_PER_TRANSACTION = 5
TRANSACTION_BYTES = 1 << 20  # msgs held for one transaction's insert (a huge msg comes alone)
STATUS_BATCH = 25  # tasks per vault_status call (500 took up to 9 ms on a busy host, 100 up to 7 ms, 50 once 5.7 ms on a quiet one)
GONE_PER_PASS = 5_000
SWEEP_PER_PASS = 500  # rows of the rolling sweep per pass
LOOKBACK_PAGE = 250  # ids per look-back call (1,000 took up to 5.3 ms on a busy host)
LOOKBACK_MAX = 20_000
MEMO_MAX = 20_000  # masked texts kept per capture_queue (see _Memo)

_COLUMNS = ("queue", "task_id", "task_member", "task_type", "archived_score", "archived_at", "retried",
            "max_retry", "error_masked", "payload_masked", "payload_json", "size", "sha256", "msg_encrypted",
            "damaged", "status", "status_changed_at", "left_state", "captured_at")
# Their Postgres types, for COPY in binary format (a third of the client CPU of text
# COPY per row: no escaping of the encrypted bytes, no timestamp formatting).
_COPY_TYPES = ("text", "text", "bytea", "text", "float8", "timestamptz", "int4", "int4", "text", "text", "jsonb",
               "int4", "varchar", "bytea", "varchar", "varchar", "timestamptz", "varchar", "timestamptz")


@dataclass
class QueueResult:
    queue: str
    captured: int = 0
    lost: int = 0
    status_changes: dict = field(default_factory=dict)
    behind: int = 0
    calls: int = 0


@dataclass
class PassResult:
    queues: list[QueueResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def captured(self):
        return sum(q.captured for q in self.queues)

    @property
    def lost(self):
        return sum(q.lost for q in self.queues)


def vault_client():
    return VaultClient(asynq_client(), now=clock.now)


def enabled_queues(names):
    """The queues among ``names`` whose policy enables the vault, with that policy."""
    from dlqadmin.policies.selectors import Resolver

    resolver = Resolver.load()
    policy_of = resolver.resolve_all(list(names))
    return {q: p for q, p in policy_of.items() if p.vault_enabled}


def capture_pass(*, max_seconds=5.0, vc=None, queues=None) -> PassResult:
    """One pass over every vault-enabled queue (or ``queues``)."""
    began = time.monotonic()
    vc = vc or vault_client()
    names = queues if queues is not None else [keys.decode_name(n) for n in vc.client.smembers(keys.ALL_QUEUES)]
    policies = enabled_queues(sorted(names))
    result = PassResult()
    share = max_seconds / max(1, len(policies))
    for queue, policy in policies.items():
        try:
            result.queues.append(capture_queue(queue, policy, vc=vc, max_seconds=max(share, 0.2)))
        except Exception:  # noqa: BLE001 - one damaged queue must not stop the others
            log.exception("vault capture of queue %r failed", queue)
    result.seconds = time.monotonic() - began
    return result


def _cursor(queue):
    return VaultCursor.objects.select_for_update().get(queue=queue)


def _pos(score, member):
    return None if score is None or member is None else Position(score, bytes(member))


# When each queue's statuses were last refreshed in this process: a queue whose capture
# is behind skips the refresh (capture first) for at most this long. Only pacing, not
# correctness: another process simply refreshes on its own schedule.
REFRESH_AT_LEAST_EVERY = 10.0
_refreshed: dict = {}


def capture_queue(queue, policy=None, *, vc=None, max_seconds=1.0) -> QueueResult:
    vc = vc or vault_client()
    began = time.monotonic()
    out = QueueResult(queue)
    lookup = masker_lookup(queue)
    memo = _Memo()
    head = None
    VaultCursor.objects.get_or_create(queue=queue)
    while True:
        with transaction.atomic():
            # A commit lost in a Postgres crash takes the cursor with it, so those tasks
            # are simply read again from Redis: no need to wait for the WAL flush.
            with connection.cursor() as c:
                c.execute("SET LOCAL synchronous_commit TO OFF")
            cur = _cursor(queue)
            lost_here, tasks, size = [], [], 0
            for _ in range(CALLS_PER_TRANSACTION):
                position = _pos(cur.score, cur.member)
                prev_tail = _pos(cur.tail_score, cur.tail_member)
                chunk = vc.scan(queue, position, prev_tail)
                out.calls += 1
                now = clock.now()
                head = chunk.head
                lost, loss_detail = _loss(cur, chunk, position, prev_tail, now)
                tasks += [(t.member, t.score, t.msg, t.state) for t in chunk.tasks]
                size += sum(len(t.msg or b"") for t in chunk.tasks)
                last = chunk.last
                if last is not None:
                    cur.score, cur.member = last.score, last.member
                cur.tail_score = chunk.tail.score if chunk.tail else None
                cur.tail_member = chunk.tail.member if chunk.tail else None
                cur.behind = chunk.behind
                cur.last_pass_at = now
                cur.lag_seconds = max(0.0, now.timestamp() - cur.score) if chunk.behind and cur.score else 0.0
                if lost:
                    cur.lost_total += lost
                    cur.last_loss_at = now
                    VaultLoss.objects.create(queue=queue, at=now, count=lost, detail=loss_detail)
                    lost_here.append((lost, loss_detail, now))
                out.lost += lost
                out.behind = chunk.behind
                if not chunk.behind or size >= TRANSACTION_BYTES:
                    break
            # The transaction's chunks in one COPY and one INSERT (fewer round trips).
            inserted = _insert(queue, tasks, lookup, clock.now(), memo)
            cur.captured_total += inserted
            out.captured += inserted
            cur.save()
        for lost, loss_detail, at in lost_here:
            _alert_loss(queue, policy, lost, loss_detail, at)
        if not chunk.behind or time.monotonic() - began >= max_seconds:
            break
    # Capture first: statuses and the look-back wait while this queue is behind.
    if not out.behind or time.monotonic() - _refreshed.get(queue, 0.0) >= REFRESH_AT_LEAST_EVERY:
        _refreshed[queue] = time.monotonic()
        out.captured += _look_back(queue, vc, lookup)
        out.status_changes = refresh_statuses(queue, vc=vc, head=head, all_gone=head is None)
    return out


def _loss(cur, chunk, position, prev_tail, now):
    """How many deaths asynq trimmed before this queue's capture reached them."""
    if position is None or chunk.start != 0:
        return 0, {}
    at_cap = chunk.zcard >= ARCHIVE_CAP
    past_age = position.score <= now.timestamp() - ARCHIVE_MAX_AGE_DAYS * 86400
    if not (at_cap or past_age) or chunk.head is None:
        return 0, {}
    survivors = max(0, chunk.kept - chunk.start) if chunk.kept >= 0 else 0
    lost = max(0, cur.behind - survivors)
    detail = {"exact": True, "behind_before": cur.behind, "survivors": survivors,
              "cursor_score": position.score, "head_score": chunk.head.score}
    if prev_tail is not None and chunk.kept == 0 and (chunk.head.score, chunk.head.member) > (
            prev_tail.score, prev_tail.member):
        # Even the last task seen then is gone: tasks that arrived after it may have
        # come and gone unseen too. Their number is unknown: count at least one.
        lost = max(lost, 1)
        detail.update(exact=False, at_least=True)
    return lost, detail


def _decode_parts(msg):
    """(type, retried, max_retry, error, payload, damaged) of a msg."""
    if msg is None:
        return "", 0, 0, "", None, "no task hash or msg"
    try:
        m = messages.parse_task_message(msg)
    except MessageDecodeError as exc:
        return "", 0, 0, "", None, f"msg undecodable: {str(exc)[:150]}"
    return m.type, m.retried, m.retry, m.error_msg, m.payload or None, ""


class _Memo:
    """Masked texts of one queue's capture, reused while errors and payloads repeat
    (a failing dependency gives thousands of deaths the same error text).

    Keyed by the masker itself (one rule set: a queue and task type's rules) and the
    sha256 of the text, so a value masked under one queue's or type's rules is never
    served for another's. Lives for one ``capture_queue`` (one ``masker_lookup``) and
    holds at most ``MEMO_MAX`` values."""

    __slots__ = ("values",)

    def __init__(self):
        self.values = {}

    def get(self, masker, kind, raw: bytes, compute):
        key = (masker, kind, hashlib.sha256(raw).digest())
        hit = self.values.get(key)
        if hit is None:
            if len(self.values) >= MEMO_MAX:
                self.values.clear()
            hit = self.values[key] = compute()
        return hit


def _masked_error(masker, error: str) -> str:
    return _pg_text(masker.mask_text(error, limit=ERROR_CHARS).text)


def _masked_payload(masker, payload: bytes):
    """(masked preview, masked JSON for field search or None). The JSON goes to
    Postgres as the masker's own text (Postgres parses it into jsonb: no parse and
    dump here) when orjson and Postgres surely agree on it: strict JSON, valid UTF-8
    and no escapes; otherwise it is parsed and dumped again, and dropped if Postgres
    could not hold it (a NUL, a lone surrogate, NaN or Infinity): one hostile payload
    must not stop a queue's capture."""
    small = len(payload) <= JSON_MAX_BYTES
    value = masker.mask_payload(payload, limit=None if small else PREVIEW_CHARS)
    preview = _pg_text(value.text[:PREVIEW_CHARS])
    if not (small and value.kind == "json"):
        return preview, None
    text = value.text
    if _orjson is not None and "\\u" not in text and "\x00" not in text:
        try:
            return preview, Jsonb(text, dumps=_as_is) if _orjson.loads(text.encode("utf-8")) is not None else None
        except ValueError:
            pass
    try:
        doc = json.loads(text)
        if doc is None:
            return preview, None
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")  # a lone surrogate raises
    except (ValueError, RecursionError):
        return preview, None
    return preview, None if "\\u0000" in text else Jsonb(text, dumps=_as_is)


def _as_is(text: str) -> str:
    return text


def _rows(queue, tasks, lookup, now, memo=None, encrypt=None) -> list[tuple]:
    """The rows (in ``_COLUMNS`` order) of some (member, score, msg, state). Step by
    step over the whole chunk rather than task by task: each step's code and data stay
    in the CPU's caches (about a fifth less CPU per task than row by row)."""
    memo = memo or _Memo()
    encrypt = encrypt or crypto.encryptor()
    parts = [_decode_parts(msg) for _, _, msg, _ in tasks]
    maskers = [lookup(p[0]) for p in parts]
    errors = [memo.get(masker, "e", p[3].encode("utf-8", "surrogatepass"), lambda: _masked_error(masker, p[3]))
              if p[3] else "" for masker, p in zip(maskers, parts)]
    payloads = [memo.get(masker, "p", p[4], lambda: _masked_payload(masker, p[4]))
                if p[4] is not None else ("", None) for masker, p in zip(maskers, parts)]
    raws = [msg or b"" for _, _, msg, _ in tasks]
    tokens = [encrypt(raw) for raw in raws]
    digests = [hashlib.sha256(raw).hexdigest() for raw in raws]
    return [
        (queue, _pg_text(keys.decode_name(member)), member, _pg_text(task_type), score, _aware(score), retried,
         max_retry, error, preview, payload_json, len(raw), digest, token, _pg_text(damaged), IN_ASYNQ, now, "", now)
        for (member, score, _, _), (task_type, retried, max_retry, _, _, damaged), error, (preview, payload_json),
        raw, token, digest in zip(tasks, parts, errors, payloads, raws, tokens, digests)
    ]


def _pg_text(s: str) -> str:
    # Postgres text holds no NUL; lone surrogates cannot be encoded at all.
    if s.isascii() and "\x00" not in s:
        return s
    return s.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _aware(score):
    import datetime as dt

    try:
        return dt.datetime.fromtimestamp(score, dt.UTC)
    except (OverflowError, ValueError, OSError):
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _insert(queue, tasks, lookup, now, memo=None) -> int:
    """Insert one row per (member, score, msg, state); deaths already vaulted are
    skipped (the unique constraint). Returns the rows inserted."""
    if not tasks:
        return 0
    rows = _rows(queue, tasks, lookup, now, memo)
    cols = ", ".join(_COLUMNS)
    # COPY into a per-connection staging table, then one INSERT .. SELECT that skips
    # deaths already vaulted: a multi-row VALUES of this size costs more to build
    # than to run.
    with connection.cursor() as cur:
        # One round trip: the staging table exists per connection, rolled back with it, and
        # is empty unless this runs inside an outer transaction.
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS vault_incoming ON COMMIT DELETE ROWS AS "
                    f"SELECT {cols} FROM vault_vaultentry WITH NO DATA; DELETE FROM vault_incoming")
        with cur.copy(f"COPY vault_incoming ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row(row)
        cur.execute(f"INSERT INTO vault_vaultentry ({cols}) SELECT {cols} FROM vault_incoming "
                    "ON CONFLICT ON CONSTRAINT vault_one_death DO NOTHING")
        return cur.rowcount


def _look_back(queue, vc, lookup) -> int:
    """Capture tasks archived late into seconds the cursor already passed."""
    seconds = settings.DLQADMIN_VAULT_LOOKBACK_SECONDS
    cur = VaultCursor.objects.filter(queue=queue).values("score", "member").first()
    if not cur or cur["score"] is None or seconds <= 0:
        return 0
    high, at = cur["score"], (cur["score"], bytes(cur["member"]))
    low = high - seconds
    members, offset = [], 0
    while offset < LOOKBACK_MAX:
        page = vc.range_members(queue, low, high, offset=offset, count=LOOKBACK_PAGE)
        members.extend(page)
        if len(page) < LOOKBACK_PAGE:
            break
        offset += LOOKBACK_PAGE
    if not members:
        return 0
    known = set(
        (bytes(m), s) for m, s in VaultEntry.objects.filter(
            queue=queue, status=IN_ASYNQ, archived_score__gte=low, archived_score__lte=high,
        ).values_list("task_member", "archived_score")
    )
    # Only what sorts before the cursor: what follows it is the forward scan's.
    missing = [(m, s) for m, s in members if (s, m) < at and (m, s) not in known]
    if not missing:
        return 0
    inserted = 0
    now = clock.now()
    for start in range(0, len(missing), 200):
        batch = missing[start:start + 200]
        read = vc.read(queue, [m for m, _ in batch])
        tasks = [(m, s, msg, state) for (m, s), (msg, state) in zip(batch, read)
                 if msg is not None and state == "archived"]
        with transaction.atomic():
            n = _insert(queue, tasks, lookup, now)
            if n:
                VaultCursor.objects.filter(queue=queue).update(captured_total=F("captured_total") + n)
        inserted += n
    return inserted


_WHERE_STATUS = {Where.IN_ASYNQ: IN_ASYNQ, Where.LEFT: LEFT, Where.TRIMMED: TRIMMED,
                 Where.TRIMMED_ORPHAN: TRIMMED, Where.DELETED: LEFT, Where.DAMAGED: LEFT}


def _classify(queue, vc, rows, now):
    """rows: [(id, member, score)] -> {status: count} after updating changed rows."""
    cutoff = now.timestamp() - ARCHIVE_MAX_AGE_DAYS * 86400
    changes, groups = {}, {}
    for start in range(0, len(rows), STATUS_BATCH):
        batch = rows[start:start + STATUS_BATCH]
        found = vc.status(queue, [(bytes(m), s) for _, m, s in batch], cutoff)
        for (pk, _, _), where in zip(batch, found):
            status = _WHERE_STATUS[where.where]
            if status == IN_ASYNQ:
                continue
            left_state = where.state or ("deleted" if where.where is Where.DELETED else "")
            if where.where is Where.DAMAGED:
                left_state = "damaged"
            groups.setdefault((status, left_state[:32]), []).append(pk)
            changes[status] = changes.get(status, 0) + 1
    # One UPDATE per (status, seen state) for all the batches (the rows are mostly one
    # group), the ids as one array parameter: an IN list of thousands of placeholders
    # costs more to build than the update.
    table = VaultEntry._meta.db_table
    with connection.cursor() as c:
        for (status, left_state), pks in groups.items():
            c.execute(f"UPDATE {table} SET status = %s, status_changed_at = %s, left_state = %s "
                      "WHERE id = ANY(%s) AND status = %s", [status, now, left_state, pks, IN_ASYNQ])
    return changes


def refresh_statuses(queue, *, vc=None, head=None, all_gone=False, now=None):
    """Bring the ``in_asynq`` rows of ``queue`` up to date (bounded work per call)."""
    vc = vc or vault_client()
    now = now or clock.now()
    base = VaultEntry.objects.filter(queue=queue, status=IN_ASYNQ)
    changes = {}
    # Older than the set's first member (or the set is empty): surely gone; ask why.
    gone = base if all_gone else base.filter(archived_score__lt=head.score) if head else base.none()
    rows = list(gone.order_by("archived_score").values_list("id", "task_member", "archived_score")[:GONE_PER_PASS])
    for k, v in _classify(queue, vc, rows, now).items():
        changes[k] = changes.get(k, 0) + v
    # The rolling sweep: tasks retried or deleted from the middle of the set.
    cur = VaultCursor.objects.filter(queue=queue).values("sweep_after").first()
    after = cur["sweep_after"] if cur else 0
    rows = list(base.filter(id__gt=after).order_by("id").values_list("id", "task_member", "archived_score")
                [:SWEEP_PER_PASS])
    for k, v in _classify(queue, vc, rows, now).items():
        changes[k] = changes.get(k, 0) + v
    VaultCursor.objects.filter(queue=queue).update(
        sweep_after=rows[-1][0] if len(rows) == SWEEP_PER_PASS else 0)
    return changes


def _alert_loss(queue, policy, lost, detail, now):
    """A critical notification through the policy's channels (via the outbox)."""
    from dlqadmin.alerts import outbox
    from dlqadmin.alerts.models import CRITICAL, OK, AlertEvent, OutboxMessage
    from dlqadmin.alerts.notifications import queue_url
    from dlqadmin.policies.selectors import channels_for, resolve

    policy = policy or resolve(queue)
    dedup = f"dlqadmin:{policy.name}:{queue}:vault_loss"
    # Every loss is counted and shown at once; a notification goes out at most once per
    # repeat interval per queue (a capture that keeps falling behind would flood the channel).
    since = now - timedelta(minutes=policy.repeat_interval_minutes)
    if AlertEvent.objects.filter(queue=queue, rule="vault_loss", notified=True, at__gt=since).exists():
        log.error("vault: %d more dead tasks of queue %r trimmed before capture (notified recently)", lost, queue)
        return
    payload = {
        "event": "trigger", "kind": "trigger", "severity": CRITICAL, "policy": policy.name, "queue": queue,
        "rule": "vault_loss", "rule_label": "Dead tasks trimmed by asynq before the vault captured them",
        "value": lost, "threshold": None, "dlq_size": None, "dlq_warning": policy.dlq_warning,
        "dlq_critical": policy.dlq_critical, "growth": None, "growth_window_minutes": None, "pending": None,
        "top_reasons": [], "queue_url": queue_url(queue), "runbook_url": policy.runbook_url,
        "dedup_key": dedup, "at": now.isoformat(), "estimated": not detail.get("exact", True),
        "lost_total": VaultCursor.objects.filter(queue=queue).values_list("lost_total", flat=True).first(),
    }
    with transaction.atomic():
        AlertEvent.objects.create(policy_name=policy.name, queue=queue, rule="vault_loss", from_status=OK,
                                  to_status=CRITICAL, value=lost, threshold=None, at=now, notified=True)
        ids = [OutboxMessage.objects.create(channel=ch, payload=payload, dedup_key=dedup, next_attempt_at=now).pk
               for ch in channels_for(policy) if ch.enabled]
    log.error("vault: %d dead tasks of queue %r were trimmed by asynq before capture", lost, queue)
    if ids:
        try:
            outbox.deliver(now=now, ids=ids)
        except Exception:  # noqa: BLE001 - the outbox retries; the loss is already recorded
            log.exception("vault loss notification not delivered yet")
