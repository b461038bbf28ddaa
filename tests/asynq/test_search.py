"""Search and failure groups against real Redis (DB of
DLQADMIN_TEST_SEARCH_REDIS_URL, default redis://127.0.0.1:6379/10)."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import socket

import pytest


from dlqadmin.asynq import BrokenTask, Inspector, QueueNotFound, RedisUnavailable, TaskInfo, connect, keys
from dlqadmin.asynq.search import (
    FailureGroup,
    SearchProgress,
    TaskFilter,
    failure_groups,
    normalise_error,
    search,
)
from tests.asynq.conftest import BACKENDS
from tests.support.redis_snapshot import restore

# The same tests on one Redis and on a real Redis Cluster.
REDIS_BACKENDS = BACKENDS

UTC = dt.timezone.utc
SEARCH_REDIS_URL = os.environ.get("DLQADMIN_TEST_SEARCH_REDIS_URL", "redis://127.0.0.1:6379/10")
NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())


@pytest.fixture
def r(request, redis_backend):
    """Overrides conftest's client: this module's own DB (or the test cluster), emptied
    before/after."""
    url = request.getfixturevalue("redis_cluster").url if redis_backend == "cluster" else SEARCH_REDIS_URL
    client = connect(url)
    try:
        client.ping()
    except Exception as exc:
        pytest.fail(f"test Redis not reachable at {url}: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def ids(client, queue, state, f=None, **kw):
    out = []
    for p in search(client, queue, state, f, **kw):
        out += [t.id for t in p.matches]
    return out


def all_ids(client, queue, state, **kw):
    page = Inspector(client).list_tasks(queue, state, page_size=1000, **kw)
    return [t.id for t in page.tasks]


# --- normalise_error ------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("dial tcp 10.20.3.17:443: connect: connection refused", "dial tcp <ip>: connect: connection refused"),
        ("upstream returned HTTP 502 Bad Gateway\nresponse body:\n<html>", "upstream returned HTTP <n> Bad Gateway"),
        ("task 1efde6d2-4ebc-5fd2-8529-cf24f2d55d58 failed", "task <uuid> failed"),
        ("object deadbeef01 at 0x7ffe12 gone", "object <hex> at <hex> gone"),
        ("timeout after 1.5s (limit 2m30s, 300ms)", "timeout after <duration> (limit <duration>, <duration>)"),
        ('constraint "orders_pkey" violated', 'constraint "…" violated'),
        ("it's 'x' here", "it's '…' here"),
        ('{"error":{"code":"card_declined","id":"req_8Yq2Lm"}}', '{"error":{"code":"…","id":"…"}}'),
        ("request req_8Yq2Lm9 failed", "request <id> failed"),
        ("dial [2001:db8::1]:443 refused", "dial [<ip>]:<n> refused"),
        ("mail to <bob@example.com> bounced", "mail to <<email>> bounced"),
        ("  \n  many    spaces\there  ", "many spaces here"),
        ("", ""),
        ("адрес недоступен: ошибка 🔒", "адрес недоступен: ошибка 🔒"),
    ],
)
def test_normalise_error(raw, reason):
    assert normalise_error(raw) == reason
    assert normalise_error(reason) == reason  # stable


def test_normalise_error_is_bounded():
    out = normalise_error("x " * 100000 + "\nsecond")
    assert len(out) <= 200 and out.endswith("…")
    assert normalise_error("order 1 failed for user 2") == normalise_error("order 99 failed for user 12345")


# --- TaskFilter ---------------------------------------------------------------------


def test_filter_query_round_trip():
    f = TaskFilter(type="payment:", type_prefix=True, error="Timeout", since=dt.datetime(2026, 1, 1, tzinfo=UTC),
                   until=dt.datetime(2026, 2, 1, 12, 30, tzinfo=UTC), group="g:1", retried_min=1,
                   retried_max=5, payload_field="customer.email", payload_value="a=b@x", reason="")
    q = f.to_query()
    assert q["q"] == "customer.email=a=b@x" and q["type_prefix"] == "1" and q["since"] == "2026-01-01T00:00:00Z"
    assert TaskFilter.from_query(q) == f
    assert TaskFilter.from_query({}) == TaskFilter() and TaskFilter().is_empty
    assert TaskFilter.from_query({"type": "", "error": "  ", "page": "3"}) == TaskFilter()
    # A date 'until' includes the day; naive times are UTC.
    f = TaskFilter.from_query({"since": "2026-11-22", "until": "2026-11-22"})
    assert f.since == dt.datetime(2026, 11, 22, tzinfo=UTC) and f.until == dt.datetime(2026, 11, 23, tzinfo=UTC)
    assert TaskFilter.from_query({"since": "2026-11-22T10:00:00"}).since == dt.datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert TaskFilter.from_query({"type": ["a", "b"]}).type == "b"


@pytest.mark.parametrize(
    "query, message",
    [
        ({"since": "yesterday"}, "since must be"),
        ({"retried_min": "-1"}, "retried_min must be"),
        ({"retried_min": "5", "retried_max": "2"}, "retried_min must not be greater"),
        ({"q": "no equals sign", "id": "another"}, "another task id"),
        ({"q": "=x"}, "field=value"),
        ({"q": "a..b=x"}, "dotted path"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "since must be before until"),
        ({"type_prefix": "maybe", "type": "x"}, "type_prefix"),
    ],
)
def test_filter_validation(query, message):
    with pytest.raises(ValueError, match=message):
        TaskFilter.from_query(query)


def test_filter_constructor_validation():
    with pytest.raises(ValueError):
        TaskFilter(type_prefix=True)
    with pytest.raises(ValueError):
        TaskFilter(error="")
    with pytest.raises(ValueError):
        TaskFilter(payload_field="a")
    with pytest.raises(ValueError):
        TaskFilter(retried_min=True)


# --- golden data ------------------------------------------------------------------------


@pytest.fixture
def golden(r, snapshot):
    restore(r, snapshot, with_ttl=False)
    return r


def test_golden_empty_filter_equals_listing(golden):
    for queue in Inspector(golden).queues():
        for state in ("pending", "active", "scheduled", "retry", "archived", "completed"):
            assert ids(golden, queue, state) == all_ids(golden, queue, state), (queue, state)
            assert ids(golden, queue, state, chunk=1) == all_ids(golden, queue, state)
    assert ids(golden, "emails", "aggregating", group="digest:user-42") == all_ids(
        golden, "emails", "aggregating", group="digest:user-42")


def test_golden_each_filter(golden):
    # error text, case-insensitive, in list order
    assert ids(golden, "default", "archived", TaskFilter(error="bad GATEWAY")) == [
        "1efde6d2-4ebc-5fd2-8529-cf24f2d55d58", "3fee5cd8-e401-546c-859b-67d6135e68c1"]
    assert ids(golden, "reports", "archived", TaskFilter(error="ПОДПИСИ")) == ["f348816c-7a13-5919-9010-ef11221bb209"]
    # type exact and prefix
    assert ids(golden, "payments", "archived", TaskFilter(type="payment:refund")) == [
        "985c92ca-9929-582a-b82c-ca027af7d1be", "f2ca0995-8350-5b3d-8f7a-60c8531117ee"]
    assert len(ids(golden, "payments", "archived", TaskFilter(type="payment:", type_prefix=True))) == 5
    assert ids(golden, "payments", "archived", TaskFilter(type="payment:")) == []
    # group
    assert ids(golden, "default", "archived", TaskFilter(group="batch-legacy")) == ["1efde6d2-4ebc-5fd2-8529-cf24f2d55d58"]
    # retried
    assert ids(golden, "emails", "archived", TaskFilter(retried_min=1)) == ["c15a34f8-526b-5876-b9d3-5fd639400512"]
    assert len(ids(golden, "emails", "archived", TaskFilter(retried_max=0))) == 3
    # time range on last_failed_at (17:11:21..17:11:23 in the golden run)
    t23 = dt.datetime(2026, 11, 22, 17, 11, 23, tzinfo=UTC)
    late = ids(golden, "default", "archived", TaskFilter(since=t23))
    assert late == ["3fee5cd8-e401-546c-859b-67d6135e68c1"]
    early = ids(golden, "default", "archived", TaskFilter(until=t23))
    assert sorted(early + late) == sorted(all_ids(golden, "default", "archived"))
    # scheduled: next_process_at; completed: completed_at
    assert ids(golden, "critical", "scheduled", TaskFilter(since=dt.datetime(2030, 1, 1, tzinfo=UTC))) == [
        t.id for t in Inspector(golden).list_tasks("critical", "scheduled").tasks]
    assert ids(golden, "critical", "scheduled", TaskFilter(until=dt.datetime(2030, 1, 1, tzinfo=UTC))) == []
    assert len(ids(golden, "emails", "completed", TaskFilter(since=dt.datetime(2026, 11, 22, tzinfo=UTC)))) == 1
    assert ids(golden, "emails", "completed", TaskFilter(since=dt.datetime(2026, 11, 23, tzinfo=UTC))) == []
    # payload field (nested, array index, number as JSON text)
    crit = all_ids(golden, "critical", "archived")
    assert crit[1].startswith("d237bde3-")
    assert ids(golden, "critical", "archived", TaskFilter(payload_field="user_id", payload_value="144")) == [crit[1]]
    assert ids(golden, "critical", "archived", TaskFilter(payload_field="sizes.1", payload_value="256")) == all_ids(
        golden, "critical", "archived")[:2]
    # combined
    assert ids(golden, "default", "archived", TaskFilter(type="webhook:deliver", error="502", group="batch-legacy")) == [
        "1efde6d2-4ebc-5fd2-8529-cf24f2d55d58"]
    assert ids(golden, "default", "archived", TaskFilter(type="image:resize", error="refused")) == []


def test_golden_payload_search_by_order_id(golden):
    got = []
    for p in search(golden, "default", "archived", TaskFilter(payload_field="body.order_id", payload_value="ORD-10002")):
        got += p.matches
    assert [json.loads(t.payload)["body"]["order_id"] for t in got] == ["ORD-10002"]
    assert got[0].last_err.startswith('{"error":{"code":"card_declined"')


def test_golden_failure_groups(golden):
    groups = failure_groups(golden, "default")
    assert sum(g.count for g in groups) == 5
    by_key = {(g.type, g.reason): g for g in groups}
    assert ("webhook:deliver", "context deadline exceeded") in by_key  # the timeout task
    bad = by_key[("webhook:deliver", "upstream returned HTTP <n> Bad Gateway")]
    assert bad.example_error.startswith("upstream returned HTTP 502 Bad Gateway\n")
    assert bad.first_seen == bad.last_seen == dt.datetime(2026, 11, 22, 17, 11, 21, tzinfo=UTC)
    emails = {g.reason for g in failure_groups(golden, "emails")}
    assert any(r.startswith("panic error cause by: panic [github.com/hibiken/asynq/peer/lib/engine.go:<n>]") for r in emails)
    payments = {(g.type, g.reason) for g in failure_groups(golden, "payments")}
    assert ("payment:charge", "card declined (decline_code=do_not_honor): skip retry for the task") in payments
    # each group's filter selects exactly its tasks
    for queue in ("default", "emails", "payments", "reports", "critical"):
        for g in failure_groups(golden, queue):
            assert isinstance(g, FailureGroup)
            assert len(ids(golden, queue, "archived", g.filter)) == g.count
            assert TaskFilter.from_query(g.filter.to_query()) == g.filter
    retry = failure_groups(golden, "default", state="retry")
    assert [(g.count, g.reason) for g in retry] == [(1, "upstream returned HTTP <n> Bad Gateway")]


def test_unknown_queue_and_bad_args(golden):
    with pytest.raises(QueueNotFound):
        next(search(golden, "nope", "archived"))
    with pytest.raises(ValueError):
        search(golden, "default", "dead")
    with pytest.raises(ValueError):
        search(golden, "default", "aggregating")
    with pytest.raises(ValueError):
        search(golden, "default", "archived", chunk=0)
    with pytest.raises(ValueError):
        search(golden, "default", "archived", limit=0)


# --- generated data ---------------------------------------------------------------------

N = 3000


@pytest.fixture
def many(seed):
    """N archived tasks with varied types, errors, times, retried and payloads."""
    rng = random.Random(11)
    pipe = seed.r.pipeline(transaction=False)
    tasks = []
    for i in range(N):
        failed_at = NOW_S - 5000 + rng.randrange(2000)  # many ties
        kind = i % 5
        err = [
            f"order {i} failed: upstream 10.0.{i % 256}.1:443 timeout after {i % 9 + 1}s",
            f"Card DECLINED for customer cus_{i:08x}abc",
            "context deadline exceeded",
            f"validation failed: field items[{i % 4}] invalid",
            "RARE ledger mismatch" if i % 500 == 4 else f"plain error {i}",
        ][kind]
        payload = json.dumps({"customer": {"email": f"u{i % 50}@example.com", "id": i},
                              "items": [{"sku": f"SKU-{i % 7}"}], "vip": i % 10 == 0}).encode()
        if i % 97 == 0:
            payload = b"\x00\xff binary"
        msg = seed.message("many", f"t-{i:05d}", type=["pay:charge", "pay:refund", "mail:send"][i % 3],
                           payload=payload, error_msg=err, last_failed_at=failed_at, retry=5,
                           retried=i % 6, group_key="g1" if i % 11 == 0 else "")
        seed.add("many", "archived", msg, score=failed_at, pipe=pipe)
        tasks.append((failed_at, f"t-{i:05d}", msg))
    pipe.execute()
    tasks.sort(key=lambda t: (t[0], t[1].encode()))
    return tasks


def expected(tasks, pred):
    return [tid for _, tid, m in tasks if pred(m)]


# Every chunk size on one Redis; on the cluster one (the others only pace the same script).
@pytest.mark.parametrize(("redis_backend", "chunk"), [*(("redis", c) for c in (1, 7, 500, 5000)), ("cluster", 500)],
                         indirect=["redis_backend"])
def test_generated_filters(r, many, chunk):
    cases = [
        (TaskFilter(error="card declined"), lambda m: "card declined" in m.error_msg.lower()),
        (TaskFilter(type="pay:", type_prefix=True), lambda m: m.type.startswith("pay:")),
        (TaskFilter(type="mail:send", retried_min=2, retried_max=3), lambda m: m.type == "mail:send" and 2 <= m.retried <= 3),
        (TaskFilter(group="g1"), lambda m: m.group_key == "g1"),
        (TaskFilter(since=dt.datetime.fromtimestamp(NOW_S - 4000, UTC), until=dt.datetime.fromtimestamp(NOW_S - 3500, UTC)),
         lambda m: NOW_S - 4000 <= m.last_failed_at < NOW_S - 3500),
        (TaskFilter(payload_field="customer.email", payload_value="u10@example.com", error="TIMEOUT"),
         lambda m: m.payload[:1] == b"{" and json.loads(m.payload)["customer"]["email"] == "u10@example.com"
         and "timeout" in m.error_msg.lower()),
        (TaskFilter(payload_field="vip", payload_value="true"), lambda m: m.payload[:1] == b"{" and json.loads(m.payload)["vip"]),
        (TaskFilter(payload_field="items.0.sku", payload_value="SKU-3"),
         lambda m: m.payload[:1] == b"{" and json.loads(m.payload)["items"][0]["sku"] == "SKU-3"),
        (TaskFilter(reason=normalise_error("order 1 failed: upstream 10.0.1.1:443 timeout after 1s")),
         lambda m: m.error_msg.startswith("order ")),
    ]
    for f, pred in cases:
        want = expected(many, pred)
        assert want, f
        assert ids(r, "many", "archived", f, chunk=chunk) == want, f


def test_rare_error_and_progress(r, many):
    progress = list(search(r, "many", "archived", TaskFilter(error="rare LEDGER"), chunk=500))
    assert all(isinstance(p, SearchProgress) for p in progress)
    assert [p.done for p in progress] == [False] * (len(progress) - 1) + [True]
    assert progress[-1].scanned == progress[-1].total == N
    scanned = [p.scanned for p in progress]
    assert scanned == sorted(scanned)
    want = expected(many, lambda m: m.error_msg == "RARE ledger mismatch")
    assert len(want) == N // 500
    assert [t.id for p in progress for t in p.matches] == want


def test_limit_and_early_stop(r, many):
    want = expected(many, lambda m: "deadline" in m.error_msg)
    got = ids(r, "many", "archived", TaskFilter(error="deadline"), limit=10, chunk=50)
    assert got == want[:10]
    gen = search(r, "many", "archived", TaskFilter(), chunk=100)
    first = next(gen)
    assert len(first.matches) == 100 and not first.done
    gen.close()  # stopping is just closing the generator


def test_tasks_changing_state_between_chunks(r, many):
    order = [tid for _, tid, _ in many]
    gen = search(r, "many", "archived", TaskFilter(), chunk=100)
    seen = [t.id for t in next(gen).matches]
    assert seen == order[:100]
    # Remove already-scanned tasks, the cursor itself, and some ahead.
    gone = set(order[50:100]) | set(order[300:310])
    pipe = r.pipeline()
    for tid in gone:
        pipe.zrem(keys.archived("many"), tid)
        pipe.delete(keys.task("many", tid))
    # A task whose hash vanished but whose id stays: broken, skipped by filters.
    pipe.delete(keys.task("many", order[500]))
    pipe.execute()
    for p in gen:
        seen += [t.id for t in p.matches]
    want = order[:100] + [t for t in order[100:] if t not in gone]
    assert [s for s in seen] == want
    broken = ids(r, "many", "archived", TaskFilter(error="e"))
    assert order[500] not in broken


def test_list_state_shifting_under_the_scan(r, seed):
    pipe = r.pipeline()
    for i in range(300):
        seed.add("l", "pending", seed.message("l", f"p{i:03d}", error_msg=f"e{i}"), pipe=pipe)
    pipe.execute()
    gen = search(r, "l", "pending", TaskFilter(), chunk=50)
    seen = [t.id for t in next(gen).matches]
    assert seen == [f"p{i:03d}" for i in range(50)]
    # Workers take 20 from the tail (the oldest), new tasks arrive at the head.
    for _ in range(20):
        r.rpop(keys.pending("l"))
    r.lpush(keys.pending("l"), "new")
    seed.add("l", "pending", seed.message("l", "new"))
    r.lrem(keys.pending("l"), 1, "new")
    for p in gen:
        seen += [t.id for t in p.matches]
    assert seen == [f"p{i:03d}" for i in range(300)] + ["new"]


def test_failure_groups_ids_and_numbers_collapse(r, seed):
    pipe = r.pipeline()
    for i in range(1200):
        err = (f"payment {i} for customer cus_{i:06x}a9 failed after {i % 5 + 1}.5s: "
               f"gateway 10.1.{i % 200}.7:8443 said \"code {i}\" (request {i:032x})")
        seed.add("fg", "archived", seed.message("fg", f"x{i}", type="pay:charge", error_msg=err,
                                                last_failed_at=NOW_S - i), score=NOW_S - i, pipe=pipe)
    seed.add("fg", "archived", seed.message("fg", "other", type="pay:charge", error_msg="boom",
                                            last_failed_at=NOW_S), score=NOW_S, pipe=pipe)
    pipe.execute()
    r.hset(keys.task("fg", "x5"), "msg", b"\xff\xff garbage")  # broken: left out
    groups = failure_groups(r, "fg", chunk=100)
    assert [(g.type, g.count) for g in groups] == [("pay:charge", 1199), ("pay:charge", 1)]
    top = groups[0]
    assert top.reason == ('payment <n> for customer <id> failed after <duration>: gateway <ip> said "…" '
                          "(request <hex>)")
    assert top.first_seen == dt.datetime.fromtimestamp(NOW_S - 1199, UTC)
    assert top.last_seen == NOW
    assert top.example_error.startswith("payment ")
    assert len(ids(r, "fg", "archived", top.filter)) == 1199
    assert failure_groups(r, "fg", max_groups=1) == groups[:1]


# --- robustness -------------------------------------------------------------------------


@pytest.mark.parametrize("queue", ["with:colon", "sl/ash", "with space", "ünïcødé 队列 🚀", "{braces}"])
def test_odd_queue_names(r, seed, queue):
    for i in range(5):
        seed.add(queue, "archived", seed.message(queue, f"id:{i}/x y", error_msg=f"err {i}", type="t:x"),
                 score=100 + i)
    seed.add(queue + ":", "archived", seed.message(queue + ":", "other", error_msg="err 9"), score=1)
    assert ids(r, queue, "archived", TaskFilter(error="ERR")) == [f"id:{i}/x y" for i in range(5)]
    assert [g.count for g in failure_groups(r, queue)] == [5]


def test_broken_binary_huge_and_non_utf8(r, seed):
    q = "rb"
    seed.add(q, "archived", seed.message(q, "ok", error_msg="needle here", payload=b'{"a":"b"}'), score=1)
    seed.add(q, "archived", seed.message(q, "bin", error_msg="needle bin", payload=bytes(range(256))), score=2)
    big = json.dumps({"a": "b", "blob": "x" * 3_000_000}).encode()
    seed.add(q, "archived", seed.message(q, "huge", error_msg="needle huge", payload=big), score=3)
    seed.add(q, "archived", seed.message(q, "bad", error_msg="needle"), score=4)
    r.hset(keys.task(q, "bad"), "msg", b"\x3a\x05needl\xff\xfe")  # truncated / invalid
    seed.add(q, "archived", seed.message(q, "gone", error_msg="needle"), score=5)
    r.delete(keys.task(q, "gone"))
    # error_msg that is not UTF-8: protobuf refuses it, so the task is broken
    seed.add(q, "archived", seed.message(q, "latin1", error_msg="needle"), score=6)
    msg = r.hget(keys.task(q, "latin1"), "msg").replace(b"needle", b"need\xe9e")
    r.hset(keys.task(q, "latin1"), "msg", msg)
    assert ids(r, q, "archived", TaskFilter(error="needle")) == ["ok", "bin", "huge"]
    assert ids(r, q, "archived", TaskFilter(payload_field="a", payload_value="b")) == ["ok", "huge"]
    everything = []
    for p in search(r, q, "archived", TaskFilter(), chunk=2):
        everything += p.matches
    assert [t.id for t in everything] == ["ok", "bin", "huge", "bad", "gone", "latin1"]
    assert [type(t) for t in everything] == [TaskInfo] * 3 + [BrokenTask] * 3
    assert sum(g.count for g in failure_groups(r, q)) == 3


def test_redis_down():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = connect(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(RedisUnavailable):
        next(search(client, "q", "archived", TaskFilter(error="x")))
    with pytest.raises(RedisUnavailable):
        failure_groups(client, "q")


def test_search_script_is_documented():
    import importlib

    # (the package exports the function ``search``, which hides the module)
    search_module = importlib.import_module("dlqadmin.asynq.search")
    head = search_module._SEARCH_CHUNK.source[:3000]
    assert "KEYS[1]" in head and "ARGV[1]" in head and "Return" in head


# --- resuming with a cursor ------------------------------------------------------------


def _resume_all(client, queue, state, f=None, *, per_call=1, **kw):
    """Run a search as separate searches of ``per_call`` progresses each,
    resumed with the cursor: what a streaming page does across requests."""
    got, cursor, rounds, last = [], None, 0, None
    while True:
        gen = search(client, queue, state, f, resume=cursor, **kw)
        for _ in range(per_call):
            last = next(gen)
            got += [t.id for t in last.matches]
            if last.done:
                break
        gen.close()
        rounds += 1
        if last.done:
            assert last.cursor is None
            return got, rounds, last
        assert last.cursor
        cursor = last.cursor


@pytest.mark.parametrize(("redis_backend", "per_call"), [("redis", 1), ("redis", 3), ("cluster", 3)],
                         indirect=["redis_backend"])
def test_resume_covers_everything_exactly_once(r, many, per_call):
    order = [tid for _, tid, _ in many]
    got, rounds, last = _resume_all(r, "many", "archived", chunk=200, per_call=per_call)
    assert got == order and rounds > 1
    assert last.scanned == last.total == N
    f = TaskFilter(error="card declined")
    got, _, _ = _resume_all(r, "many", "archived", f, chunk=64, per_call=per_call)
    assert got == expected(many, lambda m: "card declined" in m.error_msg.lower())


def test_resume_survives_removed_cursor_and_carries_counts(r, many):
    order = [tid for _, tid, _ in many]
    gen = search(r, "many", "archived", chunk=100)
    first = next(gen)
    gen.close()
    assert first.scanned == 100 and first.total == N and first.cursor
    # The cursor's own task and some before it leave the DLQ meanwhile.
    for tid in order[90:100]:
        r.zrem(keys.archived("many"), tid)
    gen = search(r, "many", "archived", chunk=100, resume=first.cursor)
    second = next(gen)
    gen.close()
    assert [t.id for t in second.matches] == order[100:200]
    assert second.scanned == 200 and second.total == N


def test_resume_list_state(r, seed):
    pipe = r.pipeline()
    for i in range(120):
        seed.add("l", "pending", seed.message("l", f"p{i:03d}"), pipe=pipe)
    pipe.execute()
    got, rounds, _ = _resume_all(r, "l", "pending", chunk=25)
    assert got == [f"p{i:03d}" for i in range(120)] and rounds >= 5


@pytest.mark.parametrize("cursor", ["", "x", "c1.1.2", "c1.a.1.1.AA.AA", "c9.1.1.1.AA.AA",
                                    "c1.1.1.1.AA." + "MTsgcmVkaXM"])
def test_malformed_cursor(r, cursor):
    with pytest.raises(ValueError, match="cursor"):
        search(r, "q", "archived", resume=cursor)


def test_id_filter_from_query_round_trip():
    for query, want in [({"id": " a=b\x00 "}, " a=b\x00 "), ({"q": " task-1 "}, "task-1"), ({"q": "x", "id": "x"}, "x")]:
        f = TaskFilter.from_query(query)
        assert f.id == want and f.payload_field is None
        assert TaskFilter.from_query(f.to_query()) == f
    assert TaskFilter(id="x").admits_broken and not TaskFilter(id="x", type="t").admits_broken
