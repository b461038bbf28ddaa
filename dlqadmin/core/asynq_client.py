"""The one place the Django side gets its asynq Redis client and Inspector.

The client (and its connection pool) is built once per process from
settings.ASYNQ_REDIS_URL and rebuilt when a test overrides that setting.
"""

from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from dlqadmin.asynq import Inspector, Operations, connect
from dlqadmin.core import clock


@lru_cache(maxsize=1)
def _client_for(url):
    return connect(url)


def client():
    return _client_for(settings.ASYNQ_REDIS_URL)


def inspector():
    return Inspector(client(), now=clock.now)


def operations():
    return Operations(client(), now=clock.now)


@receiver(setting_changed)
def _reset_on_override(setting, **kwargs):
    if setting == "ASYNQ_REDIS_URL":
        _client_for.cache_clear()
