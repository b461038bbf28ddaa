"""Servers and scheduler pages: every queue a server serves (names as the user's grants
allow), entry IDs, and every enqueue event asynq keeps, page by page."""

import datetime as dt
import re
from html import unescape

import pytest

from dlqadmin.asynq import keys, messages
from tests.conftest import GOLDEN, make_user, sign_in
from tests.support.redis_snapshot import restore

pytestmark = pytest.mark.django_db

SERVER_KEY = b"asynq:servers:{vm:32698:5b63887a-72cf-41a8-b638-5c5d59c6d25e}"
PAYMENTS_WORKER = "539c39f1-d33d-5785-88aa-6ac04cc4d969"
CRITICAL_WORKER = "d66cebca-2f29-5027-8114-78b2e159887f"
EVERY_15S = "3a290004-6e89-4313-99ba-fef8ca317798"  # enqueues into "reports"
WEEKLY = "c9d95130-58dd-4861-823c-66b0cf00445e"  # enqueues into "default"


@pytest.fixture
def live(golden):
    """The golden state on the golden clock, heartbeats kept (no TTL), and the server
    also serving a queue that has no keys yet (so it is not in asynq:queues)."""
    restore(golden, GOLDEN / "mixed" / "snapshot.json", with_ttl=False)
    info = messages.decode_server_info(golden.get(SERVER_KEY))
    info.queues["e2e-big"] = 1
    golden.set(SERVER_KEY, messages.encode(info))
    assert not golden.sismember(keys.ALL_QUEUES, "e2e-big")
    return golden


def chips(html):
    return re.findall(r'<span class="chip" data-queue="([^"]*)">[^<]* (\d+)</span>', html)


def page(client, url):
    response = client.get(url)
    return response.status_code, unescape(response.content.decode())


def test_every_queue_a_server_serves_is_listed_by_priority(client, roles, live):
    sign_in(client, make_user("all", ("viewer",)))
    _, html = page(client, "/servers/")
    assert chips(html) == [("critical", "6"), ("payments", "4"), ("default", "3"), ("emails", "2"),
                           ("e2e-big", "1"), ("reports", "1")]
    assert "other queue" not in html
    assert PAYMENTS_WORKER in html and CRITICAL_WORKER in html


def test_a_per_queue_user_sees_their_queues_and_a_count_of_the_rest(client, roles, live):
    sign_in(client, make_user("pay", ("operator", ["payments"])))
    _, html = page(client, "/servers/")
    assert chips(html) == [("payments", "4")]
    assert "and 5 other queues" in html
    for hidden in ("critical", "e2e-big", "emails", "reports", CRITICAL_WORKER):
        assert hidden not in html
    assert PAYMENTS_WORKER in html


def test_a_global_role_reads_every_name_but_no_tasks(client, roles, live):
    sign_in(client, make_user("aud", ("auditor",)))
    _, html = page(client, "/servers/")
    assert [q for q, _ in chips(html)] == ["critical", "payments", "default", "emails", "e2e-big", "reports"]
    assert PAYMENTS_WORKER not in html and CRITICAL_WORKER not in html


def test_stale_heartbeats_empty_both_pages(staff_client, live, clock):
    clock.advance(minutes=5)  # long past every heartbeat's expiry
    assert "No asynq servers are running" in page(staff_client, "/servers/")[1]
    assert "No scheduler is running" in page(staff_client, "/scheduler/")[1]


def test_scheduler_shows_entry_ids_to_copy(staff_client, live):
    _, html = page(staff_client, "/scheduler/")
    for entry_id in (EVERY_15S, WEEKLY, "b9b37d89-027b-40c5-97d4-83549f7207f8"):
        assert f'<code>{entry_id}</code><button type="button" class="copy" data-copy="{entry_id}"' in html
    assert f'href="/scheduler/{EVERY_15S}/"' in html  # it has an enqueue event


def test_scheduler_entries_follow_the_queue_grants(client, roles, live):
    sign_in(client, make_user("rep", ("viewer", ["reports"])))
    _, html = page(client, "/scheduler/")
    assert EVERY_15S in html and WEEKLY not in html
    assert "and 1 entry for other queues" in html
    assert client.get(f"/scheduler/{WEEKLY}/").status_code == 404
    assert client.get(f"/scheduler/{EVERY_15S}/").status_code == 200
    assert client.get("/scheduler/no-such-entry/").status_code == 404


def test_every_enqueue_event_page_by_page(staff_client, live, clock):
    history = keys.scheduler_history(EVERY_15S)
    t0 = clock.now().replace(microsecond=0)
    golden_ids = [e.task_id for e in map(messages.decode_enqueue_event, live.zrange(history, 0, -1))]
    for i in range(119):  # 120 in all with the golden one
        at = t0 + dt.timedelta(seconds=15 * (i + 1))
        live.zadd(history, {messages.encode(messages.SchedulerEnqueueEventMessage(f"ev-{i:03d}", at)):
                            at.timestamp()})
    status, html = page(staff_client, f"/scheduler/{EVERY_15S}/")
    assert status == 200 and "Showing 1–50 of 120" in html
    listed = re.findall(r"<tr><td><code>([^<]+)</code>", html)
    assert listed == [f"ev-{i:03d}" for i in range(118, 68, -1)]  # newest first
    status, html = page(staff_client, f"/scheduler/{EVERY_15S}/?page=3")
    listed = re.findall(r"<tr><td><code>([^<]+)</code>", html)
    assert status == 200 and "Showing 101–120 of 120" in html
    assert listed == [f"ev-{i:03d}" for i in range(18, -1, -1)] + golden_ids
    for bad in ("4", "0", "x", "99999999999999999999"):
        assert staff_client.get(f"/scheduler/{EVERY_15S}/?page={bad}").status_code == 400, bad
