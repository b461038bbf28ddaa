"""Concurrent writers keep one chain; a failed audit write stops the action (fail closed)."""

import threading

import pytest
from django.db import close_old_connections, connection, transaction

from dlqadmin.audit import AuditWriteError, record
from dlqadmin.audit.models import AuditEvent
from dlqadmin.audit.verify import verify_database
from tests.audit.conftest import TABLE, last, sql
from tests.conftest import PASSWORD, make_user, sign_in

THREADS, PER_THREAD = 8, 25


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_make_one_unbroken_chain():
    start = threading.Barrier(THREADS)
    errors = []

    def writer(n):
        try:
            start.wait()
            for i in range(PER_THREAD):
                if i % 5 == 0:
                    # Some appends inside a longer transaction, holding the chain lock a while.
                    with transaction.atomic():
                        record("concurrency.test", target=f"writer {n}", detail={"i": i})
                        record("concurrency.test", target=f"writer {n}", detail={"i": i, "second": True})
                else:
                    record("concurrency.test", target=f"writer {n}", detail={"i": i})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    close_old_connections()
    assert not errors, errors
    expected = THREADS * (PER_THREAD + PER_THREAD // 5)
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, expected + 1))
    result = verify_database()
    assert result.ok, result.problem
    assert result.count == expected
    # Every writer's events are all there: nothing was lost to a fork.
    for n in range(THREADS):
        assert AuditEvent.objects.filter(target=f"writer {n}").count() == PER_THREAD + PER_THREAD // 5


@pytest.fixture
def refuse_audit(db):
    """refuse_audit(True): the database refuses audit rows from now on (a full disk, a
    revoked privilege...); refuse_audit(False) ends it. DDL is transactional in Postgres,
    so nothing outlives the test's transaction."""
    sql("""CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'audit storage unavailable'; END $$""")

    def switch(on):
        if on:
            sql(f"CREATE TRIGGER test_refuse_audit BEFORE INSERT ON {TABLE} FOR EACH ROW "
                "EXECUTE FUNCTION test_refuse_audit()")
        else:
            sql(f"DROP TRIGGER test_refuse_audit ON {TABLE}")

    return switch


@pytest.mark.django_db
def test_a_grant_does_not_happen_when_its_audit_write_fails(roles, refuse_audit):
    from dlqadmin.access.services import grant, roles_of

    carol = make_user("carol")
    refuse_audit(True)
    with pytest.raises(AuditWriteError):
        grant(carol, "viewer", queues=["payments"])
    with pytest.raises(AuditWriteError):
        grant(carol, "auditor")
    assert roles_of(carol) == {}
    from dlqadmin.access.models import QueueGrant

    assert not QueueGrant.objects.filter(user=carol).exists()
    refuse_audit(False)
    grant(carol, "auditor")
    assert roles_of(carol) == {"auditor": ["*"]}
    assert last("access.grant").detail["user"] == "carol"


@pytest.mark.django_db
def test_the_users_page_fails_closed(client, roles, refuse_audit):
    from dlqadmin.access import registry
    from dlqadmin.access.services import roles_of

    registry.ensure("payments")
    admin = make_user("adm", ("admin",))
    carol = make_user("carol")
    sign_in(client, admin)
    refuse_audit(True)
    client.raise_request_exception = False
    response = client.post("/access/", {"user": "carol", "role": "viewer", "queues": ["payments"]})
    assert response.status_code == 500
    assert roles_of(carol) == {}
    response = client.post("/access/carol/toggle-active/")
    assert response.status_code == 500
    carol.refresh_from_db()
    assert carol.is_active


@pytest.mark.django_db
def test_sign_in_fails_closed(client, staff, refuse_audit):
    refuse_audit(True)
    client.raise_request_exception = False
    response = client.post("/login/", {"username": "staff", "password": PASSWORD})
    assert response.status_code == 500
    refuse_audit(False)
    assert client.get("/account/").status_code == 302  # not signed in


@pytest.mark.django_db
def test_token_creation_fails_closed(db, refuse_audit):
    from django.core.management import call_command

    from dlqadmin.api.models import ApiToken

    make_user("svc")
    refuse_audit(True)
    with pytest.raises(AuditWriteError):
        call_command("create_api_token", "svc")
    assert not ApiToken.objects.exists()
