"""TLS and least-privilege Redis users, on real servers of their own.

- TLS: a redis-server speaking only TLS, with a certificate made by the fixture
  (openssl) and signed by a test CA; ``rediss://...?ssl_ca_certs=`` verifies it,
  and another CA is refused with a clear error (pages: 503 saying why).
- ACL: the two users the README documents (its ``ACL SETUSER`` lines are run as
  they stand): read-only browses everything and gets "Redis refused: read-only
  credentials" for actions (never a 500); the acting user can act.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlqadmin.asynq import Inspector, Operations, PermissionRefused, RedisUnavailable, connect, keys
from tests.conftest import GOLDEN, make_user, sign_in
from tests.support.redis_snapshot import restore

README = Path(__file__).resolve().parents[2] / "README.md"
Q, ARCHIVED = "payments", "15303193-7c55-5fd5-9213-8771deaccdac"


# --- TLS -------------------------------------------------------------------------------


def tls_url(server, ca):
    return f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={ca}"


def test_tls_with_the_right_ca(redis_tls):
    client = connect(tls_url(redis_tls, redis_tls.ca))
    client.flushdb()
    restore(client, GOLDEN / "mixed" / "snapshot.json", with_ttl=False)
    try:
        assert Q in Inspector(client).queues()
        assert Operations(client).pause_queue(Q).ok
    finally:
        client.flushdb()


def test_tls_with_a_wrong_ca_is_refused_clearly(redis_tls):
    client = connect(tls_url(redis_tls, redis_tls.other_ca))
    with pytest.raises(RedisUnavailable, match="Redis TLS certificate not trusted"):
        Inspector(client).queues()
    # Without ssl_ca_certs the system CAs do not know the test CA either.
    with pytest.raises(RedisUnavailable, match="certificate not trusted"):
        Inspector(connect(f"rediss://127.0.0.1:{redis_tls.port}/0")).queues()


def test_tls_pages_say_why(settings, redis_tls, staff_client):
    settings.ASYNQ_REDIS_URL = tls_url(redis_tls, redis_tls.other_ca)
    r = staff_client.get("/")
    assert r.status_code == 503 and b"Redis unreachable" in r.content
    r = staff_client.get("/api/v1/queues")
    assert r.status_code == 503 and r.json()["error"] == "redis_unavailable"


# --- ACL -------------------------------------------------------------------------------


def documented_acl():
    """The README's two ACL SETUSER lines: {"dlqadmin-ro": [args], "dlqadmin-rw": [args]}."""
    lines = re.findall(r"^ACL SETUSER (\S+) (.+)$", README.read_text(encoding="utf-8"), re.M)
    return {user: args.split() for user, args in lines}


@pytest.fixture
def acl_redis(settings, redis_acl):
    admin = redis_acl.client()
    users = documented_acl()
    assert set(users) == {"dlqadmin-ro", "dlqadmin-rw"}
    for user, args in users.items():
        args = [f">{user}-secret" if a.startswith(">") else a for a in args]
        admin.execute_command("ACL", "SETUSER", user, "reset", *args)
    admin.flushdb()
    restore(admin, GOLDEN / "mixed" / "snapshot.json", with_ttl=False)
    yield admin
    admin.flushdb()
    admin.close()


def url_for(server, user):
    return f"redis://{user}:{user}-secret@127.0.0.1:{server.port}/0"


def test_read_only_user_browses_and_actions_are_refused_clearly(settings, acl_redis, redis_acl, client, roles):
    settings.ASYNQ_REDIS_URL = url_for(redis_acl, "dlqadmin-ro")
    operator = make_user("acl_operator", ("operator", [Q]))
    sign_in(client, operator)
    # Every read works.
    for path in ["/", f"/queues/{Q}/", f"/queues/{Q}/?state=pending", f"/queues/{Q}/tasks/{ARCHIVED}/",
                 f"/queues/{Q}/search?state=archived&type=payment", "/servers/", "/api/v1/queues",
                 f"/api/v1/queues/{Q}/tasks?state=archived"]:
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
    # Actions: a clear refusal, nothing changed, never a 500.
    r = client.post(f"/queues/{Q}/tasks/{ARCHIVED}/run", {"state": "archived"})
    assert r.status_code == 403 and b"Redis refused: read-only credentials" in r.content
    r = client.post(f"/queues/{Q}/pause")
    assert r.status_code == 403 and b"Redis refused: read-only credentials" in r.content
    r = client.post(f"/api/v1/queues/{Q}/tasks/{ARCHIVED}/run", {"state": "archived"},
                    content_type="application/json")
    assert r.status_code == 403 and r.json()["error"] == "redis_read_only"
    assert "Redis refused: read-only credentials" in r.json()["detail"]
    assert acl_redis.hget(keys.task(Q, ARCHIVED), "state") == b"archived"
    assert not acl_redis.exists(keys.paused(Q))
    from dlqadmin.audit.models import AuditEvent

    failed = AuditEvent.objects.filter(action="task.run", outcome="failed")
    assert failed.exists() and "read-only credentials" in failed.last().message


def test_read_only_user_in_the_library(acl_redis, redis_acl):
    ro = connect(url_for(redis_acl, "dlqadmin-ro"))
    assert Q in Inspector(ro).queues()
    with pytest.raises(PermissionRefused, match="Redis refused: read-only credentials"):
        Operations(ro).run_task(Q, ARCHIVED)


def test_acting_user_acts(settings, acl_redis, redis_acl, client, roles):
    settings.ASYNQ_REDIS_URL = url_for(redis_acl, "dlqadmin-rw")
    sign_in(client, make_user("acl_operator", ("operator", [Q])))
    assert client.get(f"/queues/{Q}/").status_code == 200
    r = client.post(f"/api/v1/queues/{Q}/tasks/{ARCHIVED}/run", {"state": "archived"},
                    content_type="application/json")
    assert r.status_code == 200, r.content
    assert client.post(f"/api/v1/queues/{Q}/pause", content_type="application/json").status_code == 200
    assert client.post(f"/api/v1/queues/{Q}/resume", content_type="application/json").status_code == 200
    r = client.post(f"/api/v1/queues/{Q}/bulk", {"action": "delete", "state": "archived"},
                    content_type="application/json")
    assert r.status_code == 202
    from django.core.management import call_command

    call_command("run_operations", "--once")
    assert client.get(r.json()["url"]).json()["status"] == "done"
    assert acl_redis.zcard(keys.archived(Q)) == 0
    rw = Operations(connect(url_for(redis_acl, "dlqadmin-rw")))
    assert rw.cancel_task("no-such-task") == 0  # PUBLISH on asynq:cancel is allowed
    # ... from our cancel script too (Redis checks the commands a script runs).
    active = rw.active_ids(Q, 10)
    assert active and {r.outcome.value for r in rw.cancel_tasks(Q, active).values()} == {"done"}
    ro = Operations(connect(url_for(redis_acl, "dlqadmin-ro")))
    with pytest.raises(PermissionRefused, match="Redis refused: read-only credentials"):
        ro.cancel_tasks(Q, active)
