from datetime import timedelta
from types import SimpleNamespace

import pytest

from tests.support.fake_slack import fake_slack  # noqa: F401 - fixture


def info(queue, archived=0, pending=0, latency=0.0, **counts):
    base = dict(active=0, scheduled=0, retry=0, completed=0)
    base.update(counts)
    return SimpleNamespace(queue=queue, archived=archived, pending=pending,
                           latency=timedelta(seconds=latency), **base)


@pytest.fixture
def slack(db, fake_slack):
    """The default policy notifying a Slack channel on the fake server (warning 5, critical 50)."""
    from dlqadmin.policies.services import save_channel, save_policy

    save_channel(name="ops", kind="slack", target=fake_slack.url())
    save_policy({"name": "default", "pattern": "*", "dlq_warning": 5, "dlq_critical": 50,
                 "growth_threshold": None, "channels": ["ops"], "repeat_interval_minutes": 60})
    return fake_slack
