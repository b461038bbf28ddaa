"""Prometheus ``/metrics``: asynq's own exporter metrics plus dlqadmin's.

The asynq part mirrors asynq's ``x/metrics`` QueueMetricsCollector name for name and
label for label (``asynq_tasks_enqueued_total{queue,state}``, ``asynq_queue_size``,
``asynq_queue_latency_seconds``, ``asynq_queue_memory_usage_approx_bytes``,
``asynq_tasks_processed_total``, ``asynq_tasks_failed_total``,
``asynq_queue_paused_total``), so dashboards and alerts written for asynq's exporter
work unchanged. It is read from Redis at scrape time (one pipelined round trip per
queue). Ours come from Postgres, cached for a few seconds so frequent scrapes stay cheap:

- ``dlqadmin_alerts_firing{severity}``: alert states now warning / critical;
- ``dlqadmin_notifications_total{state}``: outbox messages by state (sent, failed, ...);
- ``dlqadmin_actions_total{action,outcome}``: audit-log entries by action and outcome;
- ``dlqadmin_redis_up``: 1 when asynq's Redis answered this scrape;
- ``dlqadmin_queues_damaged``: queues left out of the asynq series because one of their
  keys has the wrong Redis type.
- ``dlqadmin_vault_captured_total{queue}`` / ``dlqadmin_vault_lost_total{queue}``: deaths the
  vault captured / that asynq trimmed before capture; ``dlqadmin_vault_lag_seconds{queue}``:
  how far the capture is behind (0 when caught up); ``dlqadmin_vault_rows{queue,status}``.

Access: a ``Authorization: Bearer <DLQADMIN_METRICS_TOKEN>`` header, or a client address
inside ``DLQADMIN_METRICS_ALLOWED_NETWORKS`` (loopback by default). Anything else gets
404, as if the page did not exist. Queue names are labels: anyone allowed to scrape
sees every queue's name and counts (never task data).
"""

import hmac
import ipaddress
import logging
import threading
import time

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from dlqadmin.access.checks import public_view
from dlqadmin.core import names
from dlqadmin.core.asynq_client import inspector
from dlqadmin.core.client_ip import client_ip

log = logging.getLogger(__name__)

# asynq's exporter reports these six states (not "aggregating").
ASYNQ_STATES = ("active", "pending", "scheduled", "retry", "archived", "completed")


class AsynqCollector:
    def collect(self):
        enqueued = GaugeMetricFamily("asynq_tasks_enqueued_total",
                                     "Number of tasks enqueued; broken down by queue and state.",
                                     labels=["queue", "state"])
        # The contract: asynq_queue_size{queue,state}, one series per state (asynq's
        # own exporter has no state label there; summing over state gives its number).
        size = GaugeMetricFamily("asynq_queue_size", "Number of tasks in a queue, by state",
                                 labels=["queue", "state"])
        latency = GaugeMetricFamily("asynq_queue_latency_seconds",
                                    "Number of seconds the oldest pending task is waiting in pending state "
                                    "to be processed.", labels=["queue"])
        memory = GaugeMetricFamily("asynq_queue_memory_usage_approx_bytes",
                                   "Number of memory used by a given queue (approximated number by sampling).",
                                   labels=["queue"])
        processed = CounterMetricFamily("asynq_tasks_processed",
                                        "Number of tasks processed (both succeeded and failed); broken down by queue",
                                        labels=["queue"])
        failed = CounterMetricFamily("asynq_tasks_failed", "Number of tasks failed; broken down by queue",
                                     labels=["queue"])
        paused = GaugeMetricFamily("asynq_queue_paused_total", "Number of queues paused", labels=["queue"])
        up = GaugeMetricFamily("dlqadmin_redis_up", "1 if asynq's Redis answered this scrape, else 0")
        damaged = GaugeMetricFamily("dlqadmin_queues_damaged",
                                    "Queues left out of the asynq series because a key has the wrong Redis type")
        try:
            infos = inspector().all_queue_info(memory_usage=True)
        except Exception as exc:  # noqa: BLE001 - a scrape reports "down", never a 500
            log.warning("metrics: asynq redis unreachable: %s", type(exc).__name__)
            infos = None
        broken = 0
        for info in infos or ():
            if info.damaged:  # one bad queue costs its own series, never the scrape
                broken += 1
                continue
            q = names.display(info.queue)  # a label holds text: NUL / non-UTF-8 bytes escaped
            for state in ASYNQ_STATES:
                enqueued.add_metric([q, state], getattr(info, state))
            for state in (*ASYNQ_STATES, "aggregating"):
                size.add_metric([q, state], getattr(info, state))
            latency.add_metric([q], info.latency_seconds)
            memory.add_metric([q], max(info.memory_usage, 0))
            processed.add_metric([q], info.processed_total)
            failed.add_metric([q], info.failed_total)
            paused.add_metric([q], 1 if info.paused else 0)
        up.add_metric([], 0 if infos is None else 1)
        damaged.add_metric([], broken)
        yield from (enqueued, size, latency, memory, processed, failed, paused, up, damaged)


class DlqadminCollector:
    """Our own figures from Postgres: three small GROUP BY queries, cached briefly."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cached = None
        self._at = 0.0

    def _read(self):
        from dlqadmin.alerts.models import CRITICAL, WARNING, AlertState, OutboxMessage
        from dlqadmin.audit.models import AuditEvent

        firing = {WARNING: 0, CRITICAL: 0}
        for row in AlertState.objects.filter(status__in=firing).values("status").annotate(n=Count("pk")):
            firing[row["status"]] = row["n"]
        outbox = {state: 0 for state, _ in OutboxMessage.STATES}
        for row in OutboxMessage.objects.values("state").annotate(n=Count("pk")):
            outbox[row["state"]] = row["n"]
        actions = [(r["action"], r["outcome"], r["n"]) for r in
                   AuditEvent.objects.order_by().values("action", "outcome").annotate(n=Count("pk"))]
        return firing, outbox, actions, self._read_vault()

    @staticmethod
    def _read_vault():
        from dlqadmin.vault.models import VaultCursor, VaultEntry

        cursors = list(VaultCursor.objects.values_list("queue", "captured_total", "lost_total", "lag_seconds"))
        rows = [(r["queue"], r["status"], r["n"]) for r in
                VaultEntry.objects.order_by().values("queue", "status").annotate(n=Count("pk"))]
        return cursors, rows

    def _data(self):
        ttl = settings.DLQADMIN_METRICS_CACHE_SECONDS
        with self._lock:
            if self._cached is None or time.monotonic() - self._at >= ttl:
                self._cached = self._read()
                self._at = time.monotonic()
            return self._cached

    def clear(self):
        with self._lock:
            self._cached = None

    def collect(self):
        firing, outbox, actions, (cursors, rows) = self._data()
        alerts = GaugeMetricFamily("dlqadmin_alerts_firing", "Alerts currently firing, by severity",
                                   labels=["severity"])
        for severity, n in sorted(firing.items()):
            alerts.add_metric([severity], n)
        notes = CounterMetricFamily("dlqadmin_notifications", "Notifications in the outbox, by delivery state",
                                    labels=["state"])
        for state, n in sorted(outbox.items()):
            notes.add_metric([state], n)
        acts = CounterMetricFamily("dlqadmin_actions", "Audit-log entries, by action and outcome",
                                   labels=["action", "outcome"])
        for action, outcome, n in sorted(actions):
            acts.add_metric([action, outcome], n)
        captured = CounterMetricFamily("dlqadmin_vault_captured", "Dead tasks captured into the vault",
                                       labels=["queue"])
        lost = CounterMetricFamily("dlqadmin_vault_lost", "Dead tasks asynq trimmed before the vault captured them",
                                   labels=["queue"])
        lag = GaugeMetricFamily("dlqadmin_vault_lag_seconds", "How far the vault's capture is behind",
                                labels=["queue"])
        for q, c, n, s in sorted(cursors):
            captured.add_metric([q], c)
            lost.add_metric([q], n)
            lag.add_metric([q], s)
        by_status = GaugeMetricFamily("dlqadmin_vault_rows", "Vaulted deaths, by queue and status",
                                      labels=["queue", "status"])
        for q, status, n in sorted(rows):
            by_status.add_metric([q, status], n)
        yield from (alerts, notes, acts, captured, lost, lag, by_status)


DLQADMIN_COLLECTOR = DlqadminCollector()
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(AsynqCollector())
REGISTRY.register(DLQADMIN_COLLECTOR)


def _allowed(request) -> bool:
    token = settings.DLQADMIN_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(
            header[len("Bearer "):].strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request) or "")
    except ValueError:
        return False
    for network in settings.DLQADMIN_METRICS_ALLOWED_NETWORKS:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            log.warning("metrics: ignoring invalid network %r", network)
    return False


@public_view  # guarded by a token / network instead of a sign-in (Prometheus has no session)
@never_cache
@require_GET
def metrics(request):
    if not _allowed(request):
        raise Http404()
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
