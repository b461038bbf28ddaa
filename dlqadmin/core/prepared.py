"""Querysets compiled to SQL once per process, then only executed.

Django compiles a queryset to SQL on every evaluation. For the lookups that every request
makes, compiling cost more CPU than Postgres took to answer: the API token lookup (with
its user and the user's permissions in one query) took 1.2 ms to compile and 0.1 ms to
run (bench/README.md, `bench_http.py`). `Prepared(build, *samples)` compiles
`build(*samples)` on first use, remembers where each sample value sits among the query's
parameters, and from then on runs that SQL with the caller's values in those places. Rows
become model instances the way the queryset itself makes them: `select_related` objects,
annotations and field converters included.

Postgres, too, parses and plans each of these statements once per connection: they run
as server-side prepared statements (`server_cursor`), where Django's own cursor binds the
values into the SQL text and Postgres plans every execution anew. Planning the token and
the session-user queries (their permission arrays) took 0.4-0.5 ms of Postgres CPU per
call; executing them takes ~0.1 ms. `DATABASE_PREPARED_STATEMENTS=false` (settings) turns
the preparing off for poolers that cannot keep prepared statements (PgBouncer's
transaction mode before 1.21); the statements then run unprepared, with the same answers.

Only the SQL text is kept: every call still reads Postgres, so nothing is ever stale.
The samples must be values of the looked-up field's Python type (and in its range) that
the query holds nowhere else; a sample may be used in several places of the query, and
each gets the value (`Prepared` refuses to compile a sample it cannot find). The values
passed later must be of the same types; `tests/core/test_prepared.py` compares the answers with the
queryset's own.

This reads a compiled query's column layout (`select`, `klass_info`,
`annotation_col_map`) as Django's own ModelIterable does: private API, so a Django
upgrade runs those tests first.
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models.query import (FlatValuesListIterable, ModelIterable, ValuesListIterable, _get_from_db,
                                    get_related_populators)


class _PreparingCursor(ServerBindingCursor):
    """Values sent apart from the SQL, each statement prepared on its first execution on
    the connection (psycopg keeps the connection's prepared statements, evicting the least
    used beyond 100). Preparing needs the connection's `prepare_threshold` set, which
    settings.py does unless DATABASE_PREPARED_STATEMENTS is off."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


@contextmanager
def server_cursor(using="default"):
    """A cursor of Django's (health check, error translation and query logging as with
    `connection.cursor()`) whose statements Postgres prepares once per connection: for
    the same few statements that every request runs (`Prepared`, and raw SQL of that kind)."""
    db = connections[using]
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        raw = _PreparingCursor(db.connection)
    with db._prepare_cursor(raw) as cursor:
        yield cursor


@dataclass(frozen=True)
class _Plan:
    kind: type
    db: str
    sql: str
    params: tuple
    positions: tuple
    compiler: object
    start: int
    end: int
    init_list: list
    from_db: object
    populators: list
    annotations: tuple


class Prepared:
    """A query shape compiled once; `all(*values)` / `first(*values)` run it and answer
    as the queryset would: model instances, or values_list() rows (flat or tuples)."""

    def __init__(self, build, *samples):
        self._build = build
        self._samples = samples
        self._plan = None
        self._lock = threading.Lock()

    def _compile(self):
        queryset = self._build(*self._samples)
        kind = queryset._iterable_class
        if kind not in (ModelIterable, ValuesListIterable, FlatValuesListIterable) or \
                queryset._prefetch_related_lookups or queryset.query.combinator:
            raise TypeError("Prepared runs plain querysets of instances or values_list() rows")
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()  # also lays out compiler.select / klass_info
        positions = []
        for sample in self._samples:
            found = tuple(i for i, param in enumerate(params) if type(param) is type(sample) and param == sample)
            if not found:
                raise ValueError(f"sample {sample!r} is not among the query's parameters")
            positions.append(found)
        if kind is not ModelIterable:
            return _Plan(kind=kind, db=queryset.db, sql=sql, params=tuple(params), positions=tuple(positions),
                         compiler=compiler, start=0, end=0, init_list=[], from_db=None, populators=[],
                         annotations=())
        klass_info, select = compiler.klass_info, compiler.select
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        fetch_mode = queryset._fetch_mode
        return _Plan(
            kind=kind, db=queryset.db, sql=sql, params=tuple(params), positions=tuple(positions), compiler=compiler,
            start=start, end=end, init_list=[f[0].target.attname for f in select[start:end]],
            from_db=_get_from_db(klass_info["model"], fetch_mode),
            populators=get_related_populators(klass_info, select, queryset.db, fetch_mode),
            annotations=tuple((compiler.annotation_col_map or {}).items()),
        )

    def plan(self):
        plan = self._plan
        if plan is None:
            with self._lock:
                plan = self._plan = self._plan or self._compile()
        return plan

    def all(self, *values):
        if len(values) != len(self._samples):
            raise TypeError(f"expected {len(self._samples)} values, got {len(values)}")
        plan = self.plan()
        params = list(plan.params)
        for places, value in zip(plan.positions, values):
            for place in places:
                params[place] = value
        with server_cursor(plan.db) as cursor:
            cursor.execute(plan.sql, params)
            rows = cursor.fetchall()
        if plan.kind is FlatValuesListIterable:
            return [row[0] for row in plan.compiler.results_iter([rows])]
        if plan.kind is ValuesListIterable:
            return list(plan.compiler.results_iter([rows], tuple_expected=True))
        objects = []
        for row in plan.compiler.results_iter([rows]):
            obj = plan.from_db(plan.db, plan.init_list, row[plan.start:plan.end])
            for populator in plan.populators:
                populator.populate(row, obj)
            for name, column in plan.annotations:
                setattr(obj, name, row[column])
            objects.append(obj)
        return objects

    def first(self, *values):
        """The first row or None (build the queryset with `[:1]` so only one is read)."""
        objects = self.all(*values)
        return objects[0] if objects else None
