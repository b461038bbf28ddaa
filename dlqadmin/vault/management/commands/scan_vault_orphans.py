"""python manage.py scan_vault_orphans: find task hashes marked archived that are in no
archived set (asynq #847), per queue; optionally capture them into the vault or delete
them. SCAN with a bounded COUNT, paced, resumable (a scan interrupted is continued by
the next run)."""

import time

from django.core.management.base import BaseCommand

from dlqadmin.asynq import keys
from dlqadmin.audit import record
from dlqadmin.vault import orphans
from dlqadmin.vault.capture import vault_client


class Command(BaseCommand):
    help = "Count orphaned archived task hashes per queue (asynq #847); --capture / --delete act on them."

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="append", default=None, help="only this queue (repeatable)")
        parser.add_argument("--pace", type=float, default=orphans.PACE_SECONDS,
                            help="seconds to sleep between SCAN steps")
        act = parser.add_mutually_exclusive_group()
        act.add_argument("--capture", action="store_true", help="capture the orphans into the vault")
        act.add_argument("--delete", action="store_true", help="delete the orphans (re-checked one by one)")

    def handle(self, *args, queue, pace, capture, delete, **options):
        vc = vault_client()
        names = queue or sorted(keys.decode_name(n) for n in vc.client.smembers(keys.ALL_QUEUES))
        for name in names:
            if capture or delete:
                what = "capture" if capture else "delete"
                intent = record(f"vault.orphans_{what}", queue=name, outcome="intent")
                handled, cursor = 0, 0
                while True:
                    cursor, _, found = vc.orphan_step(name, cursor, delete=delete)
                    handled += orphans.capture(name, found, vc=vc) if capture else len(found)
                    if cursor == 0:
                        break
                    time.sleep(pace)
                record(f"vault.orphans_{what}", queue=name, message=f"{handled} orphans {what}d",
                       detail={"intent": intent.seq, "count": handled})
                self.stdout.write(f"{name}: {handled} orphans {'captured into the vault' if capture else 'deleted'}")
            else:
                row = orphans.scan(name, vc=vc, pace=pace)
                self.stdout.write(f"{name}: {row.orphans} orphans in {row.scanned} task keys")
