"""Demo history for the charts: what the scheduler's check rounds would have recorded
(alerts.QueueSample, one per queue per round) over the last two days, ending at the
queues' current counts. Only queues with no samples in that window get any, so real
rounds are never mixed with invented ones."""

import random
from datetime import timedelta

from dlqadmin.alerts.models import QueueSample
from dlqadmin.core import clock
from dlqadmin.core import names as qnames

HOURS = 48
STEP = timedelta(minutes=10)


def seed_samples(infos, *, seed=42):
    """QueueSample rows for each readable queue in `infos` (QueueInfo) without recent samples."""
    rng = random.Random(seed)
    now = clock.now()
    since = now - timedelta(hours=HOURS)
    have = set(QueueSample.objects.filter(at__gte=since).values_list("queue_key", flat=True).distinct())
    rows = []
    n = int(timedelta(hours=HOURS) / STEP)
    for info in infos:
        key = qnames.key(info.queue)
        if info.damaged or key in have:
            continue
        # A DLQ that grew in bursts (an incident, a bad deploy) towards today's size.
        archived = [info.archived]
        for _ in range(n - 1):
            drop = rng.choice([0, 0, 0, 1, 2, 5]) if rng.random() < 0.8 else rng.randrange(10, 60)
            archived.append(max(0, archived[-1] - drop))
        archived.reverse()
        for i, dead in enumerate(archived):
            rows.append(QueueSample(
                queue=info.queue, queue_key=key, at=now - (n - 1 - i) * STEP,
                pending=max(0, info.pending + rng.randrange(-5, 6)),
                active=info.active, scheduled=info.scheduled, retry=info.retry, archived=dead,
                completed=info.completed, latency_seconds=info.latency.total_seconds()))
    QueueSample.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
