"""Reads for the alert and policy pages: current alerts, history, charts, preview."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from dlqadmin.core import clock

from dlqadmin.core import names as qnames
from dlqadmin.core.asynq_client import inspector
from dlqadmin.policies import services as policy_services
from dlqadmin.policies.selectors import Resolver, builtin_default, channels_for, matching_queues

from .models import CRITICAL, WARNING, AlertEvent, AlertState, QueueSample
from .rules import LABELS, evaluate

HISTORY_LIMIT = 200


def _by_key(queue_names):
    return {qnames.key(n): n for n in queue_names}


def current_alerts(queue_names):
    """Firing states on `queue_names`; each row's `name` is the queue as asynq holds it (links)."""
    names = _by_key(queue_names)
    rows = AlertState.objects.filter(status__in=[WARNING, CRITICAL], queue_key__in=list(names)).order_by(
        "-status", "queue", "rule")  # "warning" > "critical": critical first
    out = []
    for s in rows:
        s.name = names[s.queue_key]
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
    rows = []
    for q in matched:
        other = next((p for p, match in others.ordered if not p.is_default and match(q)), None)
        from dlqadmin.policies.selectors import specificity

        shadowed = other is not None and specificity(other) < specificity(policy)
        i = infos[q]
        firing = [(LABELS[f.rule], f) for f in evaluate(policy, archived=i.archived, pending=i.pending,
                                                         latency_seconds=i.latency.total_seconds())
                  if f.level != "ok"] if policy.enabled and not i.damaged else []
        rows.append({"queue": q, "archived": i.archived, "pending": i.pending, "damaged": i.problem,
                     "shadowed_by": other.name if shadowed else "", "firing": firing})
    return {"errors": [], "rows": rows, "pattern": data["pattern"]}


def chart(queue, hours=24, width=600, height=160):
    """An inline-SVG-ready series of the DLQ size of `queue` over the last `hours`."""
    since = clock.now() - timedelta(hours=hours)
    points = list(QueueSample.objects.filter(queue_key=qnames.key(queue), at__gte=since).order_by("at")
                  .values_list("at", "archived"))
    if not points:
        return {"points": "", "max": 0, "count": 0, "hours": hours, "width": width, "height": height}
    if len(points) > width:  # at most one point per pixel column
        step = len(points) / width
        points = [points[int(i * step)] for i in range(width)] + [points[-1]]
    top = max(v for _, v in points) or 1
    t0, t1 = since.timestamp(), clock.now().timestamp()
    span = max(t1 - t0, 1)
    coords = " ".join(
        f"{(at.timestamp() - t0) / span * width:.1f},{height - v / top * (height - 10):.1f}" for at, v in points)
    return {"points": coords, "max": top, "last": points[-1][1], "count": len(points), "hours": hours,
            "width": width, "height": height, "first_at": points[0][0], "last_at": points[-1][0]}
