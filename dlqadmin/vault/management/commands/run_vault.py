"""python manage.py run_vault [--once]: the vault's capture loop in the foreground.

The scheduler's leader runs the same passes (run_scheduler); this command is for tests,
cron and catching up by hand. Passes serialise per queue on the cursor row's lock, so
running it next to a scheduler is safe.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from dlqadmin.vault import capture, services


class Command(BaseCommand):
    help = "Capture dead tasks into the vault (one pass with --once, else keep polling)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=settings.DLQADMIN_VAULT_POLL_SECONDS)
        parser.add_argument("--queue", action="append", default=None, help="only this queue (repeatable)")
        parser.add_argument("--max-seconds", type=float, default=5.0, help="time budget of one pass")

    def handle(self, *args, once, interval, queue, max_seconds, **options):
        while True:
            result = capture.capture_pass(max_seconds=max_seconds, queues=queue)
            for q in result.queues:
                self.stdout.write(f"{q.queue}: captured {q.captured}, lost {q.lost}, behind {q.behind}, "
                                  f"statuses {q.status_changes or '{}'}")
            purged = services.retention_pass()
            if purged:
                self.stdout.write(f"retention: purged {purged}")
            if once:
                return
            time.sleep(interval)
