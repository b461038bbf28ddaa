"""Reads for the alert and policy pages: current alerts, history, charts, preview."""

from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, When

from dlqadmin.core import charts, clock

from dlqadmin.core import names as qnames
from dlqadmin.core.asynq_client import client as redis_client
from dlqadmin.core.asynq_client import inspector
from dlqadmin.core.prepared import server_cursor
from dlqadmin.policies import services as policy_services
from dlqadmin.policies.selectors import Resolver, builtin_default, channels_for, matching_queues

from .checks import growth_baselines, oldest_dead_ages
from .models import CRITICAL, WARNING, AlertEvent, AlertState, QueueSample
from .rules import LABELS, evaluate, shown

HISTORY_LIMIT = 200


def _by_key(queue_names):
    return {qnames.key(n): n for n in queue_names}


def current_alerts(queue_names):
    """Firing states on `queue_names`; each row's `name` is the queue as asynq holds it (links)."""
    names = _by_key(queue_names)
    critical_first = Case(When(status=CRITICAL, then=0), default=1, output_field=IntegerField())
    rows = AlertState.objects.filter(status__in=[WARNING, CRITICAL], queue_key__in=list(names)).order_by(
        critical_first, "queue", "rule")
    out = []
    for s in rows:
        s.name = names[s.queue_key]
        s.shown_value, s.shown_threshold = shown(s.rule, s.value), shown(s.rule, s.threshold)
        out.append((s, LABELS.get(s.rule, s.rule)))
    return out


def alert_history(queue_names, queue=None):
    names = _by_key(queue_names)
    qs = AlertEvent.objects.filter(queue_key__in=list(names))
    if queue:
        qs = qs.filter(queue_key=qnames.key(queue))
    out = []
    for e in qs[:HISTORY_LIMIT]:
        e.name = names[e.queue_key]
        out.append((e, LABELS.get(e.rule, e.rule)))
    return out


def policy_rows():
    """Policies in resolution order, each with the queues it governs now."""
    resolver = Resolver.load()
    names = inspector().queues()
    governed = {}
    for q, p in resolver.resolve_all(names).items():
        governed.setdefault(p.name, []).append(q)
    return [{"policy": p, "queues": governed.get(p.name, []), "channels": channels_for(p)} for p in resolver.policies]


def preview(query):
    """What a policy from the editor (unsaved) would match and fire right now."""
    raw = {k: query.get(k) for k in policy_services.FIELDS if k in query}
    raw["name"] = query.get("name") or "preview"
    for flag in ("enabled", "send_resolved"):
        raw[flag] = query.get(flag) in ("on", "true", "1")
    raw["channels"] = []
    try:
        data = policy_services.normalise(raw)
    except ValidationError as exc:
        return {"errors": exc.messages}
    policy = builtin_default()
    for f in policy_services.FIELDS:
        setattr(policy, f, data[f])
    policy.name = data["name"]
    policy.is_default = data["name"] == "default"
    infos = {i.queue: i for i in inspector().all_queue_info(memory_usage=False)}
    matched = sorted(infos) if policy.is_default else matching_queues(data["pattern"], list(infos))
    # Other policies can be more specific than this one for some of these queues.
    others = Resolver.load([p for p in Resolver.load().policies if p.name != policy.name and not p.is_default])
    # Growth and the oldest dead task's age as a check round reads them, so the preview shows
    # every alert the Alerts page would (not only size, backlog and latency).
    now = clock.now()
    readable = [q for q in matched if not infos[q].damaged]
    keys_of = {q: qnames.key(q) for q in readable}
    baseline = growth_baselines({policy.growth_window_minutes: list(keys_of.values())}, now) \
        if policy.growth_threshold else {}
    ages = oldest_dead_ages(redis_client(), readable, now) if policy.archive_age_warning_days else {}
    rows = []
    for q in matched:
        other = next((p for p, match in others.ordered if not p.is_default and match(q)), None)
        from dlqadmin.policies.selectors import specificity

        shadowed = other is not None and specificity(other) < specificity(policy)
        i = infos[q]
        qk = keys_of.get(q)
        growth = max(0, i.archived - baseline[qk]) if qk in baseline else None
        findings = evaluate(policy, archived=i.archived, pending=i.pending, latency_seconds=i.latency.total_seconds(),
                            growth=growth, oldest_dead_age_days=ages.get(q))
        firing = [(LABELS[f.rule], f, shown(f.rule, f.value), shown(f.rule, f.threshold)) for f in findings
                  if f.level != "ok"] if policy.enabled and not i.damaged else []
        firing.sort(key=lambda row: row[1].level != "critical")
        rows.append({"queue": q, "archived": i.archived, "pending": i.pending, "damaged": i.problem,
                     "shadowed_by": other.name if shadowed else "", "firing": firing})
    return {"errors": [], "rows": rows, "pattern": data["pattern"]}


def _thinned(points, most):
    """At most `most` points, keeping the last one (one per pixel column is enough)."""
    if len(points) <= most:
        return points
    step = len(points) / most
    return [points[int(i * step)] for i in range(most)] + [points[-1]]


def chart(queue, hours=24):
    """The DLQ size of `queue` over the last `hours` (one sample per check round), with the
    warning and critical thresholds of the policy governing it."""
    end = clock.now()
    start = end - timedelta(hours=hours)
    points = list(QueueSample.objects.filter(queue_key=qnames.key(queue), at__gte=start).order_by("at")
                  .values_list("at", "archived"))
    policy = Resolver.load().resolve(queue)
    thresholds = [(f"warning ({policy.dlq_warning})", "warning", policy.dlq_warning),
                  (f"critical ({policy.dlq_critical})", "critical", policy.dlq_critical)] if policy.enabled else []
    drawn = charts.time_chart([("dead tasks", "dlq", _thinned(points, 600))], start=start, end=end,
                              thresholds=thresholds)
    last, peak = (points[-1][1] if points else 0), max((v for _, v in points), default=0)
    label = f"Dead tasks in {queue} over the last {hours} hours: latest {last}, peak {peak}" + "".join(
        f"; {name}" for name, _, _ in thresholds)
    return {"chart": drawn, "label": label, "hours": hours, "count": len(points), "policy": policy,
            "first_at": points[0][0] if points else None, "last_at": points[-1][0] if points else None,
            "last": last, "max": peak}


SPARK_POINTS = 48


def sparklines(queue_names, hours=24):
    """{queue: (svg points, latest, peak)} of the DLQ size of each queue over the last `hours`:
    the last sample of each of SPARK_POINTS time buckets. One index probe per queue and bucket
    (a LATERAL join on (queue_key, at)), so the cost does not grow with the check interval or
    the retention: 100 queues sampled every 15 s is 576,000 rows a day, 4,800 probes here."""
    names = _by_key(queue_names)
    if not names:
        return {}
    end = clock.now()
    start = end - timedelta(hours=hours)
    bucket = timedelta(hours=hours) / SPARK_POINTS
    with server_cursor() as cur:  # planned once per connection (core/prepared.py)
        cur.execute(
            "SELECT q.k, s.archived FROM unnest(%s::text[]) AS q(k) CROSS JOIN generate_series(0, %s) AS b(i)"
            " CROSS JOIN LATERAL (SELECT archived FROM alerts_queuesample WHERE queue_key = q.k"
            "  AND at > %s + b.i * %s AND at <= %s + (b.i + 1) * %s ORDER BY at DESC LIMIT 1) s"
            " ORDER BY q.k, b.i",
            [list(names), SPARK_POINTS - 1, start, bucket, start, bucket])
        rows = cur.fetchall()
    series = {}
    for key, archived in rows:
        series.setdefault(names[key], []).append(archived)
    return {q: (charts.sparkline(v), v[-1], max(v)) for q, v in series.items()}


def daily_history(queue_names, days=7):
    """asynq's daily processed / failed counters summed over `queue_names` (oldest day first);
    a damaged or vanished queue is left out (and named), never the chart."""
    per_day = {}
    found = inspector().histories(queue_names, days)
    skipped = [name for name in queue_names if name not in found]
    for stats in found.values():
        for d in stats:
            p, f = per_day.get(d.date, (0, 0))
            per_day[d.date] = (p + d.processed, f + d.failed)
    dates = sorted(per_day)
    if not dates:
        return {"chart": None, "days": days, "skipped": skipped, "processed": 0, "failed": 0}

    def at(d):
        return datetime.combine(d, time(12), tzinfo=UTC)  # a day's counters drawn at its noon

    start = datetime.combine(dates[0], time(0), tzinfo=UTC)
    end = datetime.combine(dates[-1], time(0), tzinfo=UTC) + timedelta(days=1)
    # Two charts, each on its own scale: failures are often a hundredth of the processed
    # count, and on one scale their line lies flat on the axis.
    drawn = charts.time_chart([("processed", "processed", [(at(d), per_day[d][0]) for d in dates])],
                              start=start, end=end, width=480)
    drawn_failed = charts.time_chart([("failed", "failed", [(at(d), per_day[d][1]) for d in dates])],
                                     start=start, end=end, width=480)
    processed, failed = sum(p for p, _ in per_day.values()), sum(f for _, f in per_day.values())
    return {"chart": drawn, "failed_chart": drawn_failed, "days": days, "skipped": skipped,
            "processed": processed, "failed": failed,
            "label": f"Tasks processed per day over the last {days} days: {processed} in all",
            "failed_label": f"Tasks failed per day over the last {days} days: {failed} in all"}
