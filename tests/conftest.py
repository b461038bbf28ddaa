"""Shared fixtures: real Postgres (pytest-django), a real Redis DB of our own, users."""

import os
from pathlib import Path

import pytest
import redis

from tests.support.redis_snapshot import restore

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = FIXTURES / "asynq-golden"

# Django-side tests use their own Redis DB; the pure-library tests use another.
DJANGO_TEST_REDIS_URL = os.environ.get("DLQADMIN_TEST_DJANGO_REDIS_URL", "redis://127.0.0.1:6379/13")
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def asynq_redis(settings):
    """An empty Redis DB that the app under test reads as asynq's Redis; emptied after."""
    client = redis.Redis.from_url(DJANGO_TEST_REDIS_URL)
    client.flushdb()
    settings.ASYNQ_REDIS_URL = DJANGO_TEST_REDIS_URL
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def golden(asynq_redis):
    """asynq_redis holding the golden mixed state written by the real asynq library."""
    restore(asynq_redis, GOLDEN / "mixed" / "snapshot.json")
    return asynq_redis


@pytest.fixture
def redis_down(settings):
    # A port nothing listens on: every Redis call fails to connect.
    settings.ASYNQ_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staff", "staff@example.org", PASSWORD)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client
