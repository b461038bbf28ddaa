"""A Prepared query answers exactly as its queryset does, reads Postgres on every call
(a change applies at once), and refuses shapes it cannot run."""

import threading
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.models import Q

from dlqadmin.access.backends import permissions_of
from dlqadmin.access.models import Queue
from dlqadmin.access.services import grant, revoke
from dlqadmin.api.models import ApiToken
from dlqadmin.core.prepared import Prepared
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def token_query(key_hash):
    return (ApiToken.objects.select_related("user").annotate(user_perms=permissions_of("user_id"))
            .filter(key_hash=key_hash).order_by()[:1])


def same(a, b):
    """Two model instances with the same field values (and annotations) and related rows."""
    assert type(a) is type(b)
    assert {k: v for k, v in vars(a).items() if k != "_state"} == \
           {k: v for k, v in vars(b).items() if k != "_state"}


def test_token_user_and_permissions_as_the_queryset(roles):
    user = make_user("op", ("operator",), ("auditor",))
    issued, _ = ApiToken.issue(user, name="t")
    prepared = Prepared(token_query, "sample-hash")
    got, want = prepared.first(issued.key_hash), token_query(issued.key_hash).first()
    same(got, want)
    same(got.user, want.user)
    assert sorted(got.user_perms) == sorted(want.user_perms) and got.user_perms
    assert prepared.first("no-such-hash") is None
    assert prepared.all("no-such-hash") == []


def test_every_call_reads_postgres(roles):
    """No answer is kept: a revoked role or a deleted row shows on the next call."""
    user = make_user("op", ("operator",))
    issued, _ = ApiToken.issue(user, name="t")
    prepared = Prepared(token_query, "sample-hash")
    before = set(prepared.first(issued.key_hash).user_perms)
    revoke(user, "operator")
    grant(user, "viewer", all_queues=True)
    after = set(prepared.first(issued.key_hash).user_perms)
    assert after != before and after == set(token_query(issued.key_hash).first().user_perms)
    ApiToken.objects.filter(pk=issued.pk).delete()
    assert prepared.first(issued.key_hash) is None


def test_values_lists_flat_and_tuples(roles):
    Queue.objects.bulk_create([Queue.for_name(n) for n in ("a", "b", "c")])
    flat = Prepared(lambda label: Queue.objects.filter(label__gte=label).order_by("label")
                    .values_list("label", flat=True), "prepared-sample")
    rows = Prepared(lambda label: Queue.objects.filter(label__gte=label).order_by("label")
                    .values_list("label", "key"), "prepared-sample")
    assert flat.all("b") == list(Queue.objects.filter(label__gte="b").order_by("label")
                                 .values_list("label", flat=True)) == ["b", "c"]
    assert rows.all("a") == list(Queue.objects.filter(label__gte="a").order_by("label").values_list("label", "key"))
    assert isinstance(rows.first("c"), tuple)


def test_several_values_a_datetime_and_none(db):
    expiry = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    Session.objects.create(session_key="k1", session_data="x", expire_date=expiry)
    prepared = Prepared(lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now)[:1],
                        "sample-key", datetime(1901, 1, 1, tzinfo=UTC))
    assert prepared.first("k1", datetime(2031, 5, 6, tzinfo=UTC)).expire_date == expiry
    assert prepared.first("k1", expiry) is None  # expired at that moment
    assert prepared.first("k2", datetime(2000, 1, 1, tzinfo=UTC)) is None


def test_a_value_used_twice(db):
    Queue.objects.bulk_create([Queue.for_name(n) for n in ("a", "b")])
    prepared = Prepared(lambda name: Queue.objects.filter(Q(label=name) | Q(raw__isnull=False, label=name)),
                        "prepared-sample")
    assert [q.label for q in prepared.all("b")] == ["b"]
    assert prepared.all("c") == []


def test_no_values(roles):
    prepared = Prepared(lambda: Permission.objects.filter(codename__startswith="view_").order_by("id"))
    assert [p.pk for p in prepared.all()] == \
           list(Permission.objects.filter(codename__startswith="view_").order_by("id").values_list("pk", flat=True))


def test_refuses_what_it_cannot_run(db):
    with pytest.raises(ValueError):  # the sample must be findable
        Prepared(lambda key: Queue.objects.filter(key=key.upper()), "s").all("x")
    with pytest.raises(TypeError):
        Prepared(lambda key: Queue.objects.filter(key=key), "s").all()
    with pytest.raises(TypeError):
        Prepared(lambda key: Queue.objects.filter(key=key).values("key"), "s").all("x")
    with pytest.raises(TypeError):
        Prepared(lambda key: get_user_model().objects.filter(username=key).prefetch_related("groups"),
                 "s").all("x")


@pytest.mark.django_db(transaction=True)
def test_compiled_once_under_threads(roles):
    user = make_user("op", ("viewer",))
    issued, _ = ApiToken.issue(user, name="t")
    prepared = Prepared(token_query, "sample-hash")
    seen, errors = [], []

    def work():
        from django.db import connection

        try:
            for _ in range(5):
                seen.append(prepared.first(issued.key_hash).user_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and seen == [user.pk] * 40
    assert prepared.plan() is prepared.plan()


def _server_sql(sql):
    """The statement as Postgres holds it: psycopg numbers the placeholders."""
    parts = sql.split("%s")
    return "".join(part + (f"${n}" if n < len(parts) else "") for n, part in enumerate(parts, 1))


def _prepared_statements(sql):
    sql = _server_sql(sql)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = %s", [sql])
        return cursor.fetchone()[0]


def test_postgres_plans_the_statement_once_per_connection(roles):
    """The statement is prepared on its first run and reused after (Postgres parses and
    plans it once per connection), with the same answers as the queryset's."""
    user = make_user("op", ("operator",))
    issued, _ = ApiToken.issue(user, name="t")
    prepared = Prepared(token_query, "sample-hash")
    for _ in range(3):
        same(prepared.first(issued.key_hash), token_query(issued.key_hash).first())
    assert _prepared_statements(prepared.plan().sql) == 1


def test_without_preparing_the_answers_are_the_same(roles):
    """DATABASE_PREPARED_STATEMENTS=false (a pooler that cannot keep prepared statements):
    nothing is prepared, and the answers do not change."""
    user = make_user("op", ("operator",))
    issued, _ = ApiToken.issue(user, name="t")
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    connection.connection.prepare_threshold = None  # what settings.py leaves without the variable
    try:
        prepared = Prepared(token_query, "sample-hash")
        for _ in range(3):
            same(prepared.first(issued.key_hash), token_query(issued.key_hash).first())
        assert _prepared_statements(prepared.plan().sql) == 0
    finally:
        connection.connection.prepare_threshold = threshold
