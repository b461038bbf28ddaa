"""python manage.py run_scheduler: check rounds on a schedule, one leader at a time."""

import logging
import os
import signal
import socket
import sys
from datetime import datetime, timezone

from apscheduler.schedulers.blocking import BlockingScheduler
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from dlqadmin.alerts import checks, outbox
from dlqadmin.alerts.leader import LeaderLock

log = logging.getLogger("dlqadmin.scheduler")


class Command(BaseCommand):
    help = ("Run DLQ checks on a schedule (APScheduler). Any number may run: one is leader "
            "(Postgres advisory lock), the others stand by and take over within seconds.")

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=settings.DLQADMIN_CHECK_TICK_SECONDS,
                            help="seconds between rounds (each policy still honours its check interval)")
        parser.add_argument("--leader-poll", type=float, default=2.0,
                            help="seconds between leader-lock attempts / liveness checks")
        parser.add_argument("--operations-poll", type=float, default=1.0,
                            help="seconds between looks for queued bulk operations")
        parser.add_argument("--vault-poll", type=float, default=settings.DLQADMIN_VAULT_POLL_SECONDS,
                            help="seconds between the leader's vault capture passes")

    def handle(self, *args, interval, leader_poll, operations_poll=1.0, vault_poll=None, **options):
        self.me = f"{socket.gethostname()}:{os.getpid()}"
        self.lock = LeaderLock()
        self.was_leader = False
        self.last_evaluated = {}
        scheduler = BlockingScheduler(timezone=timezone.utc)
        now = datetime.now(timezone.utc)
        scheduler.add_job(self.elect, "interval", seconds=leader_poll, next_run_time=now,
                          max_instances=1, coalesce=True, id="elect")
        scheduler.add_job(self.tick, "interval", seconds=interval, next_run_time=now,
                          max_instances=1, coalesce=True, id="tick")
        # Bulk triage operations (dlqadmin.operations.worker): on every instance, not
        # only the leader; each operation is claimed with a compare-and-set and a lease.
        scheduler.add_job(self.operations, "interval", seconds=operations_poll, next_run_time=now,
                          max_instances=1, coalesce=True, id="operations")
        # The dead-task vault's capture loop (dlqadmin.vault.capture): leader only.
        self.last_retention = None
        scheduler.add_job(self.vault, "interval", seconds=vault_poll or settings.DLQADMIN_VAULT_POLL_SECONDS,
                          next_run_time=now, max_instances=1, coalesce=True, id="vault")

        def stop(signum, frame):
            scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.say(f"scheduler {self.me}: started (round every {interval:g}s)")
        try:
            scheduler.start()
        finally:
            self.lock.release()
            self.say(f"scheduler {self.me}: stopped")

    def say(self, text):
        self.stdout.write(text)
        self.stdout.flush()
        sys.stdout.flush()

    def elect(self):
        leader = self.lock.poll()
        if leader != self.was_leader:
            self.say(f"scheduler {self.me}: {'became leader' if leader else 'standing by (not leader)'}")
            self.was_leader = leader
            if leader:
                self.last_evaluated.clear()

    def tick(self):
        if not self.lock.poll():
            if self.was_leader:
                self.elect()
            return
        if not self.was_leader:
            self.elect()
        close_old_connections()
        try:
            result = checks.run_round(last_evaluated=self.last_evaluated)
            delivered = outbox.deliver()  # retries that came due
            log.info("round: %d queues, %d evaluated, %d changed, %d queued, delivered %s, %.1f ms",
                     result.queues, result.evaluated, result.changed, result.queued,
                     {**result.delivered, **delivered}, result.timings_ms["total"])
        except Exception:  # noqa: BLE001 - one bad round must not stop the scheduler
            log.exception("check round failed")
        finally:
            close_old_connections()

    def operations(self):
        from dlqadmin.operations.worker import run_pending

        close_old_connections()
        try:
            for pk, status in run_pending(f"scheduler:{self.me}", max_seconds=30):
                log.info("operation %s: %s", pk, status)
        except Exception:  # noqa: BLE001 - one bad pass must not stop the scheduler
            log.exception("operations pass failed")
        finally:
            close_old_connections()

    def vault(self):
        import time

        from dlqadmin.vault import capture, services

        if not self.lock.is_leader:
            return
        close_old_connections()
        try:
            result = capture.capture_pass(max_seconds=5.0)
            if result.captured or result.lost:
                log.info("vault: captured %d, lost %d in %.1f ms", result.captured, result.lost,
                         result.seconds * 1000)
            if self.last_retention is None or time.monotonic() - self.last_retention >= 60:
                self.last_retention = time.monotonic()
                services.retention_pass()
        except Exception:  # noqa: BLE001 - one bad pass must not stop the scheduler
            log.exception("vault pass failed")
        finally:
            close_old_connections()
