"""Fixtures for the pure-library tests: a real Redis DB of our own, no Django.

The DB comes from DLQADMIN_TEST_REDIS_URL (default redis://127.0.0.1:6379/15)
and is FLUSHDB'ed before and after every test that uses it; no other DB is
touched.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from pathlib import Path

import pytest

from dlqadmin.asynq import Inspector, connect, keys, messages
from tests.conftest import BACKENDS  # noqa: F401 - re-exported for the modules here
from tests.support.redis_snapshot import restore

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "asynq-golden"
MIXED = GOLDEN / "mixed"
TEST_REDIS_URL = os.environ.get("DLQADMIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def parse_go_time(text: str | None) -> dt.datetime | None:
    """RFC 3339 with up to nanoseconds (Go) -> aware datetime, truncated to µs."""
    if text is None:
        return None
    assert text.endswith("Z"), text
    base, _, frac = text[:-1].partition(".")
    value = dt.datetime.fromisoformat(base).replace(tzinfo=dt.timezone.utc)
    if frac:
        value += dt.timedelta(microseconds=int(frac[:6].ljust(6, "0")))
    return value


def b64_or_none(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


@pytest.fixture(autouse=True)
def _fast_password_hashing():
    """The root conftest's autouse fixture of this name needs Django's
    ``settings``; these tests use no Django, so this directory overrides it
    with a no-op and the suite also runs with ``-p no:django``."""


@pytest.fixture(scope="session")
def snapshot() -> list[dict]:
    with open(MIXED / "snapshot.json", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="session")
def golden_inspector() -> dict:
    with open(MIXED / "inspector.json", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="session")
def generated_at(golden_inspector) -> dt.datetime:
    """The moment asynq's Inspector read the golden state."""
    return parse_go_time(golden_inspector["generated_at"])


# A module whose tests hold for every Redis setup says ``REDIS_BACKENDS = BACKENDS``:
# each of its tests that uses Redis then runs on one Redis and on a real Cluster
# (3 masters + 3 replicas). The ``redis_backend`` fixture is the root conftest's. A test
# that parametrizes ``redis_backend`` itself (say, fewer variants on the cluster, to keep
# the suite short) is left as it says.


def _parametrizes(metafunc, name: str) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if name in names:
            return True
    return False


def pytest_generate_tests(metafunc):
    backends = getattr(metafunc.module, "REDIS_BACKENDS", None)
    if backends and "redis_backend" in metafunc.fixturenames and not _parametrizes(metafunc, "redis_backend"):
        metafunc.parametrize("redis_backend", backends, indirect=True)


def pytest_collection_modifyitems(config, items):
    # test_operations also runs the single-Redis code path ("single": scripts that
    # test asynq:queues themselves) on one Redis; on a cluster only the cluster path
    # exists, so that combination is not collected.
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("redis_backend") == "cluster" and params.get("ops") == "single":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def r(request, redis_backend):
    """Client on the test DB (or the test cluster), emptied before and after the test."""
    if redis_backend == "cluster":
        url = request.getfixturevalue("redis_cluster").url
    else:
        url = TEST_REDIS_URL
    client = connect(url)
    try:
        client.ping()
    except Exception as exc:  # a missing Redis must fail loudly, not skip
        pytest.fail(f"test Redis not reachable at {url}: {exc}")
    client.flushdb()  # in a cluster: on every master
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def golden_db(r, snapshot):
    """The golden mixed state restored (without TTLs, so heartbeats stay put)."""
    restore(r, snapshot, with_ttl=False)
    return r


@pytest.fixture
def at_generation(golden_db, generated_at):
    """Inspector whose clock stands where asynq's did when it read the state."""
    return Inspector(golden_db, now=lambda: generated_at)


class Seeder:
    """Writes tasks in asynq's exact layout (see the golden README's "Layout
    facts"), with messages encoded by our codec."""

    def __init__(self, client):
        self.r = client

    def queue(self, queue: str) -> None:
        self.r.sadd(keys.ALL_QUEUES, keys.encode_name(queue))

    @staticmethod
    def message(queue: str, task_id: str, **fields) -> messages.TaskMessage:
        fields.setdefault("type", "test:task")
        fields.setdefault("payload", b'{"n":1}')
        fields.setdefault("retry", 25)
        fields.setdefault("timeout", 1800)
        return messages.TaskMessage(id=task_id, queue=queue, **fields)

    def _hash(self, pipe, queue: str, msg: messages.TaskMessage, state: str, **extra) -> None:
        mapping = {b"msg": messages.encode(msg), b"state": state.encode()}
        mapping.update({k.encode(): v for k, v in extra.items()})
        pipe.hset(keys.task(queue, msg.id), mapping=mapping)

    def add(self, queue: str, state: str, msg: messages.TaskMessage, *, score: int = 0,
            group: str | None = None, result: bytes | None = None,
            pending_since_ns: int | None = None, pipe=None) -> None:
        """One task in ``state``; ``score`` is the zset score (or the lease
        expiry for an active task)."""
        own = pipe is None
        pipe = pipe if pipe is not None else self.r.pipeline(transaction=False)
        pipe.sadd(keys.ALL_QUEUES, keys.encode_name(queue))
        task_id = keys.encode_name(msg.id)
        if state == "pending":
            ns = pending_since_ns if pending_since_ns is not None else 1_795_367_483_000_000_000
            self._hash(pipe, queue, msg, state, pending_since=str(ns).encode())
            pipe.lpush(keys.pending(queue), task_id)
        elif state == "active":
            self._hash(pipe, queue, msg, state)
            pipe.lpush(keys.active(queue), task_id)
            pipe.zadd(keys.lease(queue), {task_id: score})
        elif state == "aggregating":
            assert group
            self._hash(pipe, queue, msg, state, group=keys.encode_name(group))
            pipe.zadd(keys.group(queue, group), {task_id: score})
            pipe.sadd(keys.groups(queue), keys.encode_name(group))
        else:
            extra = {"result": result} if result is not None else {}
            self._hash(pipe, queue, msg, state, **extra)
            pipe.zadd(keys.state_key(queue, state), {task_id: score})
        if own:
            pipe.execute()


@pytest.fixture
def seed(r) -> Seeder:
    return Seeder(r)
