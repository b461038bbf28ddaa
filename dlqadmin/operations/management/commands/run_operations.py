"""python manage.py run_operations [--once]: carry out queued bulk operations here.

In production the operations job of ``run_scheduler`` does this; this command is for
tests, cron and one-off runs. Safe to run next to the scheduler: operations are
claimed with a compare-and-set and a lease.
"""

import os
import socket
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from dlqadmin.operations.worker import run_pending


class Command(BaseCommand):
    help = "Process queued/running bulk operations (chunked, resumable). --once: until none is left, then exit."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="process what is claimable now, then exit")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls without --once")

    def handle(self, *args, once, poll, **options):
        owner = f"run_operations:{socket.gethostname()}:{os.getpid()}"
        while True:
            handled = run_pending(owner)
            for pk, status in handled:
                self.stdout.write(f"operation {pk}: {status}")
            if once:
                return
            close_old_connections()
            if not handled:
                time.sleep(poll)
