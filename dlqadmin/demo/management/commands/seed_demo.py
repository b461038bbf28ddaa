from django.core.management.base import BaseCommand

from dlqadmin.core import clock
from dlqadmin.core.asynq_client import client, inspector
from dlqadmin.demo.samples import seed_samples
from dlqadmin.demo.workload import has_queues
from dlqadmin.demo.workload import seed as seed_workload


class Command(BaseCommand):
    requires_system_checks = []
    help = ("Write a realistic demo workload into asynq's Redis (ASYNQ_REDIS_URL), in asynq's exact "
            "format: several queues, every task state, thousands of dead tasks with real-looking "
            "errors and payloads full of personal data, plus two days of DLQ-size samples in the "
            "database for the charts. Adds to what is there; never deletes.")

    def add_arguments(self, parser):
        parser.add_argument("--dead", type=int, default=5000, help="dead (archived) tasks in all (default 5000)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument("--if-empty", action="store_true",
                            help="do nothing when the Redis DB already has asynq queues")

    def handle(self, dead, seed, if_empty, **options):
        redis = client()
        if if_empty and has_queues(redis):
            self.stdout.write("asynq queues already present: demo data left as it is.")
            return
        summary = seed_workload(redis, dead=dead, seed=seed, now=clock.timestamp())
        # The check rounds record DLQ sizes from now on; the demo starts with their history.
        samples = seed_samples(inspector().all_queue_info(memory_usage=False), seed=seed)
        for queue in summary.queues:
            counts = ", ".join(f"{state} {n}" for state, n in sorted(summary.counts.get(queue, {}).items()))
            self.stdout.write(f"  {queue}: {counts}")
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {len(summary.queues)} queues with {summary.total('archived')} dead tasks "
            f"and {samples} DLQ-size samples."))

