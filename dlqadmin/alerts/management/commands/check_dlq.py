"""python manage.py check_dlq --once: one check round in the foreground (cron, tests)."""

from django.core.management.base import BaseCommand, CommandError

from dlqadmin.alerts import checks, outbox


class Command(BaseCommand):
    help = "Run one DLQ check round now: sample queues, evaluate policies, send notifications."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run one round and exit (required)")

    def handle(self, *args, once, **options):
        if not once:
            raise CommandError("check_dlq runs a single round: pass --once (run_scheduler runs rounds on a schedule)")
        result = checks.run_round()
        delivered = outbox.deliver()
        sent = {**result.delivered}
        for k, v in delivered.items():
            sent[k] = sent.get(k, 0) + v
        self.stdout.write(
            f"{result.queues} queues, {result.evaluated} evaluated, {result.changed} alert changes, "
            f"{result.queued} notifications queued, delivered {sent or 'none'} "
            f"({result.timings_ms['total']:.1f} ms)")
