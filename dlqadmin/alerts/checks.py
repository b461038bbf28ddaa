"""One check round: sample every queue, evaluate policies, drive the state machine,
write notifications to the outbox (same transaction), then deliver the outbox.

Cost for N queues: one SMEMBERS + one pipelined Redis round trip (queue stats, no
memory sampling), one pipelined ZRANGE round trip for the oldest dead task of queues
that have any, one multi-row INSERT of samples, one growth query, one query for the
current alert states, and writes only for states that changed or fire.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from dlqadmin.core import clock

from dlqadmin.access import registry
from dlqadmin.asynq import keys
from dlqadmin.core import names as qnames
from dlqadmin.core.asynq_client import client as asynq_client
from dlqadmin.core.asynq_client import inspector as asynq_inspector
from dlqadmin.policies.selectors import Resolver, channels_for
from dlqadmin.policies.services import sync_env_channel

from . import notifications, outbox
from .models import OK, AlertEvent, AlertState, OutboxMessage, QueueSample
from .rules import evaluate, step

log = logging.getLogger(__name__)
ROUND_LOCK_KEY = 0x646C_7161_0001  # 'dlqa' + 1: one check round at a time


@dataclass
class RoundResult:
    queues: int = 0
    damaged: int = 0  # queues skipped: a key of the wrong type (their alerts hold as they were)
    failed: int = 0  # queues whose evaluation raised (logged; the round went on)
    evaluated: int = 0
    changed: int = 0
    queued: int = 0
    delivered: dict = field(default_factory=dict)
    timings_ms: dict = field(default_factory=dict)


def growth_baselines(queues_by_window, now):
    """{queue key: archived count at the oldest sample within its policy's window}."""
    out = {}
    with connection.cursor() as cur:
        for minutes, queue_keys in queues_by_window.items():
            if not queue_keys:
                continue
            cur.execute(
                "SELECT q.k, s.archived FROM unnest(%s::text[]) AS q(k) CROSS JOIN LATERAL ("
                " SELECT archived FROM alerts_queuesample WHERE queue_key = q.k AND at >= %s AND at < %s"
                " ORDER BY at LIMIT 1) s",
                [queue_keys, now - timedelta(minutes=minutes), now],
            )
            out.update(cur.fetchall())
    return out


SAMPLE_COLUMNS = ("pending", "active", "scheduled", "retry", "archived", "completed", "latency_seconds")


def _insert_samples(samples, key_of, now):
    """COPY the round's samples (a Django bulk_create of 1,000 rows costs ~30 ms of Python)."""
    with connection.cursor() as cur:
        columns = f"queue, queue_key, at, {', '.join(SAMPLE_COLUMNS)}"
        with cur.copy(f"COPY alerts_queuesample ({columns}) FROM STDIN") as copy:
            for q, s in samples.items():
                copy.write_row((qnames.display(q), key_of[q], now, *(s[c] for c in SAMPLE_COLUMNS)))


# The oldest dead task only changes when dead tasks are removed, and the age rule works
# in days: re-read each queue's oldest score at most every AGE_CACHE_SECONDS.
AGE_CACHE_SECONDS = 300
_oldest_score_cache = {}


def oldest_dead_ages(client, queues, now):
    """{queue: age in days of its oldest dead task} (asynq scores archived tasks by the
    time they died). One pipelined round trip."""
    if not queues:
        return {}
    ts = now.timestamp()
    stale = [q for q in queues if ts - _oldest_score_cache.get(q, (None, -1e18))[1] > AGE_CACHE_SECONDS]
    if stale:
        pipe = client.pipeline(transaction=False)
        for q in stale:
            pipe.zrange(keys.archived(q), 0, 0, withscores=True)
        # A key turned to the wrong type since the stats read costs that queue its age only.
        for q, res in zip(stale, pipe.execute(raise_on_error=False)):
            if isinstance(res, Exception):
                log.warning("check round: oldest dead task of %s unreadable: %s", qnames.display(q)[:200], res)
                res = None
            _oldest_score_cache[q] = (res[0][1] if res else None, ts)
    ages = {}
    for q in queues:
        score = _oldest_score_cache.get(q, (None, 0))[0]
        if score is not None:
            ages[q] = max(0.0, (ts - score) / 86400.0)
    return ages


def run_round(*, now=None, infos=None, inspector=None, client=None, last_evaluated=None, deliver=True):
    """One round. `infos` (QueueInfo-like objects) replaces reading Redis (tests, bench);
    `last_evaluated` ({policy name: datetime}, kept by the scheduler) skips policies whose
    check interval has not elapsed; None evaluates every policy."""
    t0 = time.perf_counter()
    now = now or clock.now()
    result = RoundResult()
    read_redis = infos is None
    reasons_from = inspector if inspector is not None else (asynq_inspector() if read_redis else None)
    inspector = inspector or (reasons_from if read_redis else None)
    if read_redis:
        infos = inspector.all_queue_info(memory_usage=False)
    t_read = time.perf_counter()
    result.queues = len(infos)
    damaged = [i for i in infos if getattr(i, "problem", "")]
    if damaged:
        # A damaged queue is skipped (its alerts hold where they were), never the round.
        result.damaged = len(damaged)
        log.warning("check round: %d damaged queue(s) skipped: %s", len(damaged),
                    "; ".join(f"{qnames.display(i.queue)[:100]}: {i.problem}" for i in damaged[:5]))
        infos = [i for i in infos if not getattr(i, "problem", "")]

    with transaction.atomic():
        # Rounds serialise on a transaction-level advisory lock: two rounds (a scheduler
        # and a `check_dlq --once`, or a leader that lost its lock mid-round) never
        # evaluate the same states concurrently, so a transition is notified once.
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [ROUND_LOCK_KEY])
        _evaluate_and_write(result, now, infos, read_redis, reasons_from, client, last_evaluated,
                            held={qnames.key(i.queue) for i in damaged})
    t_write = time.perf_counter()
    if deliver and result.queued:
        result.delivered = outbox.deliver(now=now)
    t_end = time.perf_counter()
    result.timings_ms = {
        "read": (t_read - t0) * 1000, "evaluate_write": (t_write - t_read) * 1000,
        "deliver": (t_end - t_write) * 1000, "total": (t_end - t0) * 1000,
    }
    return result


def _evaluate_and_write(result, now, infos, read_redis, reasons_from, client, last_evaluated, held=frozenset()):
    """`held`: keys of queues skipped this round (damaged): their states stay as they are."""
    sync_env_channel()
    resolver = Resolver.load()
    samples = {
        i.queue: {"pending": i.pending, "active": i.active, "scheduled": i.scheduled, "retry": i.retry,
                  "archived": i.archived, "completed": i.completed,
                  "latency_seconds": i.latency.total_seconds()}
        for i in infos
    }
    # Queues are any bytes: rows are keyed by the sha256 of the name (core/names.py).
    key_of = {q: qnames.key(q) for q in samples}
    if read_redis:
        registry.sync(samples)  # so the short '~h<key>' URLs in notifications resolve
    policy_of = resolver.resolve_all(samples)

    due = {}
    for q, p in policy_of.items():
        if p.name not in due:
            last = None if last_evaluated is None else last_evaluated.get(p.name)
            due[p.name] = last is None or now - last >= timedelta(seconds=p.check_interval_seconds) - timedelta(seconds=1)
    by_window = {}
    for q, p in policy_of.items():
        if due[p.name] and p.enabled and p.growth_threshold:
            by_window.setdefault(p.growth_window_minutes, []).append(key_of[q])
    baseline = growth_baselines(by_window, now)
    age_queues = [q for q, p in policy_of.items()
                  if due[p.name] and p.enabled and p.archive_age_warning_days and samples[q]["archived"]]
    ages = oldest_dead_ages(client or asynq_client(), age_queues, now) if (read_redis or client) else {}

    existing = {(s.policy_name, s.queue_key, s.rule): s for s in AlertState.objects.all()}
    rules_of = {}
    for pname, qk, rule in existing:
        rules_of.setdefault((pname, qk), set()).add(rule)
    to_create, to_update, events, notify = [], [], [], []
    evaluated_policies = set()
    seen = {key for key in existing if key[1] in held}
    for q, p in policy_of.items():
        qk = key_of[q]
        if not due[p.name]:
            seen.update((p.name, qk, rule) for rule in rules_of.get((p.name, qk), ()))  # not due yet
            continue
        evaluated_policies.add(p.name)
        result.evaluated += 1
        try:
            _evaluate_queue(q, qk, p, samples[q], baseline, ages, existing, rules_of, seen, now, result,
                            to_create, to_update, events, notify)
        except Exception:  # noqa: BLE001 - one queue costs its own row, never the round
            result.failed += 1
            seen.update((p.name, qk, rule) for rule in rules_of.get((p.name, qk), ()))
            log.exception("check round: queue %s could not be evaluated", qnames.display(q)[:200])
    # States of a policy that no longer governs its queue (or a vanished queue) close quietly.
    for key, st in existing.items():
        if key not in seen and st.status not in (OK, "resolved"):
            events.append(AlertEvent(policy_name=st.policy_name, queue=st.queue, queue_key=st.queue_key,
                                     rule=st.rule, from_status=st.status, to_status=OK, value=st.value,
                                     threshold=st.threshold, at=now))
            st.status, st.since, st.last_checked_at = OK, now, now
            to_update.append(st)

    reasons_cache = {}
    messages = []
    for q, p, st, kind, s, growth in notify:
        targets = [ch for ch in channels_for(p) if ch.enabled]
        if not targets:
            continue
        if st.rule in ("dlq_size", "dlq_growth", "archive_cap") and kind != "resolve":
            if q not in reasons_cache:
                reasons_cache[q] = (notifications.top_failure_reasons(reasons_from, q, s["archived"])
                                    if reasons_from is not None else [])
            reasons = reasons_cache[q]
        else:
            reasons = []
        payload = notifications.build(policy=p, state=st, decision_notify=kind, sample=s, growth=growth,
                                      reasons=reasons, now=now, queue_name=q)
        for ch in targets:
            messages.append(OutboxMessage(channel=ch, payload=payload, dedup_key=st.dedup_key, next_attempt_at=now))
    _insert_samples(samples, key_of, now)
    if to_create:
        AlertState.objects.bulk_create(to_create)
    if to_update:  # executemany: psycopg pipelines it (bulk_update's CASE expressions are slow)
        with connection.cursor() as cur:
            cur.executemany(
                "UPDATE alerts_alertstate SET status=%s, since=%s, value=%s, threshold=%s, last_checked_at=%s,"
                " last_notified_at=%s, last_notified_status=%s WHERE id=%s",
                [(st.status, st.since, st.value, st.threshold, st.last_checked_at, st.last_notified_at,
                  st.last_notified_status, st.pk) for st in to_update])
    if events:
        AlertEvent.objects.bulk_create(events)
    if messages:
        OutboxMessage.objects.bulk_create(messages)
    QueueSample.objects.filter(at__lt=now - timedelta(days=settings.DLQADMIN_SAMPLE_RETENTION_DAYS)).delete()
    result.queued = len(messages)
    if last_evaluated is not None:
        for name in evaluated_policies:
            last_evaluated[name] = now


def _evaluate_queue(q, qk, p, s, baseline, ages, existing, rules_of, seen, now, result,
                    to_create, to_update, events, notify):
    """One queue under its policy: drive its states, collect writes and notifications."""
    growth = max(0, s["archived"] - baseline[qk]) if qk in baseline else None
    findings = evaluate(p, archived=s["archived"], pending=s["pending"], latency_seconds=s["latency_seconds"],
                        growth=growth, oldest_dead_age_days=ages.get(q)) if p.enabled else []
    levels = {f.rule: f for f in findings}
    rules_here = set(levels) | rules_of.get((p.name, qk), set())
    for rule in rules_here:
        key = (p.name, qk, rule)
        seen.add(key)
        f = levels.get(rule)
        level = f.level if f else OK
        st = existing.get(key)
        if st is None:
            if level == OK:
                continue
            st = AlertState(policy_name=p.name, queue=qnames.display(q), queue_key=qk, rule=rule, status=OK,
                            since=now, last_checked_at=now)
            to_create.append(st)
        elif st.status == OK and level == OK:
            continue
        d = step(st.status, level, now=now, last_notified_at=st.last_notified_at,
                 repeat=timedelta(minutes=p.repeat_interval_minutes), send_resolved=p.send_resolved)
        if not d.changed and d.notify is None and level == OK:
            continue
        prev = st.status
        dirty = bool(d.changed or d.notify)
        if f is not None and (st.value != f.value or st.threshold != f.threshold):
            st.value, st.threshold, dirty = f.value, f.threshold, True
        if not dirty:
            continue  # unchanged: no write (last_checked_at is only advanced with a write)
        st.last_checked_at = now
        if d.changed:
            st.status, st.since = d.status, now
            result.changed += 1
        if d.notify:
            st.last_notified_at, st.last_notified_status = now, d.status
            notify.append((q, p, st, d.notify, s, growth))
        if d.changed:
            events.append(AlertEvent(policy_name=p.name, queue=st.queue, queue_key=qk, rule=rule, from_status=prev,
                                     to_status=d.status, value=st.value, threshold=st.threshold, at=now,
                                     notified=bool(d.notify)))
        if st.pk:
            to_update.append(st)
