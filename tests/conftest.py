"""Shared fixtures: real Postgres (pytest-django), a real Redis DB of our own, users."""

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from tests.support.redis_snapshot import restore

# Under libfaketime (`make test-dates`) only this process's clock moves: the programs the
# tests start (schedulers, web servers, browsers, extra redis-servers) keep the real one,
# like Postgres and Redis, as servers with clock skew would.
if "faketime" in os.environ.get("LD_PRELOAD", ""):
    os.environ["LD_PRELOAD"] = " ".join(p for p in os.environ["LD_PRELOAD"].replace(":", " ").split()
                                        if "faketime" not in p)

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = FIXTURES / "asynq-golden"

# Django-side tests use their own Redis DB; the pure-library tests use another.
DJANGO_TEST_REDIS_URL = os.environ.get("DLQADMIN_TEST_DJANGO_REDIS_URL", "redis://127.0.0.1:6379/13")
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Production hashing (PBKDF2, ~1M rounds) would dominate the suite's run time.
    # (tests/asynq overrides this with a no-op: those tests run without Django.)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache(request, django_db_blocker):
    # Cached reads (failure groups) must not carry one test's Redis data into the next.
    # The cache is a Postgres table (shared by processes), so only tests with database
    # access have one to empty.
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames):
        from django.core.cache import caches

        request.getfixturevalue("django_db_setup")
        with django_db_blocker.unblock():
            for alias in caches:
                caches[alias].clear()
    yield


# Redis setups a test can run on. A test marked ``@ON_EVERY_REDIS`` (or, in tests/asynq,
# a module saying ``REDIS_BACKENDS = BACKENDS``) runs once on one Redis and once on a real
# Cluster (3 masters + 3 replicas), with the same expectations.
BACKENDS = ["redis", "cluster"]
ON_EVERY_REDIS = pytest.mark.parametrize("redis_backend", BACKENDS, indirect=True)


@pytest.fixture
def redis_backend(request):
    return getattr(request, "param", "redis")


@pytest.fixture
def asynq_redis_url(request, redis_backend):
    """The URL of asynq's Redis for this test: the Django test DB, or the test cluster."""
    if redis_backend == "cluster":
        return request.getfixturevalue("redis_cluster").url
    return DJANGO_TEST_REDIS_URL


@pytest.fixture
def asynq_redis(settings, redis_backend, asynq_redis_url):
    """An empty Redis DB (in a cluster: every master emptied) that the app under test
    reads as asynq's Redis; emptied after."""
    from dlqadmin.asynq import connect

    client = connect(asynq_redis_url) if redis_backend == "cluster" else redis.Redis.from_url(asynq_redis_url)
    client.flushdb()
    settings.ASYNQ_REDIS_URL = asynq_redis_url
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def golden(asynq_redis, golden_clock):
    """asynq_redis holding the golden mixed state written by the real asynq library,
    read on a clock pinned where asynq's stood when it wrote it (today's counters live
    under keys named for that day)."""
    restore(asynq_redis, GOLDEN / "mixed" / "snapshot.json")
    return asynq_redis


@pytest.fixture
def redis_down(settings):
    # A port nothing listens on: every Redis call fails to connect.
    settings.ASYNQ_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def roles(db):
    from dlqadmin.access.services import bootstrap_roles

    bootstrap_roles()


def make_user(username, *grants):
    """A user holding `grants`: (role,) global/all-queues, or (role, [queue, ...])."""
    from django.contrib.auth import get_user_model

    from dlqadmin.access.services import grant

    user = get_user_model().objects.create_user(username, f"{username}@example.org", PASSWORD)
    for role, *queues in grants:
        if queues:
            grant(user, role, queues=queues[0])
        else:
            grant(user, role, all_queues=True)
    return user


def sign_in(client, user, *, verified=True):
    """Sign `client` in as `user`; with `verified`, as if the TOTP code was entered."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    if verified:
        device, _ = TOTPDevice.objects.get_or_create(user=user, defaults={"name": "test", "confirmed": True})
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def staff(roles):
    """A viewer on every queue: the plain reader most dashboard tests need."""
    return make_user("staff", ("viewer",))


@pytest.fixture
def staff_client(client, staff):
    return sign_in(client, staff, verified=False)


@pytest.fixture
def clock():
    """Pin the application's clock (dlqadmin.core.clock) for one test.

    Starts at a fixed moment unrelated to today; `clock.set(dt)` / `clock.advance(...)`
    move it. The asynq reader and operations follow it, so dated keys are read for it.
    """
    import datetime as dt

    from dlqadmin.core import clock as app_clock

    pinned = app_clock.Clock(dt.datetime(2031, 5, 14, 9, 30, tzinfo=dt.UTC))
    with app_clock.frozen(pinned):
        yield pinned


@pytest.fixture
def golden_clock(clock):
    """The application's clock pinned where asynq's stood when it wrote the golden data."""
    import json

    from tests.asynq.conftest import parse_go_time

    with open(GOLDEN / "mixed" / "inspector.json", encoding="utf-8") as fh:
        clock.set(parse_go_time(json.load(fh)["generated_at"]))
    return clock


# --- Real Cluster / Sentinel / TLS / ACL servers, started once per session --------------
# A test that uses one of these setups (or runs with redis_backend "cluster") carries the
# marker of the same name: `-m "redis_cluster or redis_sentinel or redis_tls or redis_acl"`
# selects exactly the tests that need servers of their own.
#
# As soon as collection ends, every setup the selected tests need is started, all at once,
# each in a thread of its own (a setup also starts its own processes at once), while the
# first tests run; a fixture only waits for its setup to be ready. So the setups cost
# about as long as the slowest of them, once per run, and a run that needs none starts
# none. Each has ports of its own (cluster bus ports are port + 10000);
# DLQADMIN_TEST_PORT_BASE (default 7200) moves them all, so two runs can share a machine.
PORT_BASE = int(os.environ.get("DLQADMIN_TEST_PORT_BASE", "7200"))
CLUSTER_PORTS = [PORT_BASE + i for i in range(6)]
SENTINEL_DATA_PORTS = (PORT_BASE + 10, PORT_BASE + 11)
SENTINEL_PORTS = [PORT_BASE + 20, PORT_BASE + 21, PORT_BASE + 22]
TLS_PORT = PORT_BASE + 30
ACL_PORT = PORT_BASE + 31


def _start(name, workdir):
    from tests.support import redis_servers as rs

    if name == "redis_cluster":  # 3 masters + 3 replicas
        return rs.start_cluster(workdir, CLUSTER_PORTS)
    if name == "redis_sentinel":  # 1 master, 1 replica, 3 sentinels (service "mymaster")
        return rs.start_sentinel(workdir, *SENTINEL_DATA_PORTS, SENTINEL_PORTS)
    if name == "redis_tls":  # TLS only, with a certificate signed by a test CA
        return rs.start_tls(workdir, TLS_PORT)
    if name == "redis_acl":  # a plain server where tests add ACL users (default user stays admin)
        return rs.start_plain(workdir, ACL_PORT)
    raise KeyError(name)


REDIS_SETUPS = ("redis_cluster", "redis_sentinel", "redis_tls", "redis_acl")


class _Setups:
    """The session's extra Redis setups: started in parallel, stopped at the end."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=len(REDIS_SETUPS), thread_name_prefix="redis-setup")
        self._futures = {}
        self._dirs = []

    def begin(self, name):
        if name not in self._futures:
            workdir = Path(tempfile.mkdtemp(prefix=f"dlqadmin-{name}-"))
            self._dirs.append(workdir)
            self._futures[name] = self._pool.submit(_start, name, workdir)

    def get(self, name):
        self.begin(name)  # one no selected test was known to need (getfixturevalue)
        return self._futures[name].result()

    def stop_all(self):
        for future in self._futures.values():
            try:
                setup = future.result()  # one still starting is waited for, then stopped
            except BaseException:  # noqa: BLE001 - a failed start cleaned up after itself
                continue
            setup.stop()
        self._futures.clear()
        self._pool.shutdown()
        for d in self._dirs:
            shutil.rmtree(d, ignore_errors=True)


SETUPS = _Setups()


def setups_of(item) -> set[str]:
    """The extra Redis setups a collected test needs."""
    names = set(getattr(item, "fixturenames", ()))
    if getattr(getattr(item, "callspec", None), "params", {}).get("redis_backend") == "cluster":
        names.add("redis_cluster")
    return names.intersection(REDIS_SETUPS)


def pytest_collection_modifyitems(config, items):
    for item in items:
        for name in setups_of(item):
            item.add_marker(name)


def pytest_collection_finish(session):
    # Only what the tests left after -k / -m deselection need.
    if session.config.option.collectonly:
        return
    for name in sorted(set().union(*(setups_of(item) for item in session.items))):
        SETUPS.begin(name)


def pytest_sessionfinish(session):
    SETUPS.stop_all()


@pytest.fixture(scope="session")
def redis_cluster():
    """A real Redis Cluster: 3 masters + 3 replicas (tests.support.redis_servers.Cluster)."""
    return SETUPS.get("redis_cluster")


@pytest.fixture(scope="session")
def redis_sentinel():
    """A real Sentinel setup: 1 master, 1 replica, 3 sentinels (service "mymaster")."""
    return SETUPS.get("redis_sentinel")


@pytest.fixture(scope="session")
def redis_tls():
    """A redis-server that only speaks TLS, with a certificate signed by a test CA."""
    return SETUPS.get("redis_tls")


@pytest.fixture(scope="session")
def redis_acl():
    """A redis-server of our own where tests add ACL users (the default user stays admin)."""
    return SETUPS.get("redis_acl")
