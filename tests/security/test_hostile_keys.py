"""One bad key in asynq's Redis never breaks a page, the API, /metrics or a check round.

The corpus (tests/support/hostile.py) is written straight into Redis: queue names with a
NUL byte, invalid UTF-8, 600 characters and 10 KB; keys of the wrong Redis type; a msg
that is not protobuf. Every page and route answers without a 5xx, the ordinary queues
are shown and counted as before, a damaged queue is marked damaged and skipped, and a
check round still alerts for every queue it can read.
"""

from html import unescape
from urllib.parse import urljoin

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from dlqadmin.asynq import keys
from dlqadmin.core import names as qnames
from tests.conftest import make_user, sign_in
from tests.support import hostile
from tests.support.fake_slack import fake_slack  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

READABLE = [c for c in hostile.ALL if not c.damaged]
DAMAGED = [c for c in hostile.ALL if c.damaged]
# gunicorn refuses request lines over 4094 bytes (414): every generated URL must fit.
MAX_REQUEST_LINE = 4094


@pytest.fixture
def corpus(asynq_redis):
    return hostile.write_corpus(asynq_redis)


@pytest.fixture
def admin_client(client, roles):
    return sign_in(client, make_user("root", ("admin",)))


def ok(response):
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return response


def shown(name):
    """What a page shows for a name (the escaped display form)."""
    return qnames.display(name)


def test_overview_lists_every_queue_and_marks_the_damaged(staff_client, corpus):
    html = unescape(ok(staff_client.get("/")).content.decode())
    for case in hostile.ALL:
        assert f'data-queue="{shown(case.name)}"' in html, case.label
    for case in DAMAGED:
        assert f'data-queue="{shown(case.name)}" data-damaged' in html, case.label
    assert f"{len(DAMAGED)} damaged" in html
    # Dead tasks of the readable queues are counted; the broken-msg queue holds 3.
    assert f"{len(READABLE) * hostile.DEAD_PER_QUEUE + 3} dead tasks" in html
    htmx = staff_client.get("/", headers={"HX-Request": "true"})
    assert htmx.status_code == 200


def test_every_queue_page_opens_through_a_url_that_fits(staff_client, corpus):
    for case in hostile.ALL + [hostile.BROKEN_MSG_QUEUE]:
        url = reverse("triage:queue", args=[case.name])
        assert len(f"GET {url}?state=archived HTTP/1.1") < MAX_REQUEST_LINE, case.label
        page = staff_client.get(url, {"state": "archived"})
        assert page.status_code == 200, (case.label, page.status_code)
        html = unescape(page.content.decode())
        assert shown(case.name) in html
        if case.damaged:
            assert "damaged" in html
        for state in ("pending", "scheduled", "completed"):
            assert staff_client.get(url, {"state": state}).status_code == 200, (case.label, state)
        readable_tasks = case in hostile.ALL and not case.damaged and case.label != "invalid-utf8"
        if readable_tasks:
            task_url = reverse("triage:task", args=[case.name, "dead-0"])
            assert len(f"GET {task_url} HTTP/1.1") < MAX_REQUEST_LINE, case.label
            task = unescape(ok(staff_client.get(task_url)).content.decode())
            assert shown(case.name) in task


def test_long_names_keep_readable_urls_for_normal_names():
    assert reverse("triage:queue", args=["payments"]) == "/queues/payments/"
    assert reverse("triage:queue", args=["a/b"]) == "/queues/a~2Fb/"
    assert reverse("triage:queue", args=["nul\x00q"]) == "/queues/nul~00q/"
    assert reverse("triage:queue", args=[keys.decode_name(b"bad\xff")]) == "/queues/bad~FF/"


def test_broken_msg_and_odd_task_ids_are_shown_not_fatal(staff_client, corpus):
    name = hostile.BROKEN_MSG_QUEUE.name
    html = unescape(ok(staff_client.get(reverse("triage:queue", args=[name]))).content.decode())
    assert "msg undecodable" in html
    odd_id = keys.decode_name(hostile.ODD_TASK_ID)
    assert shown(odd_id) in html
    ok(staff_client.get(reverse("triage:task", args=[name, odd_id])))
    ok(staff_client.get(reverse("triage:task", args=[name, "not-protobuf"])))
    task = unescape(ok(staff_client.get(reverse("triage:task", args=[name, "odd-type"]))).content.decode())
    assert "<b>bold</b>" not in task.replace("&lt;", "<") or "\\x00" in task


def test_servers_alerts_scheduler_pages(staff_client, corpus):
    for path in ("/scheduler/", "/alerts/", "/alerts/history/"):
        ok(staff_client.get(path))
    nul = hostile.ODD_NAMES[0].name
    servers = ok(staff_client.get("/servers/")).content.decode()
    assert shown(nul) in unescape(servers)
    assert reverse("triage:task", args=[nul, "dead-0"]) in servers


def test_policy_pages_and_preview(admin_client, corpus):
    ok(admin_client.get("/policies/"))
    body = unescape(ok(admin_client.get("/policies/preview/", {
        "name": "all", "pattern": "?*", "enabled": "on", "dlq_warning": "1", "dlq_critical": "2",
        "check_interval_seconds": "60", "repeat_interval_minutes": "60", "growth_window_minutes": "15"})
    ).content.decode())
    for case in READABLE:
        assert f'data-queue="{shown(case.name)}"' in body, case.label
    for case in DAMAGED:
        assert f'data-queue="{shown(case.name)}" data-damaged' in body, case.label


def test_users_page_after_granting_odd_queues(admin_client, corpus, roles):
    make_user("scoped", ("viewer", [c.name for c in hostile.ODD_NAMES]))
    ok(admin_client.get("/access/"))
    ok(admin_client.get("/account/"))


def test_scoped_viewer_sees_only_granted_hostile_queue(client, corpus, roles):
    nul = hostile.ODD_NAMES[0]
    user = make_user("scoped", ("viewer", [nul.name]))
    sign_in(client, user, verified=False)
    html = unescape(ok(client.get("/")).content.decode())
    assert f'data-queue="{shown(nul.name)}"' in html and 'data-queue="payments"' not in html
    ok(client.get(reverse("triage:queue", args=[nul.name])))
    assert client.get(reverse("triage:queue", args=["payments"])).status_code == 404
    listed = ok(client.get("/api/v1/queues")).json()["queues"]
    assert [q["queue"] for q in listed] == [shown(nul.name)]


def test_api_list_and_queue_routes(staff_client, corpus):
    listed = {q["queue"]: q for q in ok(staff_client.get("/api/v1/queues")).json()["queues"]}
    for case in hostile.ALL:
        row = listed[shown(case.name)]
        assert row["damaged"] == case.damaged, case.label
        assert len(row["url"]) < MAX_REQUEST_LINE - 100
        queue = staff_client.get(row["url"])
        assert queue.status_code == 200, (case.label, queue.status_code)
        tasks = staff_client.get(urljoin(row["url"], "tasks"), {"state": "archived"})
        if case.label == "wrongtype archived":
            assert tasks.status_code == 409 and tasks.json()["error"] == "damaged"
        else:
            assert tasks.status_code == 200, (case.label, tasks.status_code, tasks.content[:200])
            assert tasks.json()["total"] == hostile.DEAD_PER_QUEUE, case.label
        if not case.damaged:
            assert row["archived"] == hostile.DEAD_PER_QUEUE


def test_metrics_skip_and_count_damaged_queues(client, corpus, settings):
    settings.DLQADMIN_METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    from dlqadmin.core.metrics import DLQADMIN_COLLECTOR

    DLQADMIN_COLLECTOR.clear()
    response = ok(client.get("/metrics"))
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    for case in READABLE:
        key = ("asynq_tasks_enqueued_total", (("queue", shown(case.name)), ("state", "archived")))
        assert found[key] == hostile.DEAD_PER_QUEUE, case.label
    for case in DAMAGED:
        assert not any(labels and dict(labels).get("queue") == case.name for _, labels in found), case.label
    assert found[("dlqadmin_queues_damaged", ())] == len(DAMAGED)
    assert found[("dlqadmin_redis_up", ())] == 1


@pytest.fixture
def alerting(db, fake_slack):  # noqa: F811 - fixture
    from dlqadmin.policies.services import save_channel, save_policy

    save_channel(name="ops", kind="slack", target=fake_slack.url())
    save_policy({"name": "default", "pattern": "*", "dlq_warning": 5, "dlq_critical": 50,
                 "growth_threshold": 3, "channels": ["ops"], "repeat_interval_minutes": 60})
    return fake_slack


def test_check_round_alerts_for_every_readable_queue(clock, alerting, asynq_redis):
    from dlqadmin.alerts.checks import run_round
    from dlqadmin.alerts.models import AlertState, QueueSample

    hostile.write_corpus(asynq_redis, now=clock().timestamp())
    result = run_round()
    assert result.damaged == len(DAMAGED)
    firing = {s.queue_key for s in AlertState.objects.filter(status="warning", rule="dlq_size")}
    assert firing == {qnames.key(c.name) for c in READABLE}
    texts = " ".join(alerting.texts())
    for case in READABLE:
        assert f"[WARNING] {shown(case.name)[:40]}" in texts, case.label
    assert QueueSample.objects.count() == len(READABLE) + 1  # + broken-msg (3 dead: no alert)
    # A damaged queue keeps its alert state: it is skipped, not resolved.
    clock.advance(minutes=2)
    run_round()
    assert AlertState.objects.filter(status="warning").count() == len(READABLE)
    for link in (b["blocks"] for b in alerting.bodies()):
        for url in str(link).split("'"):
            if "/queues/" in url:
                assert len(url) < MAX_REQUEST_LINE


def test_check_round_survives_damage_appearing_after_an_alert(clock, alerting, asynq_redis):
    """A queue that fires, then gets a WRONGTYPE key: its alert holds, the others go on."""
    from dlqadmin.alerts.checks import run_round
    from dlqadmin.alerts.models import AlertState

    for name in ("a", "b"):
        asynq_redis.sadd(keys.ALL_QUEUES, name)
        for i in range(7):
            hostile.dead_task(asynq_redis, name, f"t{i}", now=clock().timestamp())
    run_round()
    assert AlertState.objects.filter(status="warning").count() == 2
    asynq_redis.delete(keys.archived("a"))
    asynq_redis.set(keys.archived("a"), b"oops")
    asynq_redis.delete(keys.archived("b"))
    clock.advance(minutes=2)
    run_round()
    statuses = dict(AlertState.objects.values_list("queue", "status"))
    assert statuses == {"a": "warning", "b": "resolved"}


@pytest.mark.parametrize("label", ["nul", "invalid-utf8", "600 chars", "10 KB"])
def test_bulk_operation_on_an_odd_queue_runs_and_pages_work(client, roles, corpus, label):
    """An operation row holds the queue's exact bytes: the worker acts on the right keys."""
    from django.core.management import call_command

    from dlqadmin.audit.models import AuditEvent

    case = next(c for c in hostile.ODD_NAMES if c.label == label)
    sign_in(client, make_user("op", ("operator",)))
    url = reverse("api:bulk", args=[case.name])
    assert len(f"POST {url} HTTP/1.1") < MAX_REQUEST_LINE
    started = client.post(url, {"action": "run", "state": "archived"}, content_type="application/json")
    assert started.status_code == 202, started.content[:300]
    op = started.json()
    assert op["queue"] == shown(case.name)
    call_command("run_operations", "--once")
    got = ok(client.get(op["url"])).json()
    stale = case.label == "invalid-utf8"  # its dead ids point at no task hash
    assert (got["status"], got["total"]) == ("done", hostile.DEAD_PER_QUEUE), got
    assert got["done" if not stale else "failed"] == hostile.DEAD_PER_QUEUE
    if not stale:
        assert corpus and client.get(reverse("api:tasks", args=[case.name]), {"state": "pending"}).json()[
            "total"] == hostile.DEAD_PER_QUEUE
    ok(client.get(reverse("operations:detail", args=[op["id"]])))
    assert AuditEvent.objects.filter(action="task.bulk", outcome__in=["success", "failed"]).count() == 1


def test_audit_rows_name_odd_queues_by_display_form_and_key(db):
    from dlqadmin.audit import record

    long_name = "q" * 600
    for name in ("nul\x00queue", keys.decode_name(b"bad\xff"), long_name):
        event = record("queue.pause", queue=name, task_id=name, outcome="intent")
        event.refresh_from_db()
        assert event.queue == shown(name)[:499] + ("…" if len(name) > 500 else "")
        assert event.detail["queue_sha256"] == qnames.key(name) == event.detail["task_id_sha256"]
    plain = record("queue.pause", queue="payments", outcome="intent")
    assert plain.queue == "payments" and "queue_sha256" not in (plain.detail or {})


def test_search_and_failure_reasons_on_every_queue(staff_client, corpus):
    for case in hostile.ALL + [hostile.BROKEN_MSG_QUEUE]:
        failures = staff_client.get(reverse("triage:failures", args=[case.name]), headers={"HX-Request": "true"})
        search = staff_client.get(reverse("triage:search", args=[case.name]), {"error": "smtp"})
        api = staff_client.get(reverse("api:failures", args=[case.name]))
        api_search = staff_client.get(reverse("api:tasks", args=[case.name]), {"error": "smtp"})
        if case.label == "wrongtype archived":
            # The dead-letter key itself is damaged: a clear 409 naming it, never a 500.
            for page in (failures, search):
                assert page.status_code == 409 and "This queue is damaged" in page.content.decode(), case.label
            assert "<html" not in failures.content.decode()  # htmx gets the banner alone
            assert (api.status_code, api.json()["error"]) == (409, "damaged")
            assert (api_search.status_code, api_search.json()["error"]) == (409, "damaged")
        else:
            assert failures.status_code == 200 and search.status_code == 200, case.label
            assert api.status_code == 200 and api_search.status_code == 200, case.label


@pytest.mark.parametrize("where", ["nul queue", "nul task id", "600-char queue"])
def test_reveal_works_for_odd_queue_names_and_task_ids(client, roles, corpus, where):
    queue, task_id = {
        "nul queue": (hostile.ODD_NAMES[0].name, "dead-0"),
        "nul task id": (hostile.BROKEN_MSG_QUEUE.name, keys.decode_name(hostile.ODD_TASK_ID)),
        "600-char queue": (hostile.ODD_NAMES[2].name, "dead-0"),
    }[where]
    sign_in(client, make_user("pv", ("payload_viewer",)))
    url = reverse("triage:task", args=[queue, task_id])
    assert "someone@example.com" not in unescape(ok(client.get(url)).content.decode())
    revealed = client.post(reverse("triage:reveal", args=[queue, task_id]), {"reason": "ticket INC-42 triage"})
    assert revealed.status_code == 302, revealed.content[:300]
    assert "someone@example.com" in unescape(ok(client.get(url)).content.decode())
    api = client.post(reverse("api:reveal", args=[queue, task_id]), {"reason": "ticket INC-42 triage"},
                      content_type="application/json")
    assert api.status_code == 200 and "someone@example.com" in api.content.decode()


def test_batch_on_odd_task_ids_through_the_page_and_the_api(client, roles, corpus, asynq_redis):
    """A NUL in a task id survives the checkbox form, the operation row and its per-id rows."""
    from dlqadmin.operations.models import Operation

    queue = hostile.BROKEN_MSG_QUEUE.name
    odd = keys.decode_name(hostile.ODD_TASK_ID)
    sign_in(client, make_user("op", ("operator",)))
    page = client.get(reverse("triage:queue", args=[queue])).content.decode()
    value = qnames.form_value(odd)
    assert f'name="ids" value="{value}"' in page
    confirm = client.post(reverse("operations:batch", args=[queue]),
                          {"action": "run", "state": "archived", "ids": [value, "gone"]})
    assert confirm.status_code == 200 and f'value="{value}"' in confirm.content.decode()
    done = client.post(reverse("operations:batch", args=[queue]),
                       {"action": "run", "state": "archived", "ids": [value, "gone"], "confirmed": "1"})
    assert done.status_code == 200, done.content[:300]
    assert asynq_redis.hget(keys.task(queue, odd), b"state") == b"pending"
    op = Operation.objects.get()
    assert op.ids == [odd, "gone"] and [i.task_id for i in op.items.all()] == ["gone"]
    ok(client.get(reverse("operations:detail", args=[op.pk])))
    api = client.post(reverse("api:batch", args=[queue]), {"action": "archive", "ids": [odd, "x" * 700]},
                      content_type="application/json")
    assert api.status_code == 200, api.content[:300]
    assert asynq_redis.hget(keys.task(queue, odd), b"state") == b"archived"
    assert Operation.objects.count() == 2 and len(Operation.objects.first().items.get().task_id) == 700


def test_odd_group_names_list_and_link(staff_client, corpus):
    queue = hostile.GOOD[1].name
    url = reverse("triage:queue", args=[queue])
    page = ok(staff_client.get(url, {"state": "aggregating"})).content.decode()
    for i, raw in enumerate(hostile.ODD_GROUPS):
        group = keys.decode_name(raw)
        link = qnames.form_value(group)
        listed = ok(staff_client.get(url, {"state": "aggregating", "group": link})).content.decode()
        assert f'data-task="agg-{i}"' in listed, raw[:20]
        api = ok(staff_client.get(reverse("api:tasks", args=[queue]), {"state": "aggregating", "group": link}))
        assert [t["id"] for t in api.json()["tasks"]] == [f"agg-{i}"]
    assert "grp\\x00nul" in unescape(page)
